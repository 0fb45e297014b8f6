#!/usr/bin/env python3
"""References for bench_interp: ITK's MorphologicalContourInterpolation (2 threads; default mode
and told the annotated slices, so empty ones are known) and a plain scipy shape-based (signed
distance) interpolation, on the same inputs as sliceplan.

Usage: interp_reference.py CASES.json
  (a list of {"name", "labels", "axis", "step", "phase", "label", "scipy"})
Prints one JSON object per case and method: seconds (best of 3) and Dice on the
non-annotated slices between the first and last annotated slice.
"""
import json
import sys
import time

import nibabel as nib
import numpy as np
from scipy import ndimage


def dice(a, b):
    s = a.sum() + b.sum()
    return 1.0 if s == 0 else 2.0 * np.logical_and(a, b).sum() / s


def scipy_sdf(mask, kept, spacing):
    """Signed distance per kept slice (cropped to the mask's bounding box), blended linearly."""
    out = np.zeros_like(mask)
    coords = np.argwhere(mask)
    lo = np.maximum(coords.min(axis=0) - 1, 0)
    hi = np.minimum(coords.max(axis=0) + 2, mask.shape)
    crop = mask[lo[0]:hi[0], lo[1]:hi[1], :]
    sdfs = {}
    for k in kept:
        m = crop[:, :, k]
        if m.any():
            sdfs[k] = ndimage.distance_transform_edt(~m, sampling=spacing[:2]) - ndimage.distance_transform_edt(m, sampling=spacing[:2])
        else:
            sdfs[k] = None
    for a, b in zip(kept[:-1], kept[1:]):
        for k in range(a, b + 1):
            t = (k - a) / (b - a)
            fa, fb = sdfs[a], sdfs[b]
            if fa is None and fb is None:
                continue
            fa = fa if fa is not None else np.full(crop.shape[:2], np.abs(fb).max())
            fb = fb if fb is not None else np.full(crop.shape[:2], np.abs(fa).max())
            out[lo[0]:hi[0], lo[1]:hi[1], k] = ((1 - t) * fa + t * fb) < 0
    return out


def itk_mci(mask, kept, known_empty):
    """ITK MCI along the last axis; with `known_empty`, told that every kept slice is annotated
    (so the kept slices without the label are known to be empty)."""
    import itk
    itk.MultiThreaderBase.SetGlobalDefaultNumberOfThreads(2)
    sparse = np.zeros_like(mask, dtype=np.uint8)
    sparse[:, :, kept] = mask[:, :, kept]
    image = itk.image_from_array(np.ascontiguousarray(np.transpose(sparse, (2, 1, 0))))
    f = itk.MorphologicalContourInterpolator.New(image)
    f.SetAxis(2)
    if known_empty:
        f.SetUseCustomSlicePositions(True)
        f.SetLabeledSliceIndices(2, 1, [int(k) for k in kept])
    f.Update()
    return np.transpose(itk.array_from_image(f.GetOutput()), (2, 1, 0)) > 0


def main():
    cases = json.load(open(sys.argv[1]))
    # ITK loads its modules lazily (seconds): warm it up before timing.
    warm = np.zeros((8, 8, 8), bool)
    warm[2:6, 2:6, ::4] = True
    itk_mci(warm, [0, 4], False)
    for case in cases:
        img = nib.load(case["labels"])
        labels = np.asarray(img.dataobj)
        mask = labels == case["label"]
        mask = np.moveaxis(mask, case["axis"], 2)
        zooms = [float(z) for z in img.header.get_zooms()[:3]]
        spacing = [z for i, z in enumerate(zooms) if i != case["axis"]] + [zooms[case["axis"]]]
        depth = mask.shape[2]
        kept = list(range(case.get("phase", 0), depth, case["step"]))
        scored = np.zeros(depth, bool)
        scored[kept[0]:kept[-1] + 1] = True
        scored[kept] = False
        methods = [("itk-mci", lambda: itk_mci(mask, kept, False)), ("itk-mci-known", lambda: itk_mci(mask, kept, True))]
        if case.get("scipy", True):
            methods.append(("scipy-sdf", lambda: scipy_sdf(mask, kept, spacing)))
        for name, fn in methods:
            best, out = float("inf"), None
            for _ in range(3 if name == "scipy-sdf" else 1):
                t0 = time.perf_counter()
                out = fn()
                best = min(best, time.perf_counter() - t0)
            d = dice(out[:, :, scored], mask[:, :, scored])
            print(json.dumps({"name": case["name"], "method": name, "seconds": best, "dice": d}), flush=True)


if __name__ == "__main__":
    main()
