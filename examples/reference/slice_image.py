#!/usr/bin/env python3
"""Reference for bench_slice_image: one slice's RGBA image built with NumPy, as sliceplan's
viewer builds it (window/level to grey, labels blended at an opacity, planned slices blended as
lines across the other planes' views).

Usage: slice_image.py REPEATS RAW_FOLDER
RAW_FOLDER holds image.raw (int16), labels.raw (uint8), both x-fastest (NIfTI order), and
meta.json (shape [nx, ny, nz], slice per plane, planned z slices, window lo/width, opacity).
Prints JSON: median milliseconds per plane (axial, coronal, sagittal).
"""
import json
import os
import sys
import time

import numpy as np


def main():
    repeats = int(sys.argv[1])
    folder = sys.argv[2]
    meta = json.load(open(os.path.join(folder, "meta.json")))
    nx, ny, nz = meta["shape"]
    # x fastest: a C array indexed [z, y, x].
    image = np.fromfile(os.path.join(folder, "image.raw"), dtype=np.int16).reshape(nz, ny, nx)
    labels = np.fromfile(os.path.join(folder, "labels.raw"), dtype=np.uint8).reshape(nz, ny, nx)
    lo, width, alpha = meta["window_lo"], meta["window_width"], meta["opacity"]
    planned = np.array(meta["planned_z"])
    color = np.array([230, 40, 40], dtype=np.float32)
    yellow = np.array([255, 200, 0], dtype=np.float32)

    def render(plane, s):
        # The radiological layout of a RAS volume: x and y flipped on axial, x and z on
        # coronal, y and z on sagittal (patient right on the left, anterior/superior up).
        if plane == "axial":
            sl, lab = image[s, ::-1, ::-1], labels[s, ::-1, ::-1]
            rows = None
        elif plane == "coronal":
            sl, lab = image[::-1, s, ::-1], labels[::-1, s, ::-1]
            rows = nz - 1 - planned
        else:
            sl, lab = image[::-1, ::-1, s], labels[::-1, ::-1, s]
            rows = nz - 1 - planned
        g = np.clip((sl.astype(np.float32) - lo) * (255.0 / width) + 0.5, 0, 255).astype(np.uint8)
        rgba = np.empty(g.shape + (4,), dtype=np.uint8)
        rgba[..., 0] = g
        rgba[..., 1] = g
        rgba[..., 2] = g
        rgba[..., 3] = 255
        m = lab > 0
        rgba[m, :3] = (rgba[m, :3] * (1 - alpha) + color * alpha + 0.5).astype(np.uint8)
        if rows is not None:
            rgba[rows, :, :3] = (rgba[rows, :, :3] * 0.25 + yellow * 0.75 + 0.5).astype(np.uint8)
        return rgba

    out = {}
    for plane in ["axial", "coronal", "sagittal"]:
        s = meta["slice"][plane]
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            render(plane, s)
            times.append(time.perf_counter() - t)
        out[plane] = float(np.median(times)) * 1000.0
    print(json.dumps(out))


if __name__ == "__main__":
    main()
