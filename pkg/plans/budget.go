package plans

import (
	"fmt"
	"strconv"
	"strings"
)

// Budget is a memory budget for training: the device kind ("GPU" or "CPU")
// and its size in bytes.
type Budget struct {
	Kind  string
	Bytes int64
}

// ParseBudget reads budgets like "GPU 8 GB", "CPU RAM 4 GB", "16GiB",
// "gpu 11.5 GB" or a plain number of bytes (sizes as ParseBytes reads them).
// Without a kind the budget is for a GPU.
func ParseBudget(s string) (Budget, error) {
	b := Budget{Kind: "GPU"}
	f := strings.Fields(strings.ToUpper(strings.TrimSpace(s)))
	if len(f) == 0 {
		return b, fmt.Errorf("plans: empty memory budget")
	}
	switch f[0] {
	case "GPU", "VRAM":
		f = f[1:]
	case "CPU":
		b.Kind = "CPU"
		f = f[1:]
		if len(f) > 0 && (f[0] == "RAM" || f[0] == "MEMORY") {
			f = f[1:]
		}
	case "RAM":
		b.Kind = "CPU"
		f = f[1:]
	}
	n, err := ParseBytes(strings.Join(f, ""))
	if err != nil {
		return b, fmt.Errorf("plans: memory budget %q: want e.g. \"GPU 8 GB\", \"CPU RAM 4 GB\" or a number of bytes", s)
	}
	b.Bytes = n
	return b, nil
}

// ParseBytes reads a memory size: "123", "8GB", "8 GiB", "512mb", "1.5TB", "16G". KB, MB, GB, TB
// and the bare K, M, G, T are powers of 1000; KiB, MiB, GiB, TiB powers of 1024.
func ParseBytes(s string) (int64, error) {
	t := strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(s), " ", ""))
	units := []struct {
		suffix string
		mult   float64
	}{{"TIB", 1 << 40}, {"GIB", 1 << 30}, {"MIB", 1 << 20}, {"KIB", 1 << 10},
		{"TB", 1e12}, {"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3},
		{"T", 1e12}, {"G", 1e9}, {"M", 1e6}, {"K", 1e3}, {"B", 1}}
	mult := 1.0
	for _, u := range units {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSuffix(t, u.suffix), u.mult
			break
		}
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || !(v > 0) || v*mult > 1<<60 {
		return 0, fmt.Errorf("memory size %q: want a positive number with an optional unit (e.g. 8GB, 4GiB)", s)
	}
	return int64(v * mult), nil
}

func (b Budget) String() string {
	if b.Bytes%1e9 == 0 {
		return fmt.Sprintf("%s %d GB", b.Kind, b.Bytes/1e9)
	}
	return fmt.Sprintf("%s %.3g GB", b.Kind, float64(b.Bytes)/1e9)
}
