//! `handoff`: a plan split into one package per annotator; `status --handoff`: read it back.

use std::path::Path;

use anyhow::Result;
use sliceplan::dataset::Dataset;
use sliceplan::export::{read_back, split, write_package};
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

pub fn handoff_status(ds: &Dataset, dir: &Path, report: Option<&Path>, json: bool) -> Result<()> {
    let (status, markdown) = read_back(ds, dir, report)?;
    if json {
        return print_json(&status);
    }
    print!("{markdown}");
    if let Some(path) = report {
        println!("\nstatus report written to {}", path.display());
    }
    Ok(())
}
