//! `sliceplan train`: one training run on a plan, scored on the held-out volumes.

use std::path::PathBuf;

use anyhow::Result;

use super::{Args, load_data, print_json, target_arg, train_config, with_progress};
use sliceplan::plan::Plan;
use sliceplan::train::{TrainJob, train_and_evaluate};

pub fn train(mut args: Args) -> Result<()> {
    let ds = load_data(&args.req("--data")?)?;
    let plan = Plan::load(args.req("--plan")?)?;
    let out = PathBuf::from(args.req("--out")?);
    let config = train_config(&mut args)?;
    let target = target_arg(&mut args, &ds)?;
    let resume = args.flag("--resume");
    let predict_out = args.opt("--predict-out")?.map(PathBuf::from);
    let json = args.flag("--json");
    args.finish()?;
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
    if let Some(n) = &report.notice {
        eprintln!("note: {n}");
    }
    for w in &report.warnings {
        eprintln!("warning: {w}");
    }
    for f in &report.flags {
        eprintln!("⚠ not an estimate of this plan: {f}");
    }
    println!(
        "{} U-Net on {} ({} annotated slices in {} volumes): {} steps in {:.1} s \
         ({:.1} s warm-up, then {:.2} steps/s); evaluation {:.1} s",
        report.model.name(),
        report.backend,
        report.annotated_slices,
        report.train_cases,
        report.steps,
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
