// Package msd knows the Medical Segmentation Decathlon (MSD; Simpson et al.
// 2019, arXiv:1902.09063; data licence CC-BY-SA 4.0): the registry of its ten
// tasks, where the sets live, how to fetch them, how to read a set's
// dataset.json and its cases, and how to split the cases for
// cross-validation.
//
// # Data root
//
// DataRoot is $MSD_DATA, else the "data" folder at the root of the Go module
// containing the working directory. A set lives in <root>/<Task>, in the MSD
// layout: dataset.json, imagesTr/, labelsTr/, imagesTs/.
//
// # Download
//
// Downloader.Fetch gets <Task>.tar from MONAI's mirror (or $MSD_MIRROR):
//
//  1. The body is appended to <root>/<Task>.tar.part; a dropped connection is
//     resumed with "Range: bytes=<size>-" (a 200 answer means the server
//     ignored the range: the part is restarted from byte 0). The md5 is
//     computed while the bytes arrive (the kept prefix is hashed first).
//  2. A whole archive whose md5 differs from the registry's is deleted;
//     otherwise it is renamed to <root>/<Task>.tar.
//  3. It is extracted into a hidden <root>/.<Task>.tmp-* folder: absolute
//     names, ".." escapes and links pointing outside are refused, "._*"
//     AppleDouble files and special files are skipped, no link is created.
//  4. The marker <Task>/.complete (JSON with the md5) is written and fsynced,
//     then the folder is renamed to <root>/<Task> in one step.
//
// So a folder <root>/<Task> exists only once complete, a rerun after any
// failure resumes or restarts the step that failed, and a rerun after
// success only reads the marker (Check) and checks that every file listed in
// dataset.json is there (a set that lost files is downloaded again).
//
// # Cases
//
// Open parses dataset.json; LoadCase reads a case with volume.Read and checks
// that image and label share shape, spacing and affine (each within
// GeometryTolerance, relative to max(1, |value|)) and that labels are whole
// numbers in 0..len(labels)-1.
//
// # Splits
//
// KFold shuffles the sorted case IDs with a seeded PCG generator and cuts
// them into k validation blocks of sizes ⌈n/k⌉ or ⌊n/k⌋; Splits stores the
// folds as JSON (nnU-Net's splits_final.json layout: [{"train": [...],
// "val": [...]}, ...]) and reuses the file afterwards, so every experiment on
// a set validates on the same cases.
package msd
