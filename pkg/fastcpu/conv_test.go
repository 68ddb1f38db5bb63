package fastcpu

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/simplego"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// convConfig is a random ConvGeneral configuration (any axes layout).
type convConfig struct {
	spatial                  int
	n, c, o                  int
	x, k                     []int
	strides, inDil, kerDil   []int
	pads                     [][2]int
	inPerm, kerPerm, outPerm []int // positions: [batch, channels, spatial...] -> axis
}

func randPerm(r *rand.Rand, n int, channelsFirstProb float64) []int {
	if r.Float64() < channelsFirstProb {
		return iotaInts(n)
	}
	p := r.Perm(n)
	return p
}

func iotaInts(n int) []int {
	p := make([]int, n)
	for i := range p {
		p[i] = i
	}
	return p
}

func randomConvConfig(r *rand.Rand) convConfig {
	sp := 1 + r.IntN(3)
	cfg := convConfig{spatial: sp, n: 1 + r.IntN(3), c: 1 + r.IntN(4), o: 1 + r.IntN(4)}
	for range sp {
		k := 1 + r.IntN(3)
		kd := 1 + r.IntN(2)
		d := 1
		if r.IntN(3) == 0 {
			d = 2
		}
		x := 1 + r.IntN(7)
		s := 1 + r.IntN(2)
		lo, hi := r.IntN(3), r.IntN(3)
		// Make sure the output is at least 1 long.
		eff := (x-1)*d + 1 + lo + hi
		ek := (k-1)*kd + 1
		for eff < ek {
			hi++
			eff++
		}
		cfg.x = append(cfg.x, x)
		cfg.k = append(cfg.k, k)
		cfg.strides = append(cfg.strides, s)
		cfg.inDil = append(cfg.inDil, d)
		cfg.kerDil = append(cfg.kerDil, kd)
		cfg.pads = append(cfg.pads, [2]int{lo, hi})
	}
	cfg.inPerm = randPerm(r, sp+2, 0.5)
	cfg.kerPerm = randPerm(r, sp+2, 0.5)
	cfg.outPerm = randPerm(r, sp+2, 0.5)
	return cfg
}

func (cfg convConfig) axes() backends.ConvolveAxesConfig {
	sp := func(p []int) []int { return slices.Clone(p[2:]) }
	return backends.ConvolveAxesConfig{
		InputBatch: cfg.inPerm[0], InputChannels: cfg.inPerm[1], InputSpatial: sp(cfg.inPerm),
		KernelOutputChannels: cfg.kerPerm[0], KernelInputChannels: cfg.kerPerm[1], KernelSpatial: sp(cfg.kerPerm),
		OutputBatch: cfg.outPerm[0], OutputChannels: cfg.outPerm[1], OutputSpatial: sp(cfg.outPerm),
	}
}

func (cfg convConfig) dims() (in, ker []int) {
	in = make([]int, cfg.spatial+2)
	ker = make([]int, cfg.spatial+2)
	in[cfg.inPerm[0]], in[cfg.inPerm[1]] = cfg.n, cfg.c
	ker[cfg.kerPerm[0]], ker[cfg.kerPerm[1]] = cfg.o, cfg.c
	for i := range cfg.spatial {
		in[cfg.inPerm[2+i]] = cfg.x[i]
		ker[cfg.kerPerm[2+i]] = cfg.k[i]
	}
	return
}

var simpleGoBackend = func() backends.Backend {
	b, err := simplego.New("")
	if err != nil {
		panic(err)
	}
	return b
}()

