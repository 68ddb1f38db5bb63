package nifti

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
)

// Affine is a 4x4 voxel-to-world matrix, row-major.
type Affine = [4][4]float64

// Identity is the 4x4 identity.
var Identity = Affine{{1, 0, 0, 0}, {0, 1, 0, 0}, {0, 0, 1, 0}, {0, 0, 0, 1}}

// SForm returns the affine of the srow fields (whatever sform_code is).
func (h *Header) SForm() Affine {
	return Affine{h.SrowX, h.SrowY, h.SrowZ, {0, 0, 0, 1}}
}

// quaternion returns (a, b, c, d) completing b, c, d to a unit quaternion as
// nibabel's fillpositive; when b²+c²+d² exceeds 1 by more than rounding, b,
// c, d are normalised and a = 0 (nifti_clib's rule; nibabel raises).
func (h *Header) quaternion() (a, b, c, d float64) {
	b, c, d = h.QuaternB, h.QuaternC, h.QuaternD
	w2 := 1 - (b*b + c*c + d*d)
	thresh := 3 * 0x1p-23 // nibabel: 3 float32 eps for NIfTI-1
	if h.Format == FormatNIfTI2 {
		thresh = 3 * 0x1p-52
	}
	switch {
	case w2 >= 0:
		a = math.Sqrt(w2)
	case w2 >= -thresh:
		a = 0
	default:
		n := math.Sqrt(b*b + c*c + d*d)
		b, c, d = b/n, c/n, d/n
	}
	return a, b, c, d
}

// quatToMat is the rotation matrix of a unit quaternion (nibabel quat2mat).
func quatToMat(w, x, y, z float64) [3][3]float64 {
	n := w*w + x*x + y*y + z*z
	if n < 1e-300 {
		return [3][3]float64{{1, 0, 0}, {0, 1, 0}, {0, 0, 1}}
	}
	s := 2 / n
	X, Y, Z := x*s, y*s, z*s
	wX, wY, wZ := w*X, w*Y, w*Z
	xX, xY, xZ := x*X, x*Y, x*Z
	yY, yZ, zZ := y*Y, y*Z, z*Z
	return [3][3]float64{
		{1 - (yY + zZ), xY - wZ, xZ + wY},
		{xY + wZ, 1 - (xX + zZ), yZ - wX},
		{xZ - wY, yZ + wX, 1 - (xX + yY)},
	}
}

// QForm returns the affine of the quaternion fields (whatever qform_code is).
func (h *Header) QForm() Affine {
	a, b, c, d := h.quaternion()
	r := quatToMat(a, b, c, d)
	vox := [3]float64{h.Pixdim[1], h.Pixdim[2], h.Pixdim[3]}
	qfac := h.Pixdim[0]
	if qfac != -1 {
		qfac = 1
	}
	vox[2] *= qfac
	var out Affine
	for i := 0; i < 3; i++ {
		for j := 0; j < 3; j++ {
			out[i][j] = r[i][j] * vox[j]
		}
	}
	out[0][3], out[1][3], out[2][3] = h.QoffsetX, h.QoffsetY, h.QoffsetZ
	out[3][3] = 1
	return out
}

// BaseAffine is nibabel's fallback affine: diag(-dx, dy, dz) centred on the
// image (shape_zoom_affine with x flip).
func (h *Header) BaseAffine() Affine {
	var out Affine
	for i := 0; i < 3; i++ {
		n, z := 1.0, 1.0
		if i < h.NDim() {
			n, z = float64(h.Dim[i+1]), h.Pixdim[i+1]
		}
		if i == 0 {
			z = -z
		}
		out[i][i] = z
		out[i][3] = -(n - 1) / 2 * z
	}
	out[3][3] = 1
	return out
}

