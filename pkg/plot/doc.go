// Package plot draws the pictures of the pipeline with gonum/plot: slices of
// volumes with label overlays, training curves and Dice-versus-N plots, as
// PNG (or SVG) bytes, and shows them inline in GoNB notebooks.
//
// Slices follow the radiological convention. The voxel-to-world affine is
// read as nibabel's io_orientation does: each voxel axis is assigned,
// greedily by the largest absolute direction cosine, to the nearest NIfTI
// world axis (RAS+: +x right, +y anterior, +z superior). Axial views then
// show the patient's right on the image's left and anterior at the top;
// coronal views right on the left and superior at the top; sagittal views
// anterior on the left and superior at the top. The letters at the image
// edges are computed from the affine's directions, so they are correct for
// any voxel order; oblique affines (more than 1 degree off the axes) are
// shown on their nearest axes and flagged in the caption.
//
// Pixels keep the physical aspect: a view of n_h x n_v voxels of spacing
// s_h x s_v mm is drawn at n_h*s_h : n_v*s_v. Intensities are mapped
// linearly from a window [lo, hi] (by default the 0.5th and 99.5th
// percentiles of the channel, linear interpolation between order
// statistics) to black..white. Labels are blended with opacity Alpha and
// outlined opaque in colour-blind-safe colours of distinct luminance.
package plot
