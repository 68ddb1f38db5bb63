package backend

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"

	"github.com/msdkit/msdkit/pkg/plans"
)

// EnvMemory sets the memory budget explicitly, in bytes or with a unit suffix
// (e.g. "8GB", "4GiB", "6000MB"); it wins over what the device reports.
const EnvMemory = "MSDKIT_MEMORY"

// Memory is a memory budget for plans and where it came from.
type Memory struct {
	Bytes  int64
	Source string
}

// String prints e.g. "7.6 GiB (GPU 0 free, nvidia-smi)".
func (m Memory) String() string {
	return fmt.Sprintf("%.1f GiB (%s)", float64(m.Bytes)/(1<<30), m.Source)
}

// MemoryBudget returns the memory the chosen backend can use for training:
// $MSDKIT_MEMORY when set; for an XLA CUDA backend the free memory of GPU 0 as
// nvidia-smi reports it (go-xla v0.1.4 does not expose PJRT's device memory
// statistics); for CPU backends MemAvailable from /proc/meminfo.
func MemoryBudget(c Choice) (Memory, error) {
	if v := os.Getenv(EnvMemory); v != "" {
		b, err := plans.ParseBytes(v)
		if err != nil {
			return Memory{}, fmt.Errorf("%s: %w", EnvMemory, err)
		}
		return Memory{b, "set by " + EnvMemory}, nil
	}
	if strings.HasPrefix(c.Config, "xla:") && strings.Contains(c.Config, "cuda") {
		out, err := exec.Command("nvidia-smi", "--query-gpu=memory.free", "--format=csv,noheader,nounits", "--id=0").Output()
		if err != nil {
			return Memory{}, fmt.Errorf("asking nvidia-smi for free GPU memory: %w (set %s)", err, EnvMemory)
		}
		mib, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64)
		if err != nil {
			return Memory{}, fmt.Errorf("nvidia-smi memory.free %q: %w (set %s)", out, err, EnvMemory)
		}
		return Memory{mib << 20, "GPU 0 free, nvidia-smi"}, nil
	}
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return Memory{}, fmt.Errorf("reading /proc/meminfo: %w (set %s)", err, EnvMemory)
	}
	return parseMeminfo(b)
}

func parseMeminfo(b []byte) (Memory, error) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == "MemAvailable:" {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				return Memory{}, fmt.Errorf("/proc/meminfo MemAvailable %q: %w", f[1], err)
			}
			return Memory{kb << 10, "RAM available, /proc/meminfo"}, nil
		}
	}
	return Memory{}, fmt.Errorf("/proc/meminfo has no MemAvailable line (set %s)", EnvMemory)
}
