#!/usr/bin/env python3
"""PyTorch reference for bench_conv: one 3×3 convolution (padding 1, no bias) forward, and
forward + backward of sum(y²), per layer shape. Prints one JSON line per shape.

Usage: OMP_WAIT_POLICY=PASSIVE conv_reference.py THREADS SHAPES_JSON
SHAPES_JSON: [[batch, channels_in, channels_out, size, stride, dims], ...]
"""
import json
import statistics
import sys
import time

import torch


def timed(f, repeat=7):
    f()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        f()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main():
    torch.set_num_threads(int(sys.argv[1]))
    for b, c, co, size, stride, dims in json.loads(sys.argv[2]):
        torch.manual_seed(0)
        shape = (b, c) + (size,) * dims
        x = torch.randn(shape, requires_grad=True)
        conv = (torch.nn.Conv2d if dims == 2 else torch.nn.Conv3d)(c, co, 3, stride, 1, bias=False)

        def forward():
            with torch.no_grad():
                conv(x).sum().item()

        def train():
            y = conv(x)
            (y * y).sum().backward()
            x.grad.sum().item()

        print(json.dumps({"shape": [b, c, co, size, stride, dims], "forward_s": timed(forward), "train_s": timed(train)}), flush=True)


if __name__ == "__main__":
    main()
