//! Benchmark: how long a plan takes the first time on a dataset and when the budget, the
//! allocation or the seed change afterwards (the GUI replans live while plans are quick), on the
//! demo cohort and on the 300-case synthetic CT cohort. The reference is the first plan in the
//! same process (it reads every planned volume for its slice features; replans reuse them).
//!
//! `cargo run --release --example bench_replan [-- --data demo,synthetic-ct:300]`

#[path = "common/mod.rs"]
mod common;

use std::time::Instant;

use sliceplan::dataset::open_spec;
use sliceplan::jobs::Progress;
use sliceplan::plan::{Budget, PlanRequest, SliceStrategy, make_plan};

fn main() {
    let args = common::BenchArgs::from_env();
    let specs = args
        .value("--data")
        .unwrap_or_else(|| "demo,synthetic-ct:300".into());
    println!("bench_replan; load {}", common::load_average());
    println!(
        "| dataset | strategy | first plan (s) | new budget (s) | new volume count (s) | new seed (s) | first / replan |"
    );
    println!("|---|---|---|---|---|---|---|");
    for spec in specs.split(',') {
        let ds = match open_spec(spec) {
            Ok(ds) => ds,
            Err(e) => {
                eprintln!("{spec}: {e}");
                continue;
            }
        };
        for strategy in [SliceStrategy::Fixed, SliceStrategy::Ual] {
            let ds = ds.clone();
            // Each strategy starts from an empty feature cache.
            let ds = sliceplan::dataset::Dataset {
                features: Default::default(),
                dicom_scans: Default::default(),
                ..ds
            };
            let base = PlanRequest {
                budget: Some(Budget::Slices(ds.len() * 2)),
                slice_strategy: strategy,
                ..PlanRequest::default()
            };
            let time = |req: &PlanRequest| {
                let t = Instant::now();
                let plan = make_plan(&ds, req, &Progress::new());
                (t.elapsed().as_secs_f64(), plan.is_ok())
            };
            let (first, ok) = time(&base);
            if !ok {
                eprintln!("{spec}: the first plan failed");
                continue;
            }
            let (budget, _) = time(&PlanRequest {
                budget: Some(Budget::Slices(ds.len() * 3)),
                ..base.clone()
            });
            let (volumes, _) = time(&PlanRequest {
                volumes: Some(ds.len() / 2),
                ..base.clone()
            });
            let (seed, _) = time(&PlanRequest {
                seed: 1,
                ..base.clone()
            });
            let worst = budget.max(volumes).max(seed);
            println!(
                "| {spec} | {} | {first:.3} | {budget:.3} | {volumes:.3} | {seed:.3} | {:.0}× |",
                strategy.name(),
                first / worst
            );
        }
    }
}
