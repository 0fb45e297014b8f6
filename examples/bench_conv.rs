//! Benchmark: one 3×3 convolution (padding 1, no bias), forward and forward + backward, for the
//! layer shapes of the reference U-Nets, burn's backends (`flex`, and `tch` in a
//! `--features torch` build) vs PyTorch side by side. It isolates the kernel that decides
//! `bench_train`'s ratio.
//!
//! `cargo run --release --example bench_conv -- [--threads N] [--backend cpu,tch,wgpu]
//! [--python PATH]` (PyTorch through examples/reference/conv_reference.py,
//! OMP_WAIT_POLICY=PASSIVE, CPU only; every backend and PyTorch on `--threads` threads).

mod common;
use std::process::Command;
use std::time::Instant;

use burn::nn::conv::{Conv2dConfig, Conv3dConfig};
use burn::nn::{PaddingConfig2d, PaddingConfig3d};
use burn::prelude::*;
use burn::tensor::Distribution;
use common::{BenchArgs, bench_backends, load_average, reference_python, reference_script};
use sliceplan::train::open_device;

fn median(f: &mut dyn FnMut() -> f32) -> f64 {
    f();
    let mut times: Vec<f64> = (0..7)
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(f());
            t.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

/// (forward s, forward + backward s) of one convolution.
fn time_conv<const D: usize>(x: Tensor<D>, forward: &dyn Fn(Tensor<D>) -> Tensor<D>) -> (f64, f64) {
    let plain = x.clone().without_autodiff();
    let fwd = median(&mut || forward(plain.clone()).sum().into_scalar());
    let x = x.require_grad();
    let train = median(&mut || {
        let y = forward(x.clone());
        let grads = (y.clone() * y).sum().backward();
        x.grad(&grads).map_or(0.0, |g| g.sum().into_scalar())
    });
    (fwd, train)
}

/// [batch, in, out, size, stride, dims]: levels of the reference 2D and 3D nets.
const SHAPES: [[usize; 6]; 8] = [
    [8, 16, 16, 128, 1, 2],
    [8, 16, 32, 128, 2, 2],
    [8, 64, 64, 32, 1, 2],
    [8, 256, 256, 8, 1, 2],
    [8, 32, 16, 128, 1, 2],
    [2, 8, 8, 64, 1, 3],
    [2, 16, 16, 32, 1, 3],
    [2, 64, 64, 8, 1, 3],
];

/// (forward s, forward + backward s) of each shape on `device`.
fn measure(device: &Device) -> Vec<(f64, f64)> {
    let normal = Distribution::Normal(0.0, 1.0);
    SHAPES
        .iter()
        .map(|&[b, c, co, size, stride, dims]| {
            if dims == 2 {
                let conv = Conv2dConfig::new([c, co], [3, 3])
                    .with_stride([stride; 2])
                    .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                    .with_bias(false)
                    .init(device);
                let x = Tensor::<4>::random([b, c, size, size], normal, device);
                time_conv(x, &|x| conv.forward(x))
            } else {
                let conv = Conv3dConfig::new([c, co], [3, 3, 3])
                    .with_stride([stride; 3])
                    .with_padding(PaddingConfig3d::Explicit(1, 1, 1))
                    .with_bias(false)
                    .init(device);
                let x = Tensor::<5>::random([b, c, size, size, size], normal, device);
                time_conv(x, &|x| conv.forward(x))
            }
        })
        .collect()
}

/// PyTorch's rows, one per shape (empty when the reference cannot run).
fn reference(args: &BenchArgs, threads: usize) -> Vec<serde_json::Value> {
    let script = reference_script("examples/reference/conv_reference.py");
    Command::new(reference_python(args))
        .env("OMP_WAIT_POLICY", "PASSIVE")
        .arg(script)
        .arg(threads.to_string())
        .arg(serde_json::to_string(&SHAPES).unwrap_or_default())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .filter_map(|l| serde_json::from_str(l).ok())
                .collect()
        })
        .unwrap_or_default()
}

fn main() {
    let args = BenchArgs::from_env();
    let threads: usize = args.parsed("--threads", 2);
    common::use_threads(threads);
    println!("load average before: {}", load_average());
    let mut ours = Vec::new();
    for backend in bench_backends(&args) {
        let opened = open_device(backend).unwrap_or_else(|e| {
            eprintln!("{e}");
            std::process::exit(2);
        });
        ours.push((
            opened.name.clone(),
            measure(&opened.device.clone().autodiff()),
        ));
    }
    let reference = reference(&args, threads);
    println!(
        "| layer (batch, in → out, size, stride) | backend | forward ms | PyTorch forward ms | ratio | fwd+bwd ms | PyTorch fwd+bwd ms | ratio |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for (i, shape) in SHAPES.iter().enumerate() {
        let [b, c, co, size, stride, dims] = *shape;
        let row = reference
            .iter()
            .find(|r| r["shape"] == serde_json::json!(shape));
        let get = |k: &str| row.and_then(|r| r[k].as_f64()).unwrap_or(f64::NAN);
        let (rf, rt) = (get("forward_s"), get("train_s"));
        for (name, measured) in &ours {
            let (fwd, train) = measured[i];
            println!(
                "| {dims}D {b}, {c} → {co}, {size}^{dims}, s{stride} | {name} | {:.1} | {:.1} | {:.1}× | {:.1} | {:.1} | {:.1}× |",
                fwd * 1e3,
                rf * 1e3,
                fwd / rf,
                train * 1e3,
                rt * 1e3,
                train / rt
            );
        }
    }
    println!("load average after: {}", load_average());
}
