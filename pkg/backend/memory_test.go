package backend

import "testing"

func TestMemoryBudget(t *testing.T) {
	t.Setenv(EnvMemory, "6GiB")
	m, err := MemoryBudget(Choice{Config: "xla:cuda"})
	if err != nil || m.Bytes != 6<<30 {
		t.Fatalf("explicit: %v %v", m, err)
	}
	t.Setenv(EnvMemory, "")
	m, err = MemoryBudget(Choice{Config: CPUBackend})
	if err != nil || m.Bytes < 1<<20 {
		t.Fatalf("this machine: %v %v", m, err)
	}
	if _, err := parseMeminfo([]byte("MemTotal: 10 kB\n")); err == nil {
		t.Error("missing MemAvailable accepted")
	}
	m, err = parseMeminfo([]byte("MemTotal: 100 kB\nMemAvailable:   2048 kB\n"))
	if err != nil || m.Bytes != 2048<<10 {
		t.Errorf("parseMeminfo: %v %v", m, err)
	}
}
