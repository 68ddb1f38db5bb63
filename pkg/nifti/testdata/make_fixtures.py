#!/usr/bin/python3
"""Make the small NIfTI/ANALYZE fixtures of pkg/nifti with nibabel, and the
values nibabel reads back from them (expected.json).

Run from this directory with Debian's python3-nibabel:
    /usr/bin/python3 make_fixtures.py
Every fixture is tiny (a few hundred bytes); expected.json holds, per file,
nibabel's shape, datatype, zooms, best affine, qform/sform and codes, slope
and intercept, aff2axcodes, the stored values (dataobj.get_unscaled) and
get_fdata() values.
"""
import gzip
import json
import math
import os
import shutil

import numpy as np
import nibabel as nib
from nibabel.orientations import aff2axcodes

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "fixtures")


def rot_affine(zooms, angle_deg, offset, flip_z=False):
    a = math.radians(angle_deg)
    c, s = math.cos(a), math.sin(a)
    R = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1.0]])
    # also tilt about x a little so all entries are used
    b = math.radians(10)
    Rx = np.array([[1, 0, 0], [0, math.cos(b), -math.sin(b)], [0, math.sin(b), math.cos(b)]])
    M = R @ Rx @ np.diag(zooms)
    if flip_z:
        M[:, 2] *= -1
    aff = np.eye(4)
    aff[:3, :3] = M
    aff[:3, 3] = offset
    return aff


def ramp(shape, dtype, scale=1, off=0):
    n = int(np.prod(shape))
    v = (np.arange(n) * scale + off)
    return v.astype(dtype).reshape(shape, order="F")


def patch_f32(path, offset, value, endian="<"):
    """Overwrite one float32 header field in place (nibabel's writer resets
    scl_slope/scl_inter when the data need no scaling)."""
    raw = bytearray(open(path, "rb").read())
    raw[offset:offset + 4] = np.array(value, dtype=endian + "f4").tobytes()
    open(path, "wb").write(bytes(raw))