// analyzeAffine is SPM's origin affine used by nibabel for plain ANALYZE
// files (Spm99AnalyzeHeader.get_origin_affine).
func (h *Header) analyzeAffine() Affine {
	out := h.BaseAffine()
	o := h.Origin
	any := o[0] != 0 || o[1] != 0 || o[2] != 0
	inside := true
	for i := 0; i < 3; i++ {
		d := int64(1)
		if i < h.NDim() {
			d = h.Dim[i+1]
		}
		if int64(o[i]) <= -d || int64(o[i]) >= 2*d {
			inside = false
		}
	}
	if any && inside {
		for i := 0; i < 3; i++ {
			out[i][3] = -float64(o[i]-1) * out[i][i]
		}
	}
	return out
}

// Affine returns the voxel-to-world affine by nibabel's rule: sform when
// sform_code != 0, else qform when qform_code != 0, else BaseAffine (for
// ANALYZE files, SPM's origin affine).
func (h *Header) Affine() Affine {
	switch {
	case h.Format == FormatANALYZE:
		return h.analyzeAffine()
	case h.SformCode != 0:
		return h.SForm()
	case h.QformCode != 0:
		return h.QForm()
	}
	return h.BaseAffine()
}

// polar returns the closest orthogonal matrix to m (P*Qᵀ of its SVD) and the
// singular values.
func polar(m [3][3]float64) ([3][3]float64, [3]float64, bool) {
	d := mat.NewDense(3, 3, []float64{m[0][0], m[0][1], m[0][2], m[1][0], m[1][1], m[1][2], m[2][0], m[2][1], m[2][2]})
	var svd mat.SVD
	if !svd.Factorize(d, mat.SVDFull) {
		return m, [3]float64{}, false
	}
	var u, v, pr mat.Dense
	svd.UTo(&u)
	svd.VTo(&v)
	pr.Mul(&u, v.T())
	var out [3][3]float64
	for i := 0; i < 3; i++ {
		for j := 0; j < 3; j++ {
			out[i][j] = pr.At(i, j)
		}
	}
	var s [3]float64
	copy(s[:], svd.Values(nil))
	return out, s, true
}

// matToQuat returns the unit quaternion (w, x, y, z), w >= 0, of a rotation
// matrix: the eigenvector of the largest eigenvalue of Bar-Itzhack's K
// matrix, as nibabel's mat2quat.
func matToQuat(m [3][3]float64) [4]float64 {
	qxx, qyx, qzx := m[0][0], m[0][1], m[0][2]
	qxy, qyy, qzy := m[1][0], m[1][1], m[1][2]
	qxz, qyz, qzz := m[2][0], m[2][1], m[2][2]
	k := mat.NewSymDense(4, []float64{
		qxx - qyy - qzz, qyx + qxy, qzx + qxz, qyz - qzy,
		qyx + qxy, qyy - qxx - qzz, qzy + qyz, qzx - qxz,
		qzx + qxz, qzy + qyz, qzz - qxx - qyy, qxy - qyx,
		qyz - qzy, qzx - qxz, qxy - qyx, qxx + qyy + qzz,
	})
	var es mat.EigenSym
	if !es.Factorize(k, true) {
		return [4]float64{1, 0, 0, 0}
	}
	vals := es.Values(nil)
	var vecs mat.Dense
	es.VectorsTo(&vecs)
	best := 0
	for i := range vals {
		if vals[i] > vals[best] {
			best = i
		}
	}
	// K's eigenvector is (x, y, z, w).
	q := [4]float64{vecs.At(3, best), vecs.At(0, best), vecs.At(1, best), vecs.At(2, best)}
	if q[0] < 0 {
		for i := range q {
			q[i] = -q[i]
		}
	}
	return q
}

