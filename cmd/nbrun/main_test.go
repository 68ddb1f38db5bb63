package main

import (
	"encoding/json"
	"strings"
	"testing"
)

func parse(t *testing.T, s string) *notebook {
	t.Helper()
	var nb notebook
	if err := json.Unmarshal([]byte(s), &nb); err != nil {
		t.Fatal(err)
	}
	return &nb
}

func TestCheckOutputs(t *testing.T) {
	clean := `{"metadata":{},"cells":[{"cell_type":"code","outputs":[]}]}`
	noPic := `{"metadata":{"msdkit":{"expect_picture":false}},"cells":[{"cell_type":"code","outputs":[]}]}`
	png := `{"output_type":"display_data","data":{"image/png":"iVBOR"}}`
	html := `{"output_type":"display_data","data":{"text/html":["<div>","<img src=\"data:image/png;base64,AA\"/></div>"]}}`
	stderr := `{"output_type":"stream","name":"stderr","text":["panic: boom\n"]}`
	stdout := `{"output_type":"stream","name":"stdout","text":"fine\n"}`
	errOut := `{"output_type":"error","ename":"ERROR","evalue":"undefined: x"}`
	exec := func(outs ...string) string {
		return `{"metadata":{},"cells":[{"cell_type":"code","outputs":[` + strings.Join(outs, ",") + `]}]}`
	}
	tests := []struct {
		name, src, executed string
		wantPictures        int
		wantProblems        []string
	}{
		{"png ok", clean, exec(stdout, png), 1, nil},
		{"html img ok", clean, exec(html), 1, nil},
		{"no picture", clean, exec(stdout), 0, []string{"shows no picture"}},
		{"no picture expected", noPic, exec(stdout), 0, nil},
		{"stderr", clean, exec(png, stderr), 1, []string{"wrote to stderr", "panic: boom"}},
		{"error output", clean, exec(png, errOut), 1, []string{"error ERROR: undefined: x"}},
		{"committed outputs", exec(stdout), exec(png), 1, []string{"committed outputs"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			problems, pictures := checkOutputs(parse(t, tc.src), parse(t, tc.executed))
			if pictures != tc.wantPictures {
				t.Errorf("pictures = %d, want %d", pictures, tc.wantPictures)
			}
			all := strings.Join(problems, "\n")
			for _, w := range tc.wantProblems {
				if !strings.Contains(all, w) {
					t.Errorf("problems %q lack %q", all, w)
				}
			}
			if len(tc.wantProblems) == 0 && len(problems) > 0 {
				t.Errorf("unexpected problems: %q", all)
			}
		})
	}
}

func TestAbsPathEnv(t *testing.T) {
	env := absPathEnv([]string{"MSD_DATA=../shared/data", "MSD_RUNS=/abs/runs", "HOME=rel", "MSD_PLOT_DIR="})
	if !strings.HasPrefix(env[0], "MSD_DATA=/") || !strings.HasSuffix(env[0], "/shared/data") {
		t.Errorf("MSD_DATA not made absolute: %q", env[0])
	}
	if env[1] != "MSD_RUNS=/abs/runs" || env[2] != "HOME=rel" || env[3] != "MSD_PLOT_DIR=" {
		t.Errorf("changed other entries: %q", env[1:])
	}
}
