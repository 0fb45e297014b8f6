#!/usr/bin/env python3
"""Reference for bench_nifti_load: nibabel's .nii.gz load time and peak memory per file.

Usage: nibabel_load.py REPEATS FILE...   (prints one JSON object per file)
Each file is measured in a fresh subprocess so that peak memory (ru_maxrss) is its own.
"""
import json
import resource
import subprocess
import sys
import time


def one(path, repeats):
    import nibabel as nib
    import numpy as np
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    best = float("inf")
    nbytes = 0
    for _ in range(repeats):
        t0 = time.perf_counter()
        img = nib.load(path)
        data = np.asarray(img.dataobj)  # stored dtype when no scaling, as sliceplan keeps it
        best = min(best, time.perf_counter() - t0)
        nbytes = data.nbytes
        del data, img
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"path": path, "seconds": best, "voxel_bytes": nbytes, "peak_bytes": peak - base}))


if __name__ == "__main__":
    if sys.argv[1] == "--one":
        one(sys.argv[3], int(sys.argv[2]))
    else:
        for f in sys.argv[2:]:
            subprocess.run([sys.executable, __file__, "--one", sys.argv[1], f], check=True)
