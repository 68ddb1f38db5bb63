// Command nbrun executes GoNB notebooks headless and checks them.
//
// For every notebook given (files, or folders searched recursively) it runs
// `jupyter nbconvert --to notebook --execute` with the repository's kernelspec
// (JUPYTER_PATH=<repo>/.jupyter, see kernel-setup/install.sh), writes the
// executed copy under -out keeping the path below the repository root, and
// optionally an HTML render beside it. A notebook fails when
//   - nbconvert fails (a cell raised an error output, or the kernel died),
//   - any cell wrote to stderr (GoNB reports panics and `log` output there),
//   - it shows no picture (image/png, image/svg+xml, or an <img>/<svg> in HTML)
//     unless its metadata sets "msdkit": {"expect_picture": false},
//   - the committed source notebook carries outputs.
//
// Usage: go run ./cmd/nbrun [-out out/notebooks] [-html] [-timeout 1800] notebooks/...
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

func main() {
	out := flag.String("out", "out/notebooks", "folder for executed notebooks and HTML renders")
	html := flag.Bool("html", false, "also render each executed notebook to HTML")
	timeout := flag.Int("timeout", 1800, "seconds allowed per cell")
	flag.Parse()
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: nbrun [-out dir] [-html] notebook.ipynb|folder ...")
		os.Exit(2)
	}
	repo, err := repoRoot()
	if err != nil {
		fatal(err)
	}
	nbs, err := collect(flag.Args())
	if err != nil {
		fatal(err)
	}
	failed := 0
	for _, nb := range nbs {
		start := time.Now()
		fmt.Printf("=== %s\n", nb)
		problems, err := runOne(repo, nb, *out, *timeout, *html)
		if err != nil {
			problems = append(problems, err.Error())
		}
		if len(problems) > 0 {
			failed++
			fmt.Printf("--- FAIL %s (%.0fs)\n", nb, time.Since(start).Seconds())
			for _, p := range problems {
				fmt.Printf("    %s\n", strings.ReplaceAll(p, "\n", "\n    "))
			}
			continue
		}
		fmt.Printf("--- ok   %s (%.0fs)\n", nb, time.Since(start).Seconds())
	}
	fmt.Printf("%d notebooks, %d failed\n", len(nbs), failed)
	if failed > 0 {
		os.Exit(1)
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "nbrun:", err)
	os.Exit(1)
}

// repoRoot walks up from the working directory to the folder holding go.mod.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no go.mod above %s", dir)
		}
	}
}

