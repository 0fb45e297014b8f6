//! `handoff`: a plan split into one package per annotator; `status --handoff`: read it back.

use std::path::Path;

use anyhow::Result;
use sliceplan::dataset::Dataset;
use sliceplan::export::{check_handoff, split, write_package};
use sliceplan::plan::Plan;

use super::{load_data_arg, print_json, with_progress};
use crate::cli::args::HandoffArgs;

pub fn handoff(args: HandoffArgs) -> Result<()> {
    let ds = load_data_arg(&args.data)?;
    let plan = Plan::load(&args.plan)?;
    let split = split(&plan, args.annotators, args.overlap)?;
    let (out, force, json) = (args.out.clone(), args.force, args.json);
    let summary = with_progress("sliceplan-handoff", move |p| {
        write_package(&ds, &plan, &split, &out, force, p)
    })?;
    if json {
        return print_json(&summary);
    }
    for (name, cases, hours) in &summary.annotators {
        println!("  {name:<14} {cases:>4} cases  about {hours:.1} h");
    }
    if !summary.shared.is_empty() {
        println!(
            "  given to two annotators for agreement: {}",
            summary.shared.join(", ")
        );
    }
    println!(
        "hand-off written to {} (templates hold {} off the planned slices)",
        summary.out.display(),
        summary.ignore_value
    );
    Ok(())
}

pub fn handoff_status(ds: &Dataset, dir: &Path, json: bool) -> Result<()> {
    let status = check_handoff(ds, dir)?;
    if json {
        return print_json(&status);
    }
    println!(
        "{} of {} planned slices done, {} answered as holding no target, {} missing, {} annotated outside the plan",
        status.done_slices,
        status.planned_slices,
        status.absent_slices,
        status.missing_slices,
        status.off_plan_slices
    );
    for c in &status.cases {
        println!(
            "  {:<14} {:<24} done {:>3}  absent {:>3}  missing {:?}{}",
            c.annotator,
            c.case_id,
            c.done.len(),
            c.absent.len(),
            c.missing,
            if c.off_plan.is_empty() {
                String::new()
            } else {
                format!("  outside the plan {:?}", c.off_plan)
            }
        );
    }
    for a in &status.agreement {
        let worst: Vec<String> = a
            .slices
            .iter()
            .take(3)
            .map(|(s, d)| format!("{s} ({d:.3})"))
            .collect();
        println!(
            "  agreement on {} ({} vs {}): Dice {:.3}; slices that disagree most: {}",
            a.case_id,
            a.annotators[0],
            a.annotators[1],
            a.dice,
            worst.join(", ")
        );
    }
    Ok(())
}
