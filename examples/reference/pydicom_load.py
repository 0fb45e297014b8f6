#!/usr/bin/env python3
"""Reference for bench_dicom_load: a DICOM series read with pydicom and stacked with numpy.

Usage:
  pydicom_load.py REPEATS FOLDER        best-of-REPEATS seconds and peak memory (JSON)
  pydicom_load.py --uncompressed SRC DST COPIES
      writes SRC's series uncompressed (explicit VR little endian) to DST, repeated COPIES times
      along the normal (new positions and UIDs), as a larger test series

The read does what sliceplan does: every file's header, sort by position along the normal,
decode, apply RescaleSlope/Intercept, stack into one array (int16 when the values fit).
JPEG 2000 needs `pip install pylibjpeg pylibjpeg-openjpeg`.
"""
import copy
import json
import os
import resource
import sys
import time


def read_series(folder):
    import numpy as np
    import pydicom
    files = [os.path.join(folder, f) for f in os.listdir(folder)]
    ds = [pydicom.dcmread(f) for f in files if os.path.isfile(f)]
    iop = np.array(ds[0].ImageOrientationPatient, dtype=float)
    normal = np.cross(iop[:3], iop[3:])
    ds.sort(key=lambda d: float(np.dot(normal, np.array(d.ImagePositionPatient, dtype=float))))
    out = np.empty((len(ds), ds[0].Rows, ds[0].Columns), dtype=np.int16)
    for k, d in enumerate(ds):
        out[k] = d.pixel_array * float(getattr(d, "RescaleSlope", 1)) + float(getattr(d, "RescaleIntercept", 0))
    return out


def measure(repeats, folder):
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    best = float("inf")
    nbytes = 0
    for _ in range(repeats):
        t0 = time.perf_counter()
        v = read_series(folder)
        best = min(best, time.perf_counter() - t0)
        nbytes = v.nbytes
        del v
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"seconds": best, "voxel_bytes": nbytes, "peak_bytes": peak - base}))


def uncompressed(src, dst, copies):
    import numpy as np
    import pydicom
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid
    os.makedirs(dst, exist_ok=True)
    ds = [pydicom.dcmread(os.path.join(src, f)) for f in sorted(os.listdir(src))]
    ds.sort(key=lambda d: float(d.ImagePositionPatient[2]))
    step = float(ds[1].ImagePositionPatient[2]) - float(ds[0].ImagePositionPatient[2])
    series = generate_uid()
    n = 0
    for c in range(copies):
        for d in ds:
            e = copy.deepcopy(d)
            e.decompress()
            e.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
            pos = [float(x) for x in d.ImagePositionPatient]
            pos[2] = float(ds[0].ImagePositionPatient[2]) + step * n
            e.ImagePositionPatient = pos
            e.SeriesInstanceUID = series
            e.SOPInstanceUID = generate_uid()
            e.file_meta.MediaStorageSOPInstanceUID = e.SOPInstanceUID
            e.InstanceNumber = n + 1
            e.save_as(os.path.join(dst, "IM%05d" % n), enforce_file_format=True)
            n += 1


if __name__ == "__main__":
    if sys.argv[1] == "--uncompressed":
        uncompressed(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        measure(int(sys.argv[1]), sys.argv[2])
