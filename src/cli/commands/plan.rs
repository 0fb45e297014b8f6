//! `sliceplan plan`, `export-nnunet` and `status`: plans and what comes back from annotators.

use std::path::PathBuf;

use anyhow::Result;

use super::{Args, load_data, print_json, request_args, target_arg, with_progress};
use sliceplan::export::{self, check_returned, remaining_plan};
use sliceplan::plan::{Plan, make_plan};

pub fn plan(mut args: Args) -> Result<()> {
    let data = args.req("--data")?;
    let ds = load_data(&data)?;
    let request = request_args(&mut args, &ds)?;
    let out = args.opt("--out")?;
    let csv = args.opt("--csv")?;
    let json = args.flag("--json");
    args.finish()?;
    let for_job = ds.clone();
    let plan = with_progress("sliceplan-plan", move |p| make_plan(&for_job, &request, p))?;
    if let Some(out) = &out {
        plan.save(out)?;
    }
    if let Some(csv) = &csv {
        export::write_worklist(&plan, &ds, csv)?;
    }
    if json {
        return print_json(&plan);
    }
    let a = &plan.accounting;
    println!(
        "{} slices in {} of {} volumes: {:.2} slices per volume, density ρ = {:.3}, ≈ {:.1} h of annotation",
        a.planned_slices,
        a.volumes,
        a.available_volumes,
        a.slices_per_volume,
        a.density,
        a.estimated_seconds / 3600.0
    );
    for line in &plan.rationale {
        println!("  {line}");
    }
    if !plan.test_cases.is_empty() {
        println!("  held out for testing: {}", plan.test_cases.join(", "));
    }
    for v in &plan.volumes {
        println!(
            "  {:<28} {:>3} of {:>4} slices: {:?}",
            v.case_id,
            v.slices.len(),
            v.slice_count,
            v.slices
        );
    }
    if let Some(out) = out {
        println!("plan written to {out}");
    }
    if let Some(csv) = csv {
        println!("worklist written to {csv}");
    }
    Ok(())
}

pub fn export_nnunet(mut args: Args) -> Result<()> {
    let ds = load_data(&args.req("--data")?)?;
    let plan = Plan::load(args.req("--plan")?)?;
    let out = PathBuf::from(args.req("--out")?);
    let target = target_arg(&mut args, &ds)?;
    let masks = args.opt("--masks")?.map(PathBuf::from);
    let json = args.flag("--json");
    args.finish()?;
    let summary = with_progress("sliceplan-export", move |p| {
        export::export_nnunet(&ds, &plan, &out, &target, masks.as_deref(), p)
    })?;
    if json {
        return print_json(&summary);
    }
    println!(
        "wrote {} cases ({} annotated slices, ignore label {}) to {}; labels {:?}",
        summary.cases, summary.annotated_slices, summary.ignore_label, summary.out, summary.labels
    );
    Ok(())
}

pub fn status(mut args: Args) -> Result<()> {
    let ds = load_data(&args.req("--data")?)?;
    let plan = Plan::load(args.req("--plan")?)?;
    let masks = PathBuf::from(args.req("--masks")?);
    let ignore: Option<i64> = args.parsed("--ignore")?;
    let remaining_csv = args.opt("--remaining-csv")?;
    let json = args.flag("--json");
    args.finish()?;
    plan.check_dataset(&ds)?;
    let status = check_returned(&plan, &masks, ignore)?;
    if let Some(path) = &remaining_csv {
        export::write_worklist(&remaining_plan(&plan, &status), &ds, path)?;
    }
    if json {
        return print_json(&status);
    }
    println!(
        "{} of {} planned slices done, {} missing, {} annotated outside the plan",
        status.done_slices,
        status.planned_slices,
        status.missing_slices,
        status.outside_plan_slices
    );
    for c in &status.cases {
        println!(
            "  {:<28} done {:>3}  missing {:?}{}",
            c.case_id,
            c.done.len(),
            c.missing,
            if c.outside_plan.is_empty() {
                String::new()
            } else {
                format!("  outside plan {:?}", c.outside_plan)
            }
        );
    }
    if let Some(path) = remaining_csv {
        println!("worklist of the remaining slices written to {path}");
    }
    Ok(())
}