// collect expands folders into the .ipynb files below them, sorted.
func collect(args []string) ([]string, error) {
	var nbs []string
	for _, a := range args {
		st, err := os.Stat(a)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			nbs = append(nbs, a)
			continue
		}
		err = filepath.WalkDir(a, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && d.Name() == ".ipynb_checkpoints" {
				return filepath.SkipDir
			}
			if !d.IsDir() && strings.HasSuffix(p, ".ipynb") {
				nbs = append(nbs, p)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	sort.Strings(nbs)
	return nbs, nil
}

type notebook struct {
	Metadata struct {
		Msdkit struct {
			ExpectPicture *bool `json:"expect_picture"`
		} `json:"msdkit"`
	} `json:"metadata"`
	Cells []struct {
		CellType string   `json:"cell_type"`
		Outputs  []output `json:"outputs"`
	} `json:"cells"`
}

type output struct {
	OutputType string                     `json:"output_type"`
	Name       string                     `json:"name"`
	Text       json.RawMessage            `json:"text"`
	Ename      string                     `json:"ename"`
	Evalue     string                     `json:"evalue"`
	Data       map[string]json.RawMessage `json:"data"`
}

func readNotebook(path string) (*notebook, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var nb notebook
	if err := json.Unmarshal(b, &nb); err != nil {
		return nil, fmt.Errorf("%s: not a notebook: %v", path, err)
	}
	return &nb, nil
}

// text joins a notebook multi-line string (a string or a list of strings).
func text(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var ss []string
	_ = json.Unmarshal(raw, &ss)
	return strings.Join(ss, "")
}

func runOne(repo, nbPath, outRoot string, timeout int, html bool) ([]string, error) {
	var problems []string
	src, err := readNotebook(nbPath)
	if err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(nbPath)
	if err != nil {
		return nil, err
	}
	rel, err := filepath.Rel(repo, filepath.Dir(abs))
	if err != nil || strings.HasPrefix(rel, "..") {
		rel = "external"
	}
	outDir := filepath.Join(outRoot, rel)
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return nil, err
	}
	env := append(absPathEnv(os.Environ()), "JUPYTER_PATH="+filepath.Join(repo, ".jupyter"))
	cmd := exec.Command("jupyter", "nbconvert", "--to", "notebook", "--execute",
		"--ExecutePreprocessor.kernel_name=gonb",
		fmt.Sprintf("--ExecutePreprocessor.timeout=%d", timeout),
		"--output-dir", outDir, nbPath)
	cmd.Env = env
	logb, err := cmd.CombinedOutput()
	if err != nil {
		msg := string(logb)
		if i := strings.Index(msg, "CellExecutionError:"); i >= 0 {
			msg = msg[i:]
		}
		problems = append(problems, fmt.Sprintf("nbconvert --execute failed (%v):\n%s", err, tail(msg, 3000)))
	}
	executed := filepath.Join(outDir, filepath.Base(nbPath))
	nb, err := readNotebook(executed)
	if err != nil {
		return problems, nil
	}
	more, pictures := checkOutputs(src, nb)
	problems = append(problems, more...)
	fmt.Printf("    executed: %s (%d pictures)\n", executed, pictures)
	if html {
		h := exec.Command("jupyter", "nbconvert", "--to", "html", "--output-dir", outDir, executed)
		h.Env = env
		if b, err := h.CombinedOutput(); err != nil {
			problems = append(problems, fmt.Sprintf("nbconvert --to html failed (%v): %s", err, tail(string(b), 1000)))
		} else {
			fmt.Printf("    html: %s\n", strings.TrimSuffix(executed, ".ipynb")+".html")
		}
	}
	return problems, nil
}

// pathVars are environment variables holding folders; GoNB runs cells in the
// notebook's folder, so relative values are made absolute first.
var pathVars = []string{"MSD_DATA", "MSD_RUNS", "MSD_PLOT_DIR"}

// absPathEnv returns env with the pathVars made absolute (from the working directory).
func absPathEnv(env []string) []string {
	out := make([]string, len(env))
	for i, kv := range env {
		out[i] = kv
		k, v, _ := strings.Cut(kv, "=")
		for _, name := range pathVars {
			if k == name && v != "" && !filepath.IsAbs(v) {
				if abs, err := filepath.Abs(v); err == nil {
					out[i] = k + "=" + abs
				}
			}
		}
	}
	return out
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}

// checkOutputs lists the problems of an executed notebook nb whose committed
// source is src, and counts the pictures it shows.
func checkOutputs(src, nb *notebook) (problems []string, pictures int) {
	for i, c := range src.Cells {
		if len(c.Outputs) > 0 {
			problems = append(problems, fmt.Sprintf("source cell %d has committed outputs (clear them before committing)", i+1))
		}
	}
	for i, c := range nb.Cells {
		for _, o := range c.Outputs {
			switch {
			case o.OutputType == "error":
				problems = append(problems, fmt.Sprintf("cell %d: error %s: %s", i+1, o.Ename, tail(o.Evalue, 2000)))
			case o.OutputType == "stream" && o.Name == "stderr":
				problems = append(problems, fmt.Sprintf("cell %d wrote to stderr:\n%s", i+1, tail(text(o.Text), 2000)))
			}
			for mime, v := range o.Data {
				if mime == "image/png" || mime == "image/svg+xml" {
					pictures++
				} else if mime == "text/html" {
					h := text(v)
					if strings.Contains(h, "<img") || strings.Contains(h, "<svg") {
						pictures++
					}
				}
			}
		}
	}
	expect := src.Metadata.Msdkit.ExpectPicture == nil || *src.Metadata.Msdkit.ExpectPicture
	if expect && pictures == 0 {
		problems = append(problems, "shows no picture (set metadata msdkit.expect_picture=false if none is intended)")
	}
	return problems, pictures
}
