package train

import (
	"fmt"

	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// Batch is one batch of patches, channels first.
type Batch struct {
	Images []float32 // [B, C, spatial...] row-major
	Labels []uint8   // [B, 1, spatial...] class indices
	Shape  []int     // shape of Images: B, C, spatial...
}

// LabelShape is [B, 1, spatial...].
func (b *Batch) LabelShape() []int {
	s := append([]int{}, b.Shape...)
	s[1] = 1
	return s
}

// Validate checks the slice lengths against Shape.
func (b *Batch) Validate() error {
	if len(b.Shape) < 4 {
		return fmt.Errorf("train: batch shape %v must be [B, C, spatial...] with 2 or 3 spatial axes", b.Shape)
	}
	n := 1
	for _, d := range b.Shape {
		if d < 1 {
			return fmt.Errorf("train: batch shape %v has a non-positive axis", b.Shape)
		}
		n *= d
	}
	if len(b.Images) != n {
		return fmt.Errorf("train: batch has %d image values, shape %v needs %d", len(b.Images), b.Shape, n)
	}
	if len(b.Labels) != n/b.Shape[1] {
		return fmt.Errorf("train: batch has %d label values, shape %v needs %d", len(b.Labels), b.LabelShape(), n/b.Shape[1])
	}
	return nil
}

// tensors converts the batch to GoMLX tensors: float32 images and int32 labels.
func (b *Batch) tensors() (x, y *tensors.Tensor) {
	lab := make([]int32, len(b.Labels))
	for i, v := range b.Labels {
		lab[i] = int32(v)
	}
	return tensors.FromFlatDataAndDimensions(append([]float32(nil), b.Images...), b.Shape...),
		tensors.FromFlatDataAndDimensions(lab, b.LabelShape()...)
}

// BatchSource yields training batches, endlessly.
type BatchSource interface {
	Next() (*Batch, error)
}

// Stateful batch sources can save and restore their random state, so that a resumed run sees the
// same batches as an uninterrupted one. Sources that are not Stateful are replayed instead: on
// resume, the batches of the steps already done are drawn and dropped.
type Stateful interface {
	State() ([]byte, error)
	SetState([]byte) error
}

// dataset adapts a BatchSource to GoMLX's train.Dataset.
type dataset struct {
	src   BatchSource
	drawn int // batches drawn so far
}

func (d *dataset) Name() string { return "batches" }
func (d *dataset) Reset()       {}

// Yield implements train.Dataset.
func (d *dataset) Yield() (spec any, inputs, labels []*tensors.Tensor, err error) {
	b, err := d.src.Next()
	if err != nil {
		return nil, nil, nil, fmt.Errorf("train: batch %d: %w", d.drawn, err)
	}
	if err := b.Validate(); err != nil {
		return nil, nil, nil, fmt.Errorf("batch %d: %w", d.drawn, err)
	}
	d.drawn++
	x, y := b.tensors()
	return nil, []*tensors.Tensor{x}, []*tensors.Tensor{y}, nil
}
