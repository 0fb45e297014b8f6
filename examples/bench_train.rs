//! Benchmark: training-step and inference time of the reference 2D and 3D U-Nets
//! (shared/bench/reference-unet.md), sliceplan (burn) vs PyTorch, side by side in one run.
//!
//! `cargo run --release --example bench_train -- [--backend cpu,tch,wgpu] [--threads N]
//! [--warmup N] [--steps N] [--reference SCRIPT] [--python PATH] [--no-reference]`
//! `--backend` takes a comma-separated list, measured one after the other in this process
//! (default `cpu`, and `cpu,tch` in a `--features torch` build). PyTorch runs through
//! examples/reference/unet_reference.py (`pip install torch`; looked up in the working directory
//! first, then in this crate's source tree; `--python` or `SLICEPLAN_PYTHON` names the Python),
//! with OMP_WAIT_POLICY=PASSIVE and the same thread count. On a GPU machine use `--backend wgpu`: the reference then runs on CUDA twice,
//! with PyTorch's defaults (cuDNN convolutions in TF32) and in strict float32 (TF32 off), which is
//! what burn's wgpu kernels compute.

mod common;
use std::process::Command;
use std::time::Instant;

use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;
use common::{BenchArgs, bench_backends, load_average, reference_python, reference_script};
use sliceplan::train::loss::{DiceReduction, masked_dice_ce_with};
use sliceplan::train::{BackendChoice, UNet2d, UNet3d, UNetSpec, open_device};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// x ~ N(0, 1); target = (box-smoothed x > 0) as one-hot, same recipe as the reference.
fn batch(shape: &[usize]) -> (Vec<f32>, Vec<f32>) {
    let mut rng = sliceplan::rng::Rng::new(0);
    let n: usize = shape.iter().product();
    let x: Vec<f32> = (0..n).map(|_| rng.normal() as f32).collect();
    let spatial = &shape[2..];
    let per: usize = spatial.iter().product();
    let mut onehot = vec![0f32; 2 * n];
    for b in 0..shape[0] {
        for p in 0..per {
            let mut idx = vec![0usize; spatial.len()];
            let mut rem = p;
            for d in (0..spatial.len()).rev() {
                idx[d] = rem % spatial[d];
                rem /= spatial[d];
            }
            let mut sum = 0.0;
            let offsets: Vec<Vec<isize>> = (0..5usize.pow(spatial.len() as u32))
                .map(|mut o| {
                    (0..spatial.len())
                        .map(|_| {
                            let v = (o % 5) as isize - 2;
                            o /= 5;
                            v
                        })
                        .collect()
                })
                .collect();
            for off in &offsets {
                let mut q = 0usize;
                let mut inside = true;
                for d in 0..spatial.len() {
                    let c = idx[d] as isize + off[d];
                    if c < 0 || c >= spatial[d] as isize {
                        inside = false;
                        break;
                    }
                    q = q * spatial[d] + c as usize;
                }
                if inside {
                    sum += x[b * per + q];
                }
            }
            let fg = (sum > 0.0) as usize;
            onehot[(b * 2 + fg) * per + p] = 1.0;
        }
    }
    (x, onehot)
}

struct Timing {
    warmup: usize,
    steps: usize,
}

fn run<M: Module, const D: usize>(
    name: &str,
    timing: &Timing,
    device: &Device,
    shape: Vec<usize>,
    model: M,
    forward: impl Fn(&M, Tensor<D>) -> Tensor<D>,
) -> (f64, f64, usize) {
    let (x, onehot) = batch(&shape);
    let mut shape2 = shape.clone();
    shape2[1] = 2;
    let mut mshape = shape.clone();
    mshape[1] = 1;
    let mask = vec![1f32; shape.iter().product()];
    let params = model.num_params();
    let xs = Tensor::<D>::from_data(TensorData::new(x.clone(), shape.clone()), device);
    let ys = Tensor::<D>::from_data(TensorData::new(onehot, shape2), device);
    let ms = Tensor::<D>::from_data(TensorData::new(mask, mshape), device);
    let mut optim = AdamConfig::new().with_epsilon(1e-8).init();
    let mut model = model;
    let mut times = Vec::new();
    let mut last = 0.0;
    for i in 0..timing.warmup + timing.steps {
        let t = Instant::now();
        // The reference's loss: per-sample Dice (shared/bench/reference-unet.md).
        let loss = masked_dice_ce_with(
            forward(&model, xs.clone()),
            ys.clone(),
            ms.clone(),
            DiceReduction::PerSample,
        );
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(1e-3, model, grads);
        last = loss.into_scalar::<f32>();
        if i >= timing.warmup {
            times.push(t.elapsed().as_secs_f64());
        }
    }
    let valid = model.valid();
    let xi = xs.without_autodiff();
    let mut inf = Vec::new();
    for i in 0..timing.warmup + timing.steps / 2 {
        let t = Instant::now();
        let _: f32 = forward(&valid, xi.clone()).sum().into_scalar();
        if i >= timing.warmup {
            inf.push(t.elapsed().as_secs_f64());
        }
    }
    eprintln!("{name}: {params} parameters, final loss {last:.4}");
    (median(times), median(inf), params)
}

