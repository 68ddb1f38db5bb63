// Package backend is the one place that chooses the GoMLX backend the toolkit
// computes on.
//
// The rule, first match wins:
//
//  1. An explicit setting: MSDKIT_BACKEND or GOMLX_BACKEND (GoMLX's own
//     "name:config" syntax, e.g. "fastcpu", "go", "xla:cuda",
//     "xla:/abs/path/xla_cuda_plugin.so"), or the argument of [NewWith]. The
//     value "auto" (the notebook kernel's default) means "decide for me".
//  2. A usable XLA GPU plugin: an NVIDIA device (/dev/nvidia* or nvidia-smi) and
//     a CUDA PJRT plugin, either GoMLX's (pjrt_c_api_cuda_plugin.so in
//     PJRT_PLUGIN_LIBRARY_PATH, ~/.local/lib/go-xla or /usr/local/lib/go-xla) or
//     one installed by JAX (jax_plugins/xla_cuda*/xla_cuda_plugin.so in a Python
//     site-packages), used by absolute path.
//  3. An installed XLA CPU plugin (pjrt_c_api_cpu_plugin.so in the same folders).
//  4. The toolkit's own pure-Go CPU backend, "fastcpu".
//
// Nothing is ever downloaded: GoMLX's plugin auto-install is switched off unless
// MSDKIT_XLA_AUTO_INSTALL=1 asks for it. For a JAX plugin the package also sets
// XLA_FLAGS=--xla_gpu_cuda_data_dir to JAX's CUDA folder (go-xla v0.1.4 would
// otherwise point it at its author's home) unless the user set that flag.
package backend

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/xla"

	_ "github.com/msdkit/msdkit/pkg/fastcpu" // registers CPUBackend
)

// CPUBackend is the backend used when no XLA plugin is usable.
const CPUBackend = "fastcpu"

// Choice is a decided backend configuration and the reason for it.
type Choice struct {
	// Config is the GoMLX backend configuration ("name:config").
	Config string
	// Reason says in a few words why it was chosen.
	Reason string
	// Env lists environment variables to set before creating the backend.
	Env map[string]string
}

// String is the one line printed when a backend is chosen.
func (c Choice) String() string { return fmt.Sprintf("backend %s (%s)", c.Config, c.Reason) }

// Machine is what the decision looks at; tests replace it.
type Machine struct {
	Getenv   func(string) string
	Glob     func(pattern string) ([]string, error)
	LookPath func(file string) (string, error)
	// IsDir reports whether path is a directory.
	IsDir func(path string) bool
	Home  string
}

// ThisMachine is the Machine the process runs on.
func ThisMachine() Machine {
	home, _ := os.UserHomeDir()
	return Machine{
		Getenv:   os.Getenv,
		Glob:     filepath.Glob,
		LookPath: exec.LookPath,
		IsDir: func(p string) bool {
			st, err := os.Stat(p)
			return err == nil && st.IsDir()
		},
		Home: home,
	}
}

// pluginNames are the file names go-xla finds for a named plugin.
func pluginNames(name string) []string {
	return []string{"pjrt_c_api_" + name + "_plugin.so", "pjrt-plugin-" + name + ".so", "pjrt_plugin_" + name + ".so"}
}

// pluginDirs are the folders go-xla searches for named plugins.
func (m Machine) pluginDirs() []string {
	var dirs []string
	for _, d := range strings.Split(m.Getenv("PJRT_PLUGIN_LIBRARY_PATH"), ":") {
		if d != "" {
			dirs = append(dirs, d)
		}
	}
	if m.Home != "" {
		dirs = append(dirs, filepath.Join(m.Home, ".local/lib/go-xla"))
	}
	return append(dirs, "/usr/local/lib/go-xla")
}

// findNamed returns the first named plugin file found, or "".
func (m Machine) findNamed(name string) string {
	for _, d := range m.pluginDirs() {
		for _, f := range pluginNames(name) {
			if hits, _ := m.Glob(filepath.Join(d, f)); len(hits) > 0 {
				return hits[0]
			}
		}
	}
	return ""
}

// sitePackages lists Python site-packages folders where JAX may live.
func (m Machine) sitePackages() []string {
	var roots []string
	for _, env := range []string{"VIRTUAL_ENV", "CONDA_PREFIX"} {
		if v := m.Getenv(env); v != "" {
			roots = append(roots, v)
		}
	}
	if m.Home != "" {
		roots = append(roots, filepath.Join(m.Home, ".local"), filepath.Join(m.Home, "miniconda3"), filepath.Join(m.Home, "anaconda3"))
	}
	roots = append(roots, "/usr/local", "/usr", "/opt/conda")
	var dirs []string
	for _, r := range roots {
		for _, kind := range []string{"site-packages", "dist-packages"} {
			hits, _ := m.Glob(filepath.Join(r, "lib", "python3*", kind))
			sort.Sort(sort.Reverse(sort.StringSlice(hits))) // newest Python first
			dirs = append(dirs, hits...)
		}
	}
	if extra := m.Getenv("MSDKIT_PYTHON_SITE"); extra != "" {
		dirs = append([]string{extra}, dirs...)
	}
	return dirs
}

