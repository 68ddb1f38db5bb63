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
// "gpu 11.5 GB" or a plain number of bytes. GB/MB/KB are powers of 1000,
// GiB/MiB/KiB powers of 1024. Without a kind the budget is for a GPU.
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
	num := strings.Join(f, "")
	units := []struct {
		suffix string
		mult   float64
	}{{"GIB", 1 << 30}, {"MIB", 1 << 20}, {"KIB", 1 << 10}, {"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3}, {"G", 1e9}, {"M", 1e6}, {"B", 1}}
	mult := 1.0
	for _, u := range units {
		if strings.HasSuffix(num, u.suffix) {
			num, mult = strings.TrimSuffix(num, u.suffix), u.mult
			break
		}
	}
	x, err := strconv.ParseFloat(num, 64)
	if err != nil || !(x > 0) {
		return b, fmt.Errorf("plans: memory budget %q: want e.g. \"GPU 8 GB\", \"CPU RAM 4 GB\" or a number of bytes", s)
	}
	b.Bytes = int64(x * mult)
	return b, nil
}

func (b Budget) String() string {
	if b.Bytes%1e9 == 0 {
		return fmt.Sprintf("%s %d GB", b.Kind, b.Bytes/1e9)
	}
	return fmt.Sprintf("%s %.3g GB", b.Kind, float64(b.Bytes)/1e9)
}