// checkConvConfig compares fastcpu's (native) ConvGeneral with SimpleGo's on random data.
func checkConvConfig(t *testing.T, backend backends.Backend, cfg convConfig, seed uint64) {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 7))
	inDims, kDims := cfg.dims()
	xv, kv := randFlat(r, prod(inDims)), randFlat(r, prod(kDims))
	fn := func(x, k *graph.Node) *graph.Node {
		return graph.ConvGeneral(x, k, cfg.axes(), cfg.strides, cfg.pads, cfg.inDil, cfg.kerDil, 1, 1)
	}
	before := nativeRuns.Load()
	got, err := graph.ExecOnce(backend, fn, tensors.FromFlatDataAndDimensions(xv, inDims...), tensors.FromFlatDataAndDimensions(kv, kDims...))
	if err != nil {
		t.Fatalf("%+v: %v", cfg, err)
	}
	if nativeRuns.Load() == before {
		t.Fatalf("%+v: native convolution not used", cfg)
	}
	want, err := graph.ExecOnce(simpleGoBackend, fn, tensors.FromFlatDataAndDimensions(xv, inDims...), tensors.FromFlatDataAndDimensions(kv, kDims...))
	if err != nil {
		t.Fatalf("SimpleGo %+v: %v", cfg, err)
	}
	if !slices.Equal(got.Shape().Dimensions, want.Shape().Dimensions) {
		t.Fatalf("%+v: shape %s, SimpleGo %s", cfg, got.Shape(), want.Shape())
	}
	t.Logf("%+v -> %s", cfg, got.Shape())
	assertClose(t, tensors.MustCopyFlatData[float32](got), tensors.MustCopyFlatData[float32](want))
}

func TestConvRandomConfigsAgainstSimpleGo(t *testing.T) {
	backend := newBackend(t)
	r := rand.New(rand.NewPCG(11, 12))
	n := 150 // about 0.3 s; enough for every algorithm to be chosen
	var before [5]int64
	for i := range before {
		before[i] = convPathRuns[i].Load()
	}
	for i := range n {
		checkConvConfig(t, backend, randomConvConfig(r), uint64(i))
	}
	for i, name := range []string{"gather q-lines", "gather k-lines", "scatter", "flat q-grid", "flat k-grid"} {
		if convPathRuns[i].Load() == before[i] {
			t.Errorf("convolution path %q not exercised", name)
		}
	}
}

// FuzzConv runs random configurations derived from the fuzzer's seed.
func FuzzConv(f *testing.F) {
	for s := range uint64(8) {
		f.Add(s)
	}
	backend := newBackend(f)
	f.Fuzz(func(t *testing.T, seed uint64) {
		r := rand.New(rand.NewPCG(seed, seed>>32))
		checkConvConfig(t, backend, randomConvConfig(r), seed)
	})
}

func TestDotGeneralAgainstSimpleGo(t *testing.T) {
	backend := newBackend(t)
	r := rand.New(rand.NewPCG(13, 14))
	cases := []struct {
		name   string
		l, rr  []int
		lc, lb []int
		rc, rb []int
	}{
		{"matmul", []int{5, 7}, []int{7, 3}, []int{1}, nil, []int{0}, nil},
		{"matmul-transposed", []int{7, 5}, []int{3, 7}, []int{0}, nil, []int{1}, nil},
		{"batched", []int{2, 5, 7}, []int{2, 7, 3}, []int{2}, []int{0}, []int{1}, []int{0}},
		{"permuted", []int{7, 2, 5}, []int{3, 2, 7}, []int{0}, []int{1}, []int{2}, []int{1}},
		{"multi-contract", []int{4, 3, 5, 2}, []int{3, 2, 6}, []int{1, 3}, nil, []int{0, 1}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			lv, rv := randFlat(r, prod(c.l)), randFlat(r, prod(c.rr))
			fn := func(l, rr *graph.Node) *graph.Node { return graph.DotGeneral(l, c.lc, c.lb, rr, c.rc, c.rb) }
			before := nativeRuns.Load()
			got := graph.MustExecOnce(backend, fn, tensors.FromFlatDataAndDimensions(lv, c.l...), tensors.FromFlatDataAndDimensions(rv, c.rr...))
			if nativeRuns.Load() == before {
				t.Fatal("native DotGeneral not used")
			}
			want := graph.MustExecOnce(simpleGoBackend, fn, tensors.FromFlatDataAndDimensions(lv, c.l...), tensors.FromFlatDataAndDimensions(rv, c.rr...))
			if !slices.Equal(got.Shape().Dimensions, want.Shape().Dimensions) {
				t.Fatalf("shape %s, SimpleGo %s", got.Shape(), want.Shape())
			}
			assertClose(t, tensors.MustCopyFlatData[float32](got), tensors.MustCopyFlatData[float32](want))
		})
	}
}