// findJAXCuda returns JAX's CUDA PJRT plugin and the CUDA data folder beside it.
func (m Machine) findJAXCuda() (plugin, cudaDir string) {
	for _, sp := range m.sitePackages() {
		hits, _ := m.Glob(filepath.Join(sp, "jax_plugins", "xla_cuda*", "xla_cuda_plugin.so"))
		if len(hits) == 0 {
			continue
		}
		sort.Sort(sort.Reverse(sort.StringSlice(hits)))
		plugin = hits[0]
		if d := filepath.Join(sp, "nvidia", "cuda_nvcc"); m.IsDir(d) {
			cudaDir = d
		}
		return plugin, cudaDir
	}
	return "", ""
}

// hasNvidiaGPU applies go-xla's check: /dev/nvidia* or an nvidia-smi command.
func (m Machine) hasNvidiaGPU() bool {
	if hits, _ := m.Glob("/dev/nvidia*"); len(hits) > 0 {
		return true
	}
	_, err := m.LookPath("nvidia-smi")
	return err == nil
}

// Decide applies the package rule; explicit overrides the environment when
// non-empty.
func Decide(m Machine, explicit string) Choice {
	for _, src := range []struct{ name, val string }{
		{"argument", explicit}, {"MSDKIT_BACKEND", m.Getenv("MSDKIT_BACKEND")}, {"GOMLX_BACKEND", m.Getenv("GOMLX_BACKEND")},
	} {
		if v := strings.TrimSpace(src.val); v != "" && v != "auto" {
			return Choice{Config: v, Reason: "set by " + src.name}
		}
	}
	if m.hasNvidiaGPU() {
		if p := m.findNamed("cuda"); p != "" {
			return Choice{Config: "xla:cuda", Reason: "NVIDIA GPU and CUDA PJRT plugin " + p}
		}
		if p, cuda := m.findJAXCuda(); p != "" {
			c := Choice{Config: "xla:" + p, Reason: "NVIDIA GPU and JAX's CUDA PJRT plugin", Env: map[string]string{"GOPJRT_CUDA_CHECKS": "0"}}
			flags := m.Getenv("XLA_FLAGS")
			if cuda != "" && !strings.Contains(flags, "--xla_gpu_cuda_data_dir") {
				c.Env["XLA_FLAGS"] = strings.TrimSpace(flags + " --xla_gpu_cuda_data_dir=" + cuda)
			}
			return c
		}
	}
	if p := m.findNamed("cpu"); p != "" {
		return Choice{Config: "xla:cpu", Reason: "XLA CPU plugin " + p + ", no usable GPU"}
	}
	return Choice{Config: CPUBackend, Reason: "no XLA plugin installed; the toolkit's pure-Go CPU backend"}
}

// New chooses the backend for this machine (see the package rule), prints the
// one-line reason to w (if not nil) and creates it.
func New(w io.Writer) (backends.Backend, Choice, error) { return NewWith(w, "") }

// NewWith is New with an explicit configuration ("" or "auto" to decide).
func NewWith(w io.Writer, explicit string) (backends.Backend, Choice, error) {
	c := Decide(ThisMachine(), explicit)
	for k, v := range c.Env {
		if err := os.Setenv(k, v); err != nil {
			return nil, c, fmt.Errorf("backend: setting %s: %w", k, err)
		}
	}
	xla.EnableAutoInstall(os.Getenv("MSDKIT_XLA_AUTO_INSTALL") == "1")
	if w != nil {
		fmt.Fprintln(w, c)
	}
	name, _, _ := strings.Cut(c.Config, ":")
	if !slices.Contains(backends.List(), name) {
		return nil, c, fmt.Errorf("backend %q (%s): unknown backend %q, available: %s", c.Config, c.Reason, name, strings.Join(backends.List(), ", "))
	}
	b, err := create(c.Config)
	if err != nil {
		return nil, c, fmt.Errorf("backend %q (%s): %w", c.Config, c.Reason, err)
	}
	return b, c, nil
}

// create calls GoMLX's constructor, turning its panics into errors.
func create(config string) (b backends.Backend, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	return backends.NewWithConfig(config)
}
