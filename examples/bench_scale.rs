//! Benchmark: `info` and `plan --strategy ual` on a synthetic cohort of 50, 150 and 300 CTs of
//! 512×512×(100–600) int16 voxels (`--data synthetic-ct:N`, generated on load, never stored):
//! wall time and peak resident memory of the `sliceplan` process, against the number of cases.
//!
//! `cargo build --release && cargo run --release --example bench_scale [-- --cases 50,150,300]`
//! Peak memory is the child's VmHWM, polled every 10 ms from /proc (Linux).

mod common;
use common::{BenchArgs, load_average, measure_process as measure};

fn main() {
    let args = BenchArgs::from_env();
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
