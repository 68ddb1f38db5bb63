"""Peer for preprocbench: the same preprocessing with nibabel + scipy (nnU-Net's
steps: canonical orientation, crop to the hole-filled nonzero mask, per-image
z-score, resampling with linear interpolation, labels one-hot + linear + argmax),
run over a process pool. Usage: peer.py CASES.json TARGET_SPACING OUT_DIR WORKERS ORDER
(ORDER: spline order for images, 1 linear or 3 cubic)
CASES.json: [{"id","image","label"}]. Prints one JSON line per case and a summary."""
import json, os, sys, time, resource
from multiprocessing import Pool
import numpy as np
import nibabel as nib
from scipy import ndimage

TARGET = None
OUT = None
ORDER = 1


def zoom_to(a, shape, order):
    # Voxel centres aligned (grid_mode), edges extended, as the Go code.
    return ndimage.zoom(a, [s / n for s, n in zip(shape, a.shape)], order=order, mode="nearest", grid_mode=True)


def one(case):
    t0 = time.perf_counter()
    img = nib.as_closest_canonical(nib.load(case["image"]))
    lbl = nib.as_closest_canonical(nib.load(case["label"]))
    data = np.asarray(img.dataobj, dtype=np.float32)
    seg = np.asarray(lbl.dataobj).astype(np.int16)
    if data.ndim == 3:
        data = data[None]
    else:
        data = np.moveaxis(data, -1, 0)
    t1 = time.perf_counter()
    mask = ndimage.binary_fill_holes(np.any(data != 0, axis=0))
    idx = np.argwhere(mask)
    lo, hi = idx.min(0), idx.max(0) + 1
    sl = tuple(slice(a, b) for a, b in zip(lo, hi))
    data, seg, mask = data[(slice(None),) + sl], seg[sl], mask[sl]
    for c in range(data.shape[0]):
        d = data[c]
        m, s = d.mean(), d.std()
        data[c] = (d - m) / max(s, 1e-8)
    spacing = np.array(img.header.get_zooms()[:3], dtype=float)
    shape = [max(1, int(round(n * s / t))) for n, s, t in zip(data.shape[1:], spacing, TARGET)]
    if list(shape) != list(data.shape[1:]):
        data = np.stack([zoom_to(d, shape, ORDER) for d in data])
        labels = np.unique(seg)
        probs = np.stack([zoom_to((seg == l).astype(np.float32), shape, 1) for l in labels])
        seg = labels[np.argmax(probs, 0)].astype(np.int16)
    t2 = time.perf_counter()
    np.savez(os.path.join(OUT, case["id"] + ".npz"), data=data, seg=seg.astype(np.uint8))
    t3 = time.perf_counter()
    counts = {int(l): int((seg == l).sum()) for l in np.unique(seg)}
    return {"id": case["id"], "shape": list(seg.shape), "crop_start": lo.tolist(), "crop_end": hi.tolist(),
            "label_counts": counts, "read_s": t1 - t0, "prepare_s": t2 - t1, "write_s": t3 - t2}


def init(target, out, order):
    global TARGET, OUT, ORDER
    TARGET, OUT, ORDER = target, out, order


def main():
    cases = json.load(open(sys.argv[1]))
    target = [float(x) for x in sys.argv[2].split(",")]
    out, workers, order = sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
    os.makedirs(out, exist_ok=True)
    t0 = time.perf_counter()
    with Pool(workers, initializer=init, initargs=(target, out, order)) as pool:
        res = pool.map(one, cases, chunksize=4)
    wall = time.perf_counter() - t0
    for r in res:
        print(json.dumps(r))
    ch = resource.getrusage(resource.RUSAGE_CHILDREN)
    peak_children = ch.ru_maxrss * 1024
    cpu = ch.ru_utime + ch.ru_stime
    peak_self = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"summary": True, "wall_s": wall, "peak_rss_self": peak_self, "peak_rss_child": peak_children, "cpu_s": cpu}))


if __name__ == "__main__":
    main()
