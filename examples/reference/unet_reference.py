#!/usr/bin/env python3
"""PyTorch reference for bench_train: the exact U-Nets, batch and loss of
shared/bench/reference-unet.md. Prints one JSON line per net: median train-step and inference
seconds.

Usage: OMP_WAIT_POLICY=PASSIVE unet_reference.py THREADS [2d|3d|both] [cpu|cuda|cuda-fp32] [WARMUP] [STEPS]

`cuda` keeps PyTorch's defaults (eager; cuDNN convolutions may use TF32 on Ampere and later);
`cuda-fp32` turns TF32 off for convolutions and matrix products (strict float32).
"""
import json
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class ConvUnit(nn.Module):
    def __init__(self, dim, cin, cout, stride):
        super().__init__()
        conv = nn.Conv2d if dim == 2 else nn.Conv3d
        norm = nn.InstanceNorm2d if dim == 2 else nn.InstanceNorm3d
        self.conv = conv(cin, cout, 3, stride, 1, bias=False)
        self.norm = norm(cout, eps=1e-5, affine=True, track_running_stats=False)
        self.act = nn.LeakyReLU(0.01)

    def forward(self, x):
        return self.act(self.norm(self.conv(x)))


class UNet(nn.Module):
    def __init__(self, dim, features, in_ch=1, n_classes=2):
        super().__init__()
        f = features
        self.enc = nn.ModuleList()
        for l in range(len(f)):
            cin, stride = (in_ch, 1) if l == 0 else (f[l - 1], 2)
            self.enc.append(nn.Sequential(ConvUnit(dim, cin, f[l], stride), ConvUnit(dim, f[l], f[l], 1)))
        tconv = nn.ConvTranspose2d if dim == 2 else nn.ConvTranspose3d
        self.up = nn.ModuleList()
        self.dec = nn.ModuleList()
        for l in reversed(range(len(f) - 1)):
            self.up.append(tconv(f[l + 1], f[l], 2, 2, bias=True))
            self.dec.append(nn.Sequential(ConvUnit(dim, 2 * f[l], f[l], 1), ConvUnit(dim, f[l], f[l], 1)))
        conv = nn.Conv2d if dim == 2 else nn.Conv3d
        self.head = conv(f[0], n_classes, 1, bias=True)

    def forward(self, x):
        skips = []
        for i, e in enumerate(self.enc):
            x = e(x)
            if i + 1 < len(self.enc):
                skips.append(x)
        for up, dec in zip(self.up, self.dec):
            x = dec(torch.cat([up(x), skips.pop()], 1))
        return self.head(x)


def loss_fn(logits, target):
    ce = F.cross_entropy(logits, target)
    p = torch.softmax(logits, 1)[:, 1].flatten(1)
    g = (target == 1).float().flatten(1)
    dice = (2 * (p * g).sum(1) + 1e-5) / (p.sum(1) + g.sum(1) + 1e-5)
    return ce + (1 - dice.mean())


def bench(dim, device, warmup=3, steps=20):
    torch.manual_seed(0)
    if dim == 2:
        feats, shape = (16, 32, 64, 128, 256), (8, 1, 128, 128)
    else:
        feats, shape = (8, 16, 32, 64, 128), (2, 1, 32, 64, 64)
    net = UNet(dim, feats).to(device)
    params = sum(p.numel() for p in net.parameters())
    x = torch.randn(shape, device=device)
    pool = F.avg_pool2d if dim == 2 else F.avg_pool3d
    target = (pool(x, 5, 1, 2) > 0).long()[:, 0]
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-8)
    times = []
    for i in range(warmup + steps):
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(net(x), target)
        loss.backward()
        opt.step()
        loss.item()
        if i >= warmup:
            times.append(time.perf_counter() - t0)
    inf = []
    with torch.no_grad():
        for i in range(warmup + steps // 2):
            t0 = time.perf_counter()
            net(x).sum().item()
            if i >= warmup:
                inf.append(time.perf_counter() - t0)
    return {"net": f"{dim}d", "params": params, "train_step_s": statistics.median(times), "inference_s": statistics.median(inf), "final_loss": loss.item()}


if __name__ == "__main__":
    torch.set_num_threads(int(sys.argv[1]))
    which = sys.argv[2] if len(sys.argv) > 2 else "both"
    target = sys.argv[3] if len(sys.argv) > 3 else "cpu"
    warmup = int(sys.argv[4]) if len(sys.argv) > 4 else 3
    steps = int(sys.argv[5]) if len(sys.argv) > 5 else 20
    device = "cuda" if target.startswith("cuda") else "cpu"
    if target == "cuda-fp32":
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cuda.matmul.allow_tf32 = False
    gpu = torch.cuda.get_device_name() if device == "cuda" else None
    for dim in ([2, 3] if which == "both" else [int(which[0])]):
        print(json.dumps({"framework": f"pytorch {torch.__version__}", "threads": torch.get_num_threads(), "device": target, "gpu": gpu, "cudnn_tf32": torch.backends.cudnn.allow_tf32 if device == "cuda" else None, **bench(dim, device, warmup, steps)}), flush=True)