def main():
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)
    made = []

    def save(img, name):
        path = os.path.join(OUT, name)
        nib.save(img, path)
        made.append(name)
        return path

    # 1. float32, gzipped, sform and qform from an oblique affine (codes 1/1).
    aff = rot_affine([1.5, 2.0, 3.0], 30, [-10, 20.5, 7])
    img = nib.Nifti1Image(ramp((3, 4, 5), np.float32, 0.25, -3), aff)
    img.header.set_qform(aff, code=1)
    img.header.set_sform(aff, code=1)
    save(img, "oblique_f32.nii.gz")

    # 2. scaled int16, big-endian, uncompressed.
    hdr = nib.Nifti1Header(endianness=">")
    img = nib.Nifti1Image(ramp((4, 3, 2), np.int16, 700, -8000), np.diag([0.9, 0.9, 2.5, 1]), hdr)
    img.header.set_data_dtype(np.int16)
    img.header.set_qform(np.diag([0.9, 0.9, 2.5, 1]), code=1)
    img.header.set_xyzt_units("meter", "msec")
    path = save(img, "be_int16_scaled.nii")
    patch_f32(path, 112, 0.5, ">")   # scl_slope
    patch_f32(path, 116, 12.0, ">")  # scl_inter

    # 3. qform only (sform code 0), qfac -1 (left-handed), LPS-ish.
    aff = rot_affine([1.0, 1.2, 2.0], -20, [90, 100, -50], flip_z=True)
    aff = np.diag([-1, -1, 1, 1]) @ aff
    img = nib.Nifti1Image(ramp((5, 4, 3), np.uint8, 3), None)
    img.header.set_qform(aff, code=1)
    img.header.set_sform(None, code=0)
    img.header.set_xyzt_units("micron", "usec")
    save(img, "qform_only.nii")

    # 4. sform only with a shear (qform code 0).
    aff = np.array([[2.0, 0.3, 0, -5], [0, 2.0, 0.1, 3], [0, 0, 2.5, 1], [0, 0, 0, 1]])
    img = nib.Nifti1Image(ramp((3, 3, 3), np.uint16, 2000), None)
    img.header.set_sform(aff, code=2)
    img.header.set_qform(None, code=0)
    img.header.set_xyzt_units("mm", "hz")
    save(img, "sform_only_shear.nii")

    # 5. neither transform: nibabel's centred base affine with x flip.
    img = nib.Nifti1Image(ramp((4, 3, 2), np.int8, 5, -60), None)
    img.header.set_zooms((1.5, 2.0, 0.5))
    img.header.set_sform(None, code=0)
    img.header.set_qform(None, code=0)
    save(img, "no_xform.nii")

    # 6. NIfTI-2, float64, 4D, gzipped.
    aff = rot_affine([1.0, 1.0, 1.5], 45, [1, 2, 3])
    img = nib.Nifti2Image(ramp((3, 2, 2, 3), np.float64, 0.001, -1), aff)
    img.header.set_qform(aff, code=1)
    img.header.set_sform(aff, code=4)
    img.header.set_xyzt_units("mm", "sec")
    save(img, "nifti2_f64_4d.nii.gz")

    # 7. NIfTI-2 big-endian int32, uncompressed.
    hdr = nib.Nifti2Header(endianness=">")
    img = nib.Nifti2Image(ramp((2, 3, 4), np.int32, 100000, -1000000), np.diag([2, 2, 2, 1]), hdr)
    img.header.set_data_dtype(np.int32)
    save(img, "nifti2_be_int32.nii")

    # 8. NIfTI-1 pair, uint32.
    aff = rot_affine([0.8, 0.8, 1.2], 10, [5, 6, 7])
    img = nib.Nifti1Pair(ramp((3, 2, 3), np.uint32, 123456789), aff)
    save(img, "pair_u32.img")
    made.append("pair_u32.hdr")

    # 9. gzipped pair, int64, big-endian, 5D.
    hdr = nib.Nifti1Header(endianness=">")
    img = nib.Nifti1Pair(ramp((2, 2, 2, 2, 2), np.int64, 10**11, -5), np.diag([1, 2, 3, 1]), hdr)
    img.header.set_data_dtype(np.int64)
    save(img, "pair_gz_i64_5d.img.gz")
    made.append("pair_gz_i64_5d.hdr.gz")

    # 10. uint64 and float32 with scaling, 4D single.
    img = nib.Nifti1Image(ramp((2, 2, 3, 2), np.uint64, 10**15), np.diag([1, 1, 1, 1]), dtype=np.uint64)
    img.header.set_data_dtype(np.uint64)
    save(img, "u64_4d.nii")
    img = nib.Nifti1Image(ramp((3, 2, 2), np.float32, 1.5, 2), np.diag([3, 3, 3, 1]))
    path = save(img, "f32_scaled.nii")
    patch_f32(path, 112, 2.0)
    patch_f32(path, 116, -1.0)

    # 11. RGB24 (structured dtype).
    rgb = np.zeros((2, 3, 2), dtype=[("R", "u1"), ("G", "u1"), ("B", "u1")])
    flat = rgb.reshape(-1, order="F")
    for i in range(flat.size):
        flat[i] = (i, 2 * i, 255 - i)
    rgb = flat.reshape((2, 3, 2), order="F")
    img = nib.Nifti1Image(rgb, np.eye(4))
    save(img, "rgb24.nii")

    # 12. plain ANALYZE 7.5 pair (no magic), int16; and one with an SPM origin
    #     and scale factor. nibabel.load reads both as SPM2 ANALYZE.
    img = nib.AnalyzeImage(ramp((4, 3, 2), np.int16, 11, -30), np.diag([2, 3, 4, 1]))
    save(img, "analyze.img")
    made.append("analyze.hdr")
    img = nib.Spm99AnalyzeImage(ramp((4, 3, 2), np.int16, 7, 1), None)
    img.header.set_zooms((1.5, 1.5, 2.0))
    img.header["origin"][:3] = [2, 1, 2]
    save(img, "analyze_spm.img")
    patch_f32(os.path.join(OUT, "analyze_spm.hdr"), 112, 0.25)  # SPM funused1
    made.append("analyze_spm.hdr")

    # 12b. big-endian ANALYZE pair written byte by byte, gzipped.
    hdr = nib.AnalyzeHeader(endianness=">")
    hdr.set_data_dtype(np.float32)
    hdr.set_data_shape((3, 2, 2))
    hdr.set_zooms((0.5, 0.75, 1.0))
    data = ramp((3, 2, 2), np.float32, -0.5, 4)
    with gzip.GzipFile(os.path.join(OUT, "analyze_be.hdr.gz"), "wb", mtime=0) as f:
        f.write(hdr.binaryblock)
    with gzip.GzipFile(os.path.join(OUT, "analyze_be.img.gz"), "wb", mtime=0) as f:
        f.write(data.astype(">f4").tobytes(order="F"))
    made += ["analyze_be.hdr.gz", "analyze_be.img.gz"]

    # 13. qfac 0 and negative pixdim in a file: nibabel fixes them on load.
    aff = np.diag([1.0, 2.0, 3.0, 1])
    img = nib.Nifti1Image(ramp((2, 2, 2), np.float32), aff)
    img.header.set_qform(aff, code=1)
    img.header.set_sform(None, code=0)
    path = save(img, "qfac0.nii")
    raw = bytearray(open(path, "rb").read())
    raw[76:80] = np.float32(0).tobytes()   # pixdim[0] = qfac = 0
    raw[80:84] = np.float32(-1).tobytes()  # pixdim[1] negative
    open(path, "wb").write(bytes(raw))

    expected = {}
    for name in sorted(made):
        if name.endswith(".hdr") or name.endswith(".hdr.gz"):
            continue
        path = os.path.join(OUT, name)
        img = nib.load(path)
        hdr = img.header
        e = {
            "class": type(img).__name__,
            "shape": [int(s) for s in img.shape],
            "dtype": str(img.get_data_dtype().newbyteorder("=")),
            "zooms": [float(z) for z in hdr.get_zooms()],
            "affine": img.affine.tolist(),
            "axcodes": "".join(aff2axcodes(img.affine)),
            "endian": hdr.endianness,
        }
        if hasattr(hdr, "get_qform"):
            q, qc = hdr.get_qform(coded=True)
            s, sc = hdr.get_sform(coded=True)
            e["qform_code"], e["sform_code"] = int(qc), int(sc)
            e["qform"] = hdr.get_qform().tolist()
            e["sform"] = hdr.get_sform().tolist()
        # After loading, nibabel moves the scaling from the header into the
        # array proxy.
        if hasattr(hdr, "get_xyzt_units"):
            e["units"] = list(hdr.get_xyzt_units())
        slope, inter = float(img.dataobj.slope), float(img.dataobj.inter)
        if slope == 1 and inter == 0:
            slope = inter = None
        e["slope"] = None if slope is None else float(slope)
        e["inter"] = None if inter is None else float(inter)
        if img.get_data_dtype().fields is None:
            raw = np.asanyarray(img.dataobj.get_unscaled()).reshape(-1, order="F")
            e["raw"] = [int(v) if raw.dtype.kind in "iu" else float(v) for v in raw]
            fdata = img.get_fdata(dtype=np.float64).reshape(-1, order="F")
            if slope is not None:  # else fdata == raw
                e["fdata"] = [float(v) for v in fdata]
        else:
            raw = np.asanyarray(img.dataobj).reshape(-1, order="F")
            e["raw"] = [int(b) for v in raw for b in v]
        expected[name] = e
    # set_qform cases: the quaternion, qfac and zooms nibabel stores for an
    # affine (NIfTI-2 header, so float64 fields).
    cases = []
    affs = [
        np.eye(4),
        rot_affine([1.5, 2.0, 3.0], 30, [-10, 20.5, 7]),
        rot_affine([1.0, 1.2, 2.0], -20, [90, 100, -50], flip_z=True),
        np.diag([-1.0, -1.0, 1.0, 1.0]),                  # 180 deg about z (w = 0)
        np.diag([1.0, -1.0, -1.0, 1.0]),                  # 180 deg about x
        np.diag([-2.0, 3.0, 4.0, 1.0]),                   # left-handed
        np.array([[0, 0, 1.2, 1], [1, 0, 0, 2], [0, 1, 0, 3], [0, 0, 0, 1.0]]),
        np.array([[2.0, 0.3, 0, -5], [0, 2.0, 0.1, 3], [0, 0, 2.5, 1], [0, 0, 0, 1]]),  # shear
        rot_affine([0.5, 0.5, 0.5], 179.9, [0, 0, 0]),
    ]
    for aff in affs:
        h = nib.Nifti2Header()
        h.set_qform(aff, code=1)
        cases.append({
            "affine": np.asarray(aff, float).tolist(),
            "quatern": [float(h["quatern_b"]), float(h["quatern_c"]), float(h["quatern_d"])],
            "qfac": float(h["pixdim"][0]),
            "zooms": [float(z) for z in h["pixdim"][1:4]],
            "qform": h.get_qform().tolist(),
        })
    with open(os.path.join(OUT, "set_qform.json"), "w") as f:
        json.dump(cases, f, separators=(",", ":"))
        f.write("\n")

    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(expected, f, sort_keys=True, separators=(",", ":"))
        f.write("\n")
    print("nibabel", nib.__version__, "made", len(made), "files")


if __name__ == "__main__":
    main()
