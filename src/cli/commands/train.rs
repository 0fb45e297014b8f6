//! `sliceplan train`: one training run on a plan, scored on the held-out volumes.

use std::path::PathBuf;

use anyhow::Result;

use super::super::args::TrainArgs;
use super::{load_data_arg, print_json, target_arg, train_config, with_progress};
use sliceplan::plan::Plan;
use sliceplan::train::{TrainJob, train_and_evaluate};

pub fn train(args: TrainArgs) -> Result<()> {
    let ds = load_data_arg(&args.data)?;
    let plan = Plan::load(&args.plan)?;
    let mut config = train_config(&args.train, args.seed, args.interp)?;
    config.checkpoint_every = args.checkpoint_every;
    let target = target_arg(args.label.as_deref(), &ds)?;
    let out: PathBuf = args.out;
    let (resume, predict_out, json) = (args.resume, args.predict_out, args.json);
    let report_path = out.join("report.json");
    let report = with_progress("sliceplan-train", move |p| {
        let job = TrainJob {
            run_dir: Some(&out),
            resume,
            predict_out: predict_out.as_deref(),
            ..TrainJob::new(&ds, &plan, &target, &config)
        };
        train_and_evaluate(&job, p)
    })?;
    sliceplan::io::write_bytes_atomic(
        &report_path,
        serde_json::to_string_pretty(&report)?.as_bytes(),
    )?;
    if json {
        return print_json(&report);
    }
    // The device notice was logged when the device opened.
    for w in &report.warnings {
        tracing::warn!(target: "sliceplan", "{w}");
    }
    for f in &report.flags {
        tracing::warn!(target: "sliceplan", "⚠ not an estimate of this plan: {f}");
    }
    println!(
        "{} U-Net on {} ({} annotated slices in {} volumes): {} steps in {:.1} s \
         ({:.1} s warm-up, then {:.2} steps/s); evaluation {:.1} s",
        report.model.name(),
        report.backend,
        report.annotated_slices,
        report.train_cases,
        report.steps_trained(),
        report.train_seconds,
        report.warmup_seconds,
        report.steady_steps_per_second,
        report.eval_seconds
    );
    for t in &report.test {
        println!("  {:<28} Dice {:.4}", t.case_id, t.dice);
    }
    println!(
        "mean Dice on {} held-out volumes: {:.4}",
        report.test.len(),
        report.mean_dice
    );
    Ok(())
}
