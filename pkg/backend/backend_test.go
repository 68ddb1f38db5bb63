package backend

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

// fakeMachine has the given files and environment.
func fakeMachine(env map[string]string, files ...string) Machine {
	return Machine{
		Getenv: func(k string) string { return env[k] },
		Glob: func(pattern string) ([]string, error) {
			seen := map[string]bool{}
			var hits []string
			for _, f := range files {
				// Match the file and every folder above it.
				for p := f; p != "/"; p = filepath.Dir(p) {
					if ok, _ := filepath.Match(pattern, p); ok && !seen[p] {
						seen[p] = true
						hits = append(hits, p)
					}
				}
			}
			return hits, nil
		},
		LookPath: func(file string) (string, error) {
			for _, f := range files {
				if filepath.Base(f) == file && strings.HasPrefix(f, "/usr/bin/") {
					return f, nil
				}
			}
			return "", errors.New("not found")
		},
		IsDir: func(p string) bool {
			for _, f := range files {
				if strings.HasPrefix(f, p+"/") {
					return true
				}
			}
			return false
		},
		Home: "/home/u",
	}
}

func TestDecide(t *testing.T) {
	const jax = "/home/u/venv/lib/python3.12/site-packages"
	tests := []struct {
		name     string
		env      map[string]string
		files    []string
		explicit string
		want     string
		wantEnv  map[string]string
	}{
		{"nothing installed", nil, nil, "", "fastcpu", nil},
		{"auto means decide", map[string]string{"GOMLX_BACKEND": "auto"}, nil, "", "fastcpu", nil},
		{"GOMLX_BACKEND wins", map[string]string{"GOMLX_BACKEND": "go"}, []string{"/dev/nvidia0"}, "", "go", nil},
		{"MSDKIT_BACKEND before GOMLX_BACKEND", map[string]string{"MSDKIT_BACKEND": "xla:cpu", "GOMLX_BACKEND": "go"}, nil, "", "xla:cpu", nil},
		{"argument first", map[string]string{"MSDKIT_BACKEND": "go"}, nil, "fastcpu", "fastcpu", nil},
		{"cpu plugin", nil, []string{"/usr/local/lib/go-xla/pjrt_c_api_cpu_plugin.so"}, "", "xla:cpu", nil},
		{"cuda plugin without GPU is not used", nil, []string{"/home/u/.local/lib/go-xla/pjrt_c_api_cuda_plugin.so"}, "", "fastcpu", nil},
		{"GPU and GoMLX cuda plugin", nil, []string{"/dev/nvidia0", "/home/u/.local/lib/go-xla/pjrt_c_api_cuda_plugin.so", "/usr/local/lib/go-xla/pjrt_c_api_cpu_plugin.so"}, "", "xla:cuda", nil},
		{"GPU via nvidia-smi and plugin in PJRT_PLUGIN_LIBRARY_PATH", map[string]string{"PJRT_PLUGIN_LIBRARY_PATH": "/opt/p"}, []string{"/usr/bin/nvidia-smi", "/opt/p/pjrt_plugin_cuda.so"}, "", "xla:cuda", nil},
		{"GPU without plugin falls to cpu plugin", nil, []string{"/dev/nvidia0", "/usr/local/lib/go-xla/pjrt_c_api_cpu_plugin.so"}, "", "xla:cpu", nil},
		{"JAX plugin by absolute path with CUDA dir", map[string]string{"VIRTUAL_ENV": "/home/u/venv"},
			[]string{"/dev/nvidiactl", jax + "/jax_plugins/xla_cuda12/xla_cuda_plugin.so", jax + "/nvidia/cuda_nvcc/bin/ptxas"}, "",
			"xla:" + jax + "/jax_plugins/xla_cuda12/xla_cuda_plugin.so",
			map[string]string{"XLA_FLAGS": "--xla_gpu_cuda_data_dir=" + jax + "/nvidia/cuda_nvcc", "GOPJRT_CUDA_CHECKS": "0"}},
		{"JAX plugin keeps the user's cuda dir flag", map[string]string{"VIRTUAL_ENV": "/home/u/venv", "XLA_FLAGS": "--xla_gpu_cuda_data_dir=/cuda"},
			[]string{"/dev/nvidia0", jax + "/jax_plugins/xla_cuda12/xla_cuda_plugin.so", jax + "/nvidia/cuda_nvcc/bin/ptxas"}, "",
			"xla:" + jax + "/jax_plugins/xla_cuda12/xla_cuda_plugin.so", map[string]string{"GOPJRT_CUDA_CHECKS": "0"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := Decide(fakeMachine(tc.env, tc.files...), tc.explicit)
			if c.Config != tc.want {
				t.Fatalf("Decide = %q (%s), want %q", c.Config, c.Reason, tc.want)
			}
			if c.Reason == "" {
				t.Error("empty reason")
			}
			if len(c.Env) != len(tc.wantEnv) {
				t.Fatalf("env = %v, want %v", c.Env, tc.wantEnv)
			}
			for k, v := range tc.wantEnv {
				if c.Env[k] != v {
					t.Errorf("env[%s] = %q, want %q", k, c.Env[k], v)
				}
			}
		})
	}
}

func TestNewOnThisMachine(t *testing.T) {
	var out strings.Builder
	b, c, err := NewWith(&out, CPUBackend)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Finalize()
	if !strings.HasPrefix(out.String(), "backend fastcpu (set by argument)") {
		t.Errorf("printed %q", out.String())
	}
	if c.Config != CPUBackend {
		t.Errorf("config %q", c.Config)
	}
	if _, _, err := NewWith(nil, "nosuchbackend"); err == nil || !strings.Contains(err.Error(), "nosuchbackend") {
		t.Errorf("unknown backend: err = %v", err)
	}
}
