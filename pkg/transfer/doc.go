// Package transfer answers one question with a controlled experiment: does pretraining a U-Net
// on Task04 Hippocampus help segmenting the left atrium (Task02 Heart, or the LA2018 set that
// stands in for it), and for how many labelled target cases?
//
// # Design
//
// A source model is trained on the hippocampus set (or an existing run directory is reused).
// Then, for every number N of labelled target cases and every seed, three arms are trained on
// the SAME N cases with the SAME compute (optimizer steps, batch size, patch size, schedule):
//
//   - scratch:  random initialisation;
//   - transfer: every variable but the segmentation head initialised from the source model
//     (train.Options.Pretrained), all layers trained from step 0;
//   - frozen:   as transfer, with the encoder frozen for the first FreezeSteps steps
//     (train.Options.FreezeEncoderSteps), a warm-up of the new head and the decoder.
//
// The target cases are split once, with a seeded shuffle of the sorted case IDs, into a fixed
// test set (never used for training, the same for every run) and a training pool. The N training
// cases of seed s are the first N of the pool shuffled with s: the arms of one seed see the same
// cases (a paired comparison), different seeds different cases, so the spread over seeds contains
// both the initialisation and the case-selection variance. Every run is scored by sliding-window
// inference on the whole preprocessed test cases (infer.Predictor.EvaluateCases, metrics.Dice),
// and its validation curve is the patch pseudo-Dice on fixed test-case patches every ValEvery
// steps (monitoring only: no early stopping or model selection uses it, the final weights are
// scored).
//
// # Plans and topology
//
// Each set is preprocessed by its OWN plan (package plans): its target spacing (hippocampus 1 mm,
// left atrium resampled from 0.625 mm to Config.TargetSpacing: 2 mm by default for CPU budgets,
// nnU-Net's Task02 plan uses 1.25 mm) and its own per-image z-score normalisation, so the intensity and
// spacing differences between the sets are removed by preprocessing, not learnt. Weights can only
// move between networks of the same topology, so both plans' 3D configuration is rewritten to one
// shared Topology (levels, base and maximum filters, convolutions per level; isotropic 2x pooling
// and 3x3x3 kernels, which is what the hippocampus plan chooses at 1 mm anyway). The patch size
// may differ between the sets (convolution weights do not depend on it); it only has to be a
// multiple of 2^(Levels-1). The source model is pretrained with this heart-compatible topology.
//
// # Conclusion
//
// For each N the paired differences d_s = Dice_arm(s) - Dice_scratch(s) over the seeds s give
// the mean difference and its standard error SE = sd(d)/sqrt(k). The conclusion says that the
// arm helps (or hurts) at N when |mean d| > 2 SE and also exceeds the seed spread (the larger
// sample standard deviation of the two arms' Dice); otherwise the difference is within the noise.
// Everything is computed from the results table; nothing is hard-coded.
//
// # Resuming
//
// Results are appended to results.json and results.csv after every run (atomic writes). A rerun
// skips finished (arm, N, seed) rows; an interrupted run resumes from its last checkpoint.
package transfer
