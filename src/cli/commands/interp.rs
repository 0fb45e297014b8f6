//! `sliceplan interp`: masks interpolated between the planned slices.

use std::path::PathBuf;

use anyhow::Result;

use super::super::args::InterpArgs;
use super::{load_data_arg, print_json, with_progress};
use sliceplan::dataset::TargetLabels;
use sliceplan::interp;
use sliceplan::plan::Plan;

pub fn interp(args: InterpArgs) -> Result<()> {
    let ds = load_data_arg(&args.data)?;
    let plan = Plan::load(&args.plan)?;
    let method = args.method;
    let out: Option<PathBuf> = args.out;
    let (extrapolate, json) = (args.extrapolate, args.json);
    // Default: the labels the plan targets (every non-zero label unless it names some).
    let target = match &args.label {
        Some(spec) => TargetLabels::parse(spec, &ds.label_names)?,
        None => plan.request.target.clone(),
    };
    let report = with_progress("sliceplan-interp", move |p| {
        interp::run_interp(&ds, &plan, &target, method, extrapolate, out.as_deref(), p)
    })?;
    if json {
        return print_json(&report);
    }
    for c in &report.cases {
        let dice: Vec<String> = c.dice.iter().map(|(l, d)| format!("{l}: {d:.3}")).collect();
        println!(
            "  {:<28} {} slices interpolated in {:.1} ms, Dice {}",
            c.case_id,
            c.interpolated_slices,
            c.milliseconds,
            dice.join(", ")
        );
        if let Some(rules) = interp::rules_summary(&c.gap_rules) {
            println!("    gaps: {rules}");
        }
        if !c.ignored_labels.is_empty() {
            let values: Vec<String> = c.ignored_labels.iter().map(|v| v.to_string()).collect();
            println!(
                "    labels {} are outside the target labels: not interpolated",
                values.join(", ")
            );
        }
        for f in &c.flags {
            println!(
                "    ⚠ slices {}–{}, label {}: {}",
                f.from_slice, f.to_slice, f.label, f.detail
            );
        }
    }
    for (id, why) in &report.skipped {
        println!("  {id:<28} skipped: {why}");
    }
    if let Some(d) = report.mean_dice {
        println!("mean Dice on the interpolated slices: {d:.4}");
    }
    Ok(())
}
