package unet

import (
	"math"
	"slices"
	"testing"
)

func TestSummarize(t *testing.T) {
	be := goBackend(t)
	small := Config{Dims: 2, InChannels: 1, NumClasses: 2, BaseFilters: 2, MaxFilters: 4, Levels: 2, ConvsPerLevel: 2}
	t.Run("by hand", func(t *testing.T) {
		s, err := Summarize(be, small, []int{4, 4})
		if err != nil {
			t.Fatal(err)
		}
		// enc_0: 2x1x3x3 + 2x2x3x3 weights, 2 norms of 2+2; enc_1: 4x2x3x3 + 4x4x3x3, 2 norms of 4+4;
		// dec_0: up 8x4 (1x1) + 8 bias, 2x4x3x3 + 2x2x3x3, 2 norms of 2+2; head 2x2 + 2.
		want := []LevelSummary{
			{Level: 0, FeatureMap: []int{2, 4, 4}, Elements: 32, EncoderParams: 62, DecoderParams: 156, HeadParams: 6,
				FLOPs: 2 * (18 + 36 + 72 + 36 + 4) * 16},
			{Level: 1, FeatureMap: []int{4, 2, 2}, Elements: 16, EncoderParams: 232,
				FLOPs: 2 * (72 + 144 + 32) * 4},
		}
		if len(s.Levels) != len(want) {
			t.Fatalf("%d levels, want %d", len(s.Levels), len(want))
		}
		for l, w := range want {
			g := s.Levels[l]
			if g.Level != w.Level || !slices.Equal(g.FeatureMap, w.FeatureMap) || g.Elements != w.Elements ||
				g.EncoderParams != w.EncoderParams || g.DecoderParams != w.DecoderParams || g.HeadParams != w.HeadParams || g.FLOPs != w.FLOPs {
				t.Errorf("level %d = %+v, want %+v", l, g, w)
			}
		}
		if s.Params != 456 || s.HeadParams != 6 || s.FLOPs != 7296 {
			t.Errorf("totals: %d params, %d head params, %g FLOPs; want 456, 6, 7296", s.Params, s.HeadParams, s.FLOPs)
		}
		if !slices.Equal(s.Input, []int{1, 1, 4, 4}) || len(s.Heads) != 1 || !slices.Equal(s.Heads[0], []int{1, 2, 4, 4}) {
			t.Errorf("input %v, heads %v", s.Input, s.Heads)
		}
	})
	for _, c := range []struct {
		name  string
		cfg   Config
		patch []int
	}{
		{"2D", small, []int{4, 8}},
		{"3D, deep supervision, capped filters", Config{Dims: 3, InChannels: 2, NumClasses: 3, BaseFilters: 4, MaxFilters: 8,
			Levels: 3, ConvsPerLevel: 2, DeepSupervision: true}, []int{4, 8, 4}},
		{"3D anisotropic", Config{Dims: 3, InChannels: 1, NumClasses: 3, BaseFilters: 4, MaxFilters: 8, ConvsPerLevel: 2,
			DeepSupervision: true, PoolKernels: [][]int{{1, 2, 2}, {2, 2, 2}}, ConvKernels: [][]int{{1, 3, 3}, {3, 3, 3}, {3, 3, 3}}}, []int{4, 8, 12}},
	} {
		t.Run(c.name+" agrees with ForwardFLOPs", func(t *testing.T) {
			s, err := Summarize(be, c.cfg, c.patch)
			if err != nil {
				t.Fatal(err)
			}
			want := ForwardFLOPs(c.cfg, c.patch, 1)
			if math.Abs(s.FLOPs-want) > 1e-9*want {
				t.Errorf("FLOPs %g, ForwardFLOPs %g", s.FLOPs, want)
			}
			sum, params := 0.0, s.HeadParams
			for _, l := range s.Levels {
				sum += l.FLOPs
				params += l.EncoderParams + l.DecoderParams
			}
			if sum != s.FLOPs || params != s.Params {
				t.Errorf("levels add up to %g FLOPs and %d params, totals %g and %d", sum, params, s.FLOPs, s.Params)
			}
			if levels := s.Config.Levels; c.cfg.DeepSupervision && len(s.Heads) != levels-1 {
				t.Errorf("%d heads, want %d", len(s.Heads), levels-1)
			}
		})
	}
	for _, c := range []struct {
		name  string
		cfg   Config
		patch []int
	}{
		{"patch not divisible", small, []int{4, 5}},
		{"wrong number of axes", small, []int{4, 4, 4}},
		{"bad config", Config{Dims: 4, InChannels: 1, NumClasses: 2}, []int{4, 4, 4, 4}},
	} {
		if _, err := Summarize(be, c.cfg, c.patch); err == nil {
			t.Errorf("%s: no error", c.name)
		}
	}
}