// SetQForm stores affine a in the quaternion fields as nibabel's set_qform
// (shears stripped): pixdim[1..3] = column norms, qfac = sign of the
// determinant, quaternion of the closest rotation. code is the qform_code.
func (h *Header) SetQForm(a Affine, code int32) error {
	var rzs [3][3]float64
	var zooms [3]float64
	for j := 0; j < 3; j++ {
		for i := 0; i < 3; i++ {
			zooms[j] += a[i][j] * a[i][j]
		}
		zooms[j] = math.Sqrt(zooms[j])
		if zooms[j] == 0 || math.IsNaN(zooms[j]) || math.IsInf(zooms[j], 0) {
			return fmt.Errorf("qform: affine column %d has norm %v", j, zooms[j])
		}
		for i := 0; i < 3; i++ {
			rzs[i][j] = a[i][j] / zooms[j]
		}
	}
	qfac := 1.0
	if det3(rzs) < 0 {
		qfac = -1
		for i := 0; i < 3; i++ {
			rzs[i][2] = -rzs[i][2]
		}
	}
	pr, _, ok := polar(rzs)
	if !ok {
		return fmt.Errorf("qform: SVD of the affine failed")
	}
	q := matToQuat(pr)
	h.QformCode = code
	h.QoffsetX, h.QoffsetY, h.QoffsetZ = a[0][3], a[1][3], a[2][3]
	h.Pixdim[0] = qfac
	h.Pixdim[1], h.Pixdim[2], h.Pixdim[3] = zooms[0], zooms[1], zooms[2]
	h.QuaternB, h.QuaternC, h.QuaternD = q[1], q[2], q[3]
	return nil
}

// SetSForm stores affine a in the srow fields with the given sform_code.
func (h *Header) SetSForm(a Affine, code int32) {
	h.SformCode = code
	h.SrowX, h.SrowY, h.SrowZ = a[0], a[1], a[2]
}

func det3(m [3][3]float64) float64 {
	return m[0][0]*(m[1][1]*m[2][2]-m[1][2]*m[2][1]) -
		m[0][1]*(m[1][0]*m[2][2]-m[1][2]*m[2][0]) +
		m[0][2]*(m[1][0]*m[2][1]-m[1][1]*m[2][0])
}

// Orientation returns the axis codes of h.Affine(), e.g. "RAS" (see the
// function Orientation).
func (h *Header) Orientation() string { return Orientation(h.Affine()) }

// Orientation returns the axis codes of an affine as nibabel's aff2axcodes
// with labels (L,R), (P,A), (I,S): for each voxel axis the letter of the
// positive end of the world axis it runs along, e.g. "RAS" or "LPS". A voxel
// axis with no world direction gets '?'.
func Orientation(a Affine) string {
	var rzs [3][3]float64
	for j := 0; j < 3; j++ {
		n := 0.0
		for i := 0; i < 3; i++ {
			n += a[i][j] * a[i][j]
		}
		n = math.Sqrt(n)
		if n == 0 {
			n = 1
		}
		for i := 0; i < 3; i++ {
			rzs[i][j] = a[i][j] / n
		}
	}
	d := mat.NewDense(3, 3, nil)
	for i := 0; i < 3; i++ {
		for j := 0; j < 3; j++ {
			d.Set(i, j, rzs[i][j])
		}
	}
	var svd mat.SVD
	out := []byte("???")
	if !svd.Factorize(d, mat.SVDFull) {
		return string(out)
	}
	s := svd.Values(nil)
	var u, v mat.Dense
	svd.UTo(&u)
	svd.VTo(&v)
	tol := s[0] * 3 * 0x1p-52
	var r [3][3]float64
	for k := 0; k < 3; k++ {
		if !(s[k] > tol) {
			continue
		}
		for i := 0; i < 3; i++ {
			for j := 0; j < 3; j++ {
				r[i][j] += u.At(i, k) * v.At(j, k)
			}
		}
	}
	labels := [3][2]byte{{'L', 'R'}, {'P', 'A'}, {'I', 'S'}}
	for in := 0; in < 3; in++ {
		best, bestAbs, zero := -1, 0.0, true
		for o := 0; o < 3; o++ {
			if math.Abs(r[o][in]) > 1e-8 {
				zero = false
			}
		}
		if zero {
			continue
		}
		for o := 0; o < 3; o++ {
			if ab := math.Abs(r[o][in]); best < 0 || ab > bestAbs {
				best, bestAbs = o, ab
			}
		}
		if r[best][in] == 0 {
			continue
		}
		if r[best][in] < 0 {
			out[in] = labels[best][0]
		} else {
			out[in] = labels[best][1]
		}
		for j := 0; j < 3; j++ {
			r[best][j] = 0
		}
	}
	return string(out)
}
