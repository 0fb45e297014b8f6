//! `sliceplan plan`, `export-nnunet` and `status`: plans and what comes back from annotators.

use anyhow::Result;

use super::super::args::{ExportNnunetArgs, PlanArgs, StatusArgs};
use super::{load_data_arg, print_json, request_args, target_arg, with_progress};
use sliceplan::export::{self, check_returned, remaining_plan};
use sliceplan::plan::{Plan, explain_coverage, make_plan};

pub fn plan(args: PlanArgs) -> Result<()> {
    let ds = load_data_arg(&args.data)?;
    let request = request_args(&args.plan, &ds)?;
    let (out, csv, json) = (args.out, args.csv, args.json);
    let for_job = ds.clone();
    let plan = with_progress("sliceplan-plan", move |p| {
        let mut plan = make_plan(&for_job, &request, p)?;
        explain_coverage(&for_job, &mut plan, p)?;
        Ok(plan)
    })?;
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
        println!("plan written to {}", out.display());
    }
    if let Some(csv) = csv {
        println!("worklist written to {}", csv.display());
    }
    Ok(())
}

pub fn export_nnunet(args: ExportNnunetArgs) -> Result<()> {
    let ds = load_data_arg(&args.data)?;
    let plan = Plan::load(&args.plan)?;
    let target = target_arg(args.label.as_deref(), &ds)?;
    let (out, masks, json) = (args.out, args.masks, args.json);
    let keep_off_plan = args.keep_off_plan;
    let summary = with_progress("sliceplan-export", move |p| {
        let returned = masks
            .as_deref()
            .map(|dir| export::ReturnedMasks { dir, keep_off_plan });
        export::export_nnunet(&ds, &plan, &out, &target, returned, p)
    })?;
    if json {
        return print_json(&summary);
    }
    println!(
        "wrote {} cases ({} annotated slices, ignore label {}) to {}; labels {:?}, from {}",
        summary.cases,
        summary.annotated_slices,
        summary.ignore_label,
        summary.out,
        summary.labels,
        summary.source
    );
    Ok(())
}

pub fn status(args: StatusArgs) -> Result<()> {
    let ds = load_data_arg(&args.data)?;
    if let Some(dir) = &args.handoff {
        return super::handoff::handoff_status(&ds, dir, args.report.as_deref(), args.json);
    }
    let (Some(plan), Some(masks)) = (&args.plan, args.masks.clone()) else {
        anyhow::bail!("status needs --plan and --masks, or --handoff");
    };
    let plan = Plan::load(plan)?;
    let (ignore, remaining_csv, json) = (args.ignore, args.remaining_csv, args.json);
    plan.check_dataset(&ds)?;
    let status = check_returned(&ds, &plan, &masks, ignore)?;
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
        println!(
            "worklist of the remaining slices written to {}",
            path.display()
        );
    }
    Ok(())
}
