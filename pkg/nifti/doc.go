// Package nifti reads and writes NIfTI-1 and NIfTI-2 images (.nii, .nii.gz,
// .hdr/.img pairs, gzipped or not, either byte order) and plain ANALYZE 7.5
// .hdr/.img pairs, following the NIfTI standard and nibabel's interpretation
// of it.
//
// # Data
//
// Voxels are kept as stored, converted to the machine's byte order, x fastest
// (the value at (i, j, k, t) is at index i + nx*(j + ny*(k + nz*t))). Typed
// accessors (Uint8, Int16, Float32Raw, ..., or the generic Data[T]) return
// the stored values without copying. Float32 applies the intensity scaling
//
//	value = scl_slope * stored + scl_inter
//
// where, as in nibabel, a slope of 0 or a non-finite slope means "no
// scaling", and a finite slope with a non-finite intercept is an error.
//
// # Geometry
//
// The voxel-to-world affine A maps (i, j, k, 1) to (x, y, z, 1) in mm. It is
// chosen as nibabel's get_best_affine does:
//
//   - sform_code != 0: the rows srow_x, srow_y, srow_z;
//   - else qform_code != 0: the quaternion form A = [R * diag(dx, dy, qfac*dz) | q]
//     where R is the rotation of the unit quaternion (a, b, c, d) with
//     a = sqrt(1 - b² - c² - d²), dx, dy, dz = pixdim[1..3], qfac = pixdim[0]
//     and q = (qoffset_x, qoffset_y, qoffset_z);
//   - else the "base" affine diag(-dx, dy, dz) with the image centre at the
//     origin: A[:3,3] = -((n-1)/2) * zooms (radiological x flip, nibabel's
//     shape_zoom_affine).
//
// Like nibabel's header checks, reading fixes pixdim[1..3] (absolute value,
// 0 becomes 1), a qfac other than ±1 (becomes 1) and unknown qform/sform codes
// (become 0). Writing stores the affine in the sform and, as nibabel's
// set_qform, the closest rotation (polar decomposition) as a quaternion with
// qfac = sign(det) and pixdim[1..3] = column norms of the affine.
//
// Orientation codes (Orientation, e.g. "RAS" or "LPS") follow nibabel's
// aff2axcodes: for each voxel axis, the world axis with the largest component
// of the affine's closest rotation, taken greedily.
//
// # Safety
//
// Every header is validated (sizeof_hdr, magic, dims, datatype, vox_offset,
// sizes) before allocating; the data size is capped by MaxDataBytes, and for
// gzip input additionally by the maximum deflate expansion of the compressed
// size, so a tiny corrupt file cannot request gigabytes. Errors name the file
// and the field.
package nifti