/// One backend's (step s, inference s) for the 2D and the 3D net, and the parameter counts.
struct Measured {
    name: String,
    is_gpu: bool,
    nets: Vec<(&'static str, f64, f64, usize)>,
}

fn measure(backend: BackendChoice, timing: &Timing) -> Measured {
    let opened = match open_device(backend) {
        Ok(opened) => opened,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let device = opened.device.clone().autodiff();
    println!("sliceplan on {}", opened.name);
    let spec2 = UNetSpec::isotropic(2, vec![16, 32, 64, 128, 256], 2);
    let spec3 = UNetSpec::isotropic(3, vec![8, 16, 32, 64, 128], 2);
    device.seed(0);
    let (t2, i2, p2) = run(
        "2d",
        timing,
        &device,
        vec![8, 1, 128, 128],
        UNet2d::new(&spec2, &device),
        |m: &UNet2d, x| m.forward(x),
    );
    let (t3, i3, p3) = run(
        "3d",
        timing,
        &device,
        vec![2, 1, 32, 64, 64],
        UNet3d::new(&spec3, &device),
        |m: &UNet3d, x| m.forward(x),
    );
    Measured {
        name: opened.name,
        is_gpu: opened.is_gpu,
        nets: vec![("2d", t2, i2, p2), ("3d", t3, i3, p3)],
    }
}

/// The PyTorch reference's rows for each target ("cpu"; "cuda" and "cuda-fp32" on a GPU).
fn references(
    args: &BenchArgs,
    threads: usize,
    timing: &Timing,
    gpu: bool,
) -> Vec<(String, Vec<serde_json::Value>)> {
    let mut references = Vec::new();
    if args.flag("--no-reference") {
        return references;
    }
    let script = args
        .value("--reference")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| reference_script("examples/reference/unet_reference.py"));
    let targets: &[&str] = if gpu {
        &["cuda", "cuda-fp32"]
    } else {
        &["cpu"]
    };
    let python = reference_python(args);
    for target in targets {
        match Command::new(&python)
            .env("OMP_WAIT_POLICY", "PASSIVE")
            .arg(&script)
            .arg(threads.to_string())
            .arg("both")
            .arg(target)
            .arg(timing.warmup.to_string())
            .arg(timing.steps.to_string())
            .output()
        {
            Ok(o) if o.status.success() => references.push((
                target.to_string(),
                String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
                    .collect(),
            )),
            Ok(o) => eprintln!("reference failed: {}", String::from_utf8_lossy(&o.stderr)),
            Err(e) => eprintln!("cannot run {python}: {e}"),
        }
    }
    references
}

fn main() {
    let args = BenchArgs::from_env();
    let threads: usize = args.parsed("--threads", 2);
    common::use_threads(threads);
    let timing = Timing {
        warmup: args.parsed("--warmup", 3),
        steps: args.parsed("--steps", 20),
    };
    println!("load average before: {}", load_average());
    let measured: Vec<Measured> = bench_backends(&args)
        .into_iter()
        .map(|backend| measure(backend, &timing))
        .collect();
    let gpu = measured.iter().any(|m| m.is_gpu);
    let references = references(&args, threads, &timing, gpu);
    println!(
        "| net | params | sliceplan backend | step s | reference | reference step s | ratio | inference s | reference inference s | ratio |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for m in &measured {
        for &(net, t, i, p) in &m.nets {
            if references.is_empty() {
                println!(
                    "| {net} | {p} | {} | {t:.4} | (not run) | | | {i:.4} | | |",
                    m.name
                );
            }
            for (target, reference) in &references {
                let row = reference.iter().find(|r| r["net"] == net);
                let get = |key: &str| row.and_then(|r| r[key].as_f64()).unwrap_or(f64::NAN);
                let framework = row
                    .and_then(|r| r["framework"].as_str())
                    .unwrap_or("pytorch");
                let (rt, ri) = (get("train_step_s"), get("inference_s"));
                println!(
                    "| {net} | {p} | {} | {t:.4} | {framework} {target} | {rt:.4} | {:.2}× | {i:.4} | {ri:.4} | {:.2}× |",
                    m.name,
                    t / rt,
                    i / ri
                );
            }
        }
    }
    println!("load average after: {}", load_average());
}
