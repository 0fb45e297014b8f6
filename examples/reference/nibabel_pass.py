#!/usr/bin/env python3
"""Reference for bench_dataset_plan: one nibabel pass over a dataset's files.

Usage: nibabel_pass.py LIST   (LIST: a text file with one NIfTI path per line)
Loads every file's voxels (np.asarray(img.dataobj): the stored type, as sliceplan keeps it) once,
in one process, and prints JSON with the seconds the pass took (imports and interpreter start
excluded), the file count and the voxel bytes.
"""
import json
import sys
import time

import nibabel as nib
import numpy as np


def main():
    with open(sys.argv[1]) as f:
        paths = [line.strip() for line in f if line.strip()]
    t0 = time.perf_counter()
    nbytes = 0
    for path in paths:
        data = np.asarray(nib.load(path).dataobj)
        nbytes += data.nbytes
        del data
    seconds = time.perf_counter() - t0
    print(json.dumps({"seconds": seconds, "files": len(paths), "voxel_bytes": nbytes}))


if __name__ == "__main__":
    main()
