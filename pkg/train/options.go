// Package train trains the U-Nets of package unet on batches of patches, nnU-Net style, on top of
// GoMLX's train.Trainer and train.Loop.
//
// Loss: Dice + cross-entropy (unet.DiceCELoss), weighted over the deep supervision heads when the
// model has them. Optimizers: SGD with Nesterov momentum (nnU-Net: lr 0.01, momentum 0.99, weight
// decay 3e-5), or GoMLX's Adam / AdamW. Learning rate schedules, with t the global step and T the
// number of steps:
//
//	poly:     lr_t = lr * (1 - t/T)^0.9       (nnU-Net)
//	cosine:   GoMLX's cosineschedule over T steps
//	constant: lr_t = lr
//
// A run lives in a directory: model.json (network, patch, options and the caller's preprocessing
// description), checkpoints/ (GoMLX checkpoints: weights, optimizer state, global step, plus the batch
// source's state so that an interrupted run resumes on exactly the same batches), metrics.csv and
// metrics.json (loss, learning rate and validation Dice over the steps).
package train

import (
	"encoding/json"
	"fmt"

	"github.com/msdkit/msdkit/pkg/unet"
)

// Options of a training run. The zero value of a field means its default (see Defaults).
type Options struct {
	Steps     int   `json:"steps"`      // total optimizer steps T
	BatchSize int   `json:"batch_size"` // informative: the batch source decides
	Patch     []int `json:"patch"`      // spatial patch size (z, y, x) or (y, x)

	Optimizer    string  `json:"optimizer"`     // "sgd" (Nesterov momentum), "adam" or "adamw"
	LearningRate float64 `json:"learning_rate"` // initial learning rate
	Momentum     float64 `json:"momentum"`      // SGD momentum
	WeightDecay  float64 `json:"weight_decay"`  // SGD L2 / AdamW decoupled decay
	Schedule     string  `json:"schedule"`      // "poly", "cosine" or "constant"
	PolyExponent float64 `json:"poly_exponent"` // exponent of the poly schedule

	Seed            uint64 `json:"seed"`             // weight initialisation seed
	ValEvery        int    `json:"val_every"`        // steps between validations (0: only at the end)
	CheckpointEvery int    `json:"checkpoint_every"` // steps between checkpoints (0: only at the end)
	KeepCheckpoints int    `json:"keep_checkpoints"` // checkpoints kept on disk

	// MaxLoss stops the run when a batch loss exceeds it (divergence guard); NaN/Inf always stop it.
	MaxLoss float64 `json:"max_loss"`

	// Pretrained is a run directory (or checkpoints directory) whose weights initialise the model,
	// except the segmentation head (transfer learning). Only used when the run starts from scratch.
	Pretrained string `json:"pretrained,omitempty"`
	// FreezeEncoderSteps keeps the encoder ("enc_*" scopes) frozen for that many initial steps.
	FreezeEncoderSteps int `json:"freeze_encoder_steps,omitempty"`

	Quiet bool `json:"-"` // no progress bar or log lines
}

// Defaults returns o with zero fields set to nnU-Net's defaults.
func (o Options) Defaults() Options {
	if o.Steps == 0 {
		o.Steps = 1000
	}
	if o.Optimizer == "" {
		o.Optimizer = "sgd"
	}
	if o.LearningRate == 0 {
		switch o.Optimizer {
		case "sgd":
			o.LearningRate = 0.01
		default:
			o.LearningRate = 3e-4
		}
	}
	if o.Momentum == 0 {
		o.Momentum = 0.99
	}
	if o.WeightDecay == 0 {
		o.WeightDecay = 3e-5
	}
	if o.Schedule == "" {
		o.Schedule = "poly"
	}
	if o.PolyExponent == 0 {
		o.PolyExponent = 0.9
	}
	if o.Seed == 0 {
		o.Seed = 42
	}
	if o.KeepCheckpoints == 0 {
		o.KeepCheckpoints = 2
	}
	if o.MaxLoss == 0 {
		o.MaxLoss = 1e3
	}
	return o
}

// Validate reports invalid options (after Defaults).
func (o Options) Validate() error {
	switch {
	case o.Steps < 1:
		return fmt.Errorf("train: Steps must be >= 1, got %d", o.Steps)
	case o.Optimizer != "sgd" && o.Optimizer != "adam" && o.Optimizer != "adamw":
		return fmt.Errorf("train: unknown optimizer %q (want sgd, adam or adamw)", o.Optimizer)
	case o.Schedule != "poly" && o.Schedule != "cosine" && o.Schedule != "constant":
		return fmt.Errorf("train: unknown schedule %q (want poly, cosine or constant)", o.Schedule)
	case o.LearningRate <= 0:
		return fmt.Errorf("train: LearningRate must be > 0, got %g", o.LearningRate)
	case o.Momentum < 0 || o.Momentum >= 1:
		return fmt.Errorf("train: Momentum must be in [0, 1), got %g", o.Momentum)
	case o.ValEvery < 0 || o.CheckpointEvery < 0 || o.FreezeEncoderSteps < 0:
		return fmt.Errorf("train: negative ValEvery/CheckpointEvery/FreezeEncoderSteps")
	}
	return nil
}

// ModelInfo is what a run directory's model.json holds: everything inference needs.
type ModelInfo struct {
	Model   unet.Config `json:"model"`
	Patch   []int       `json:"patch"`
	Options Options     `json:"options"`
	// Labels names the classes (index -> name), optional.
	Labels map[string]string `json:"labels,omitempty"`
	// Preprocessing is the caller's description of how inputs were prepared (e.g. volume.Steps),
	// stored verbatim for inference.
	Preprocessing json.RawMessage `json:"preprocessing,omitempty"`
	// Plans is the caller's plans JSON, stored verbatim (optional).
	Plans json.RawMessage `json:"plans,omitempty"`
}
