package msd

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPlanDownloads(t *testing.T) {
	root := t.TempDir()
	// Task04: partial download; Task09: copied by hand; Task02: complete.
	os.WriteFile(filepath.Join(root, "Task04_Hippocampus.tar.part"), make([]byte, 1000), 0o644)
	writeSet(t, filepath.Join(root, "Task09_Spleen"), "{}")
	writeSet(t, filepath.Join(root, "Task02_Heart"), "{}")
	heart, _ := Lookup("Task02")
	os.WriteFile(filepath.Join(root, "Task02_Heart", MarkerFile), []byte(`{"md5":"`+heart.MD5+`"}`), 0o644)
	p, err := PlanDownloads(root, []string{"Task04", "spleen", "2"})
	if err != nil {
		t.Fatal(err)
	}
	hippo := Tasks[3]
	want := []struct {
		state State
		need  int64
	}{{Missing, 2*hippo.Size - 1000}, {Unverified, 0}, {Complete, 0}}
	for i, w := range want {
		if r := p.Rows[i]; r.State != w.state || r.Need != w.need {
			t.Errorf("%s: %v need %d, want %v need %d", r.Task.Name, r.State, r.Need, w.state, w.need)
		}
	}
	if p.Need != want[0].need || p.Free == 0 {
		t.Errorf("need %d free %d", p.Need, p.Free)
	}
	txt := p.Text()
	for _, s := range []string{"Task04_Hippocampus", "~27.0 MB", "1.0 kB partly downloaded", "present (unverified)", "complete"} {
		if !strings.Contains(txt, s) {
			t.Errorf("plan text lacks %q:\n%s", s, txt)
		}
	}
	if h := p.HTML(); !strings.Contains(h, "<td>Task09_Spleen</td>") {
		t.Errorf("HTML: %s", h)
	}
	if _, err := PlanDownloads(root, []string{"Task42"}); err == nil {
		t.Error("unknown task accepted")
	}
	small := Plan{Need: 10, Free: 5}
	if small.Enough() || !(&Plan{Need: 10, Free: -1}).Enough() {
		t.Error("Enough")
	}
	if len(TaskNames()) != 10 || TaskNames()[9] != "Task10_Colon" {
		t.Error("TaskNames")
	}
}

// TestDownloadMirrorChecksRegistryMD5 downloads "Task04_Hippocampus" from a
// mirror given by MSD_MIRROR that serves another archive: the registry's md5
// must reject it.
func TestDownloadMirrorChecksRegistryMD5(t *testing.T) {
	t.Setenv(EnvFast, "")
	data := makeTar(t, syntheticSetEntries())
	srv := newServer(t, data)
	t.Setenv(EnvMirror, srv.URL)
	root := t.TempDir()
	var out bytes.Buffer
	d := NewDownloader(root)
	d.Quiet = true
	err := DownloadTo(context.Background(), &out, d, "Task04_Hippocampus")
	if err == nil || !strings.Contains(err.Error(), "want 9d24dba78a72977dbd1d2e110310f31b") {
		t.Fatalf("err %v", err)
	}
	if got := srv.requests(); len(got) != 1 {
		t.Errorf("requests %q", got)
	}
	if st := Check(root, Tasks[3]); st.State != Missing || st.PartBytes != 0 {
		t.Errorf("after md5 failure: %+v", st)
	}
}
