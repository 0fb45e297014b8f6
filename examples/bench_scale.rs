//! Benchmark: `info` and `plan --strategy ual` on a synthetic cohort of 50, 150 and 300 CTs of
//! 512×512×(100–600) int16 voxels (`--data synthetic-ct:N`, generated on load, never stored):
//! wall time and peak resident memory of the `sliceplan` process, against the number of cases.
//!
//! `cargo build --release && cargo run --release --example bench_scale [-- --cases 50,150,300]`
//! Peak memory is the child's VmHWM, polled every 10 ms from /proc (Linux).
//!
//! `-- --train --cases 300 [--steps 20] [--holdout 4]`: instead, the recommended spread plan of
//! 2N slices over the labelled cohort (`synthetic-ct:N:labelled`, each body's core labelled)
//! trained by `sliceplan train` (2D, CPU) and scored on the held-out volumes: wall time and peak
//! memory of planning and of training with its evaluation. `--exe PATH` measures another build.

mod common;
use common::{BenchArgs, load_average, measure_process as measure};

/// Plans and trains the spread plan on the labelled cohort of `n` cases; prints a table row.
fn train_row(exe: &std::path::Path, n: usize, steps: usize, holdout: usize) {
    let spec = format!("synthetic-ct:{n}:labelled");
    let dir = tempfile::tempdir().expect("temp dir");
    let plan = dir.path().join("plan.json");
    let plan_arg = plan.to_str().expect("utf-8 path");
    let (budget, holdout_arg, steps_arg) =
        ((2 * n).to_string(), holdout.to_string(), steps.to_string());
    let (plan_s, plan_mb) = measure(
        exe,
        &[
            "plan",
            "--data",
            &spec,
            "--budget-slices",
            &budget,
            "--holdout",
            &holdout_arg,
            "--out",
            plan_arg,
            "--quiet",
        ],
    );
    let run = dir.path().join("run");
    let (train_s, train_mb) = measure(
        exe,
        &[
            "train",
            "--data",
            &spec,
            "--plan",
            plan_arg,
            "--steps",
            &steps_arg,
            "--backend",
            "cpu",
            "--out",
            run.to_str().expect("utf-8 path"),
            "--quiet",
        ],
    );
    println!(
        "| {n} | {budget} | {holdout} | {plan_s:.1} | {plan_mb:.0} | {train_s:.1} | {train_mb:.0} |"
    );
}

fn main() {
    let args = BenchArgs::from_env();
    if args.flag("--train") {
        let exe = args
            .value("--exe")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(common::sliceplan_exe);
        println!("load average before: {}", load_average());
        println!(
            "| cases | slices | held out | plan s | plan peak MB | train + evaluate s | train peak MB |"
        );
        println!("|---|---|---|---|---|---|---|");
        for n in args
            .value("--cases")
            .unwrap_or_else(|| "300".into())
            .split(',')
            .filter_map(|c| c.trim().parse().ok())
        {
            train_row(
                &exe,
                n,
                args.parsed("--steps", 20),
                args.parsed("--holdout", 4),
            );
        }
        println!("load average after: {}", load_average());
        return;
    }
    let cases: Vec<usize> = args
        .value("--cases")
        .unwrap_or_else(|| "50,150,300".into())
        .split(',')
        .filter_map(|c| c.trim().parse().ok())
        .collect();
    let exe = common::sliceplan_exe();
    println!("load average before: {}", load_average());
    println!("| cases | voxels (G) | info s | info peak MB | plan ual s | plan ual peak MB |");
    println!("|---|---|---|---|---|---|");
    for n in cases {
        let spec = format!("synthetic-ct:{n}");
        let voxels: usize = (0..n)
            .map(|i| {
                sliceplan::dataset::synthetic::geometry(i)
                    .shape
                    .iter()
                    .product::<usize>()
            })
            .sum();
        let (info_s, info_mb) = measure(&exe, &["info", &spec, "--json", "--quiet"]);
        let budget = (2 * n).to_string();
        let (plan_s, plan_mb) = measure(
            &exe,
            &[
                "plan",
                "--data",
                &spec,
                "--strategy",
                "ual",
                "--budget-slices",
                &budget,
                "--quiet",
            ],
        );
        println!(
            "| {n} | {:.1} | {info_s:.1} | {info_mb:.0} | {plan_s:.1} | {plan_mb:.0} |",
            voxels as f64 / 1e9
        );
    }
    println!("load average after: {}", load_average());
}
