#!/usr/bin/env python3
"""PyTorch reference for crosscheck_reference: trains the reference 2D U-Net
(unet_reference.UNet) on the sparse labels sliceplan wrote, with sliceplan's recipe written out
independently here, and scores Dice on the held-out volumes.

Usage: sparse_reference.py DIR SEED

DIR holds meta.json and, per case, <id>.image.f32 and <id>.target.u8 (little endian, laid out
u fastest, then v, then slice), as `examples/crosscheck_reference.rs` writes them. Prints one
JSON line: Dice per test case and the training time.

The recipe (sliceplan's docs/src/training.md): whole slices centred on a canvas of the training
patch filled with the case's padding value; half of the samples drawn from annotated slices that
hold the target; random flips of both in-plane axes and intensity gain 0.9-1.1 / shift +-0.1;
loss = masked cross-entropy + (1 - soft Dice pooled over the batch) on annotated slices; Adam
(eps 1e-8) with lr * (1 - step/steps)^0.9; prediction slice by slice on the same canvas,
foreground where its probability exceeds 0.5.
"""
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from unet_reference import UNet  # noqa: E402


def load(dir_, case):
    w, h, d = case["dims"]
    image = np.fromfile(os.path.join(dir_, case["id"] + ".image.f32"), dtype="<f4").reshape(d, h, w)
    target = np.fromfile(os.path.join(dir_, case["id"] + ".target.u8"), dtype=np.uint8).reshape(d, h, w)
    return image, target


def canvas(image2d, pad, ph, pw):
    h, w = image2d.shape
    out = np.full((ph, pw), pad, dtype=np.float32)
    v0, u0 = (ph - h) // 2, (pw - w) // 2
    out[v0:v0 + h, u0:u0 + w] = image2d
    return out, v0, u0


def loss_fn(logits, target, mask):
    annotated = mask.sum().clamp_min(1.0)
    log_p = F.log_softmax(logits, 1)
    onehot = torch.stack([(target == 0).float(), (target == 1).float()], 1)
    ce = -(onehot * log_p * mask[:, None]).sum() / annotated
    p = torch.softmax(logits, 1)[:, 1] * mask
    g = onehot[:, 1] * mask
    dice = (2 * (p * g).sum() + 1e-5) / (p.sum() + g.sum() + 1e-5)
    return ce + (1 - dice)


def main():
    dir_, seed = sys.argv[1], int(sys.argv[2])
    meta = json.load(open(os.path.join(dir_, "meta.json")))
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    torch.set_num_threads(int(os.environ.get("REFERENCE_THREADS", "2")))
    ph, pw = meta["patch"]
    train = []
    for case in meta["train"]:
        image, target = load(dir_, case)
        sup = case["supervised"]
        fg = [s for s in sup if target[s].any()]
        train.append((image, target, sup, fg, case["pad_value"]))
    net = UNet(2, tuple(meta["features"]))
    opt = torch.optim.Adam(net.parameters(), lr=meta["learning_rate"], betas=(0.9, 0.999), eps=1e-8)
    steps, batch = meta["steps"], meta["batch"]
    started = time.perf_counter()
    for step in range(steps):
        xs, ys, ms = [], [], []
        for _ in range(batch):
            image, target, sup, fg, pad = train[rng.integers(len(train))]
            s = fg[rng.integers(len(fg))] if (fg and rng.random() < meta["fg_fraction"]) else sup[rng.integers(len(sup))]
            x, v0, u0 = canvas(image[s], pad, ph, pw)
            y = np.zeros((ph, pw), dtype=np.int64)
            m = np.zeros((ph, pw), dtype=np.float32)
            h, w = image[s].shape
            y[v0:v0 + h, u0:u0 + w] = target[s]
            m[v0:v0 + h, u0:u0 + w] = 1.0
            if rng.random() < 0.5:
                x, y, m = x[:, ::-1], y[:, ::-1], m[:, ::-1]
            if rng.random() < 0.5:
                x, y, m = x[::-1], y[::-1], m[::-1]
            x = x * rng.uniform(0.9, 1.1) + rng.uniform(-0.1, 0.1)
            xs.append(x.copy())
            ys.append(y.copy())
            ms.append(m.copy())
        x = torch.from_numpy(np.stack(xs)[:, None].astype(np.float32))
        y = torch.from_numpy(np.stack(ys))
        m = torch.from_numpy(np.stack(ms))
        for group in opt.param_groups:
            group["lr"] = meta["learning_rate"] * max(0.0, 1 - step / steps) ** 0.9
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(net(x), y, m)
        loss.backward()
        opt.step()
    train_seconds = time.perf_counter() - started
    net.eval()
    dice = {}
    with torch.no_grad():
        for case in meta["test"]:
            image, target = load(dir_, case)
            d, h, w = image.shape
            cph = max(ph, -(-(h + 2 * meta["margin"]) // meta["divisor"]) * meta["divisor"])
            cpw = max(pw, -(-(w + 2 * meta["margin"]) // meta["divisor"]) * meta["divisor"])
            pred = np.zeros_like(target)
            for s0 in range(0, d, 16):
                chunk = [canvas(image[s], case["pad_value"], cph, cpw) for s in range(s0, min(d, s0 + 16))]
                x = torch.from_numpy(np.stack([c[0] for c in chunk])[:, None])
                prob = torch.softmax(net(x), 1)[:, 1].numpy()
                v0, u0 = chunk[0][1], chunk[0][2]
                pred[s0:s0 + len(chunk)] = prob[:, v0:v0 + h, u0:u0 + w] > 0.5
            inter = int((pred & target).sum())
            total = int(pred.sum() + target.sum())
            dice[case["id"]] = 1.0 if total == 0 else 2 * inter / total
    print(json.dumps({"framework": f"pytorch {torch.__version__}", "seed": seed, "dice": dice, "train_seconds": train_seconds, "final_loss": loss.item()}), flush=True)


if __name__ == "__main__":
    main()
