//! The subcommands.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde::Serialize;

use super::Args;
use sliceplan::app::{Settings, SliceplanApp};
use sliceplan::dataset::{Dataset, TargetLabels, demo, info, open_dataset};
use sliceplan::export::{self, check_returned, remaining_plan};
use sliceplan::interp::{self, Method};
use sliceplan::io::Plane;
use sliceplan::jobs::{Job, Progress};
use sliceplan::plan::{
    BodyRule, Budget, CostModel, Plan, PlanRequest, Rounding, SliceStrategy, VolumeStrategy,
    make_plan,
};
use sliceplan::sim::{scenario_grid, simulate_seeds, summarize, volume_grid};
use sliceplan::train::{BackendChoice, ModelKind, TrainConfig, train_and_evaluate};

fn print_json<T: Serialize>(value: &T) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

fn load_data(spec: &str) -> Result<Dataset> {
    if spec == "demo" {
        return Ok(demo::dataset());
    }
    Ok(open_dataset(spec)?)
}

fn list<T: std::str::FromStr>(spec: &str, what: &str) -> Result<Vec<T>> {
    spec.split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| {
            s.trim()
                .parse::<T>()
                .map_err(|_| anyhow::anyhow!("{what}: cannot read '{s}'"))
        })
        .collect()
}

/// Runs `work` on a named background thread, reporting progress on stderr when it is a terminal
/// (or every 10 s otherwise).
fn with_progress<T: Send + 'static>(
    name: &str,
    quiet: bool,
    work: impl FnOnce(&Progress) -> sliceplan::Result<T> + Send + 'static,
) -> Result<T> {
    let mut job = Job::spawn(name, work)?;
    let tty = std::io::stderr().is_terminal();
    let mut last = String::new();
    let mut waited = Duration::ZERO;
    loop {
        if let Some(r) = job.try_result() {
            if tty && !quiet {
                eprintln!();
            }
            return Ok(r?);
        }
        std::thread::sleep(Duration::from_millis(200));
        waited += Duration::from_millis(200);
        let (f, msg) = job.progress.get();
        if quiet || msg == last {
            continue;
        }
        if tty {
            eprint!("\r{:>5.1}% {msg:<70}", f * 100.0);
            last = msg;
        } else if waited >= Duration::from_secs(10) {
            eprintln!("{:>5.1}% {msg}", f * 100.0);
            last = msg;
            waited = Duration::ZERO;
        }
    }
}

/// The window icon (assets/icon.png: a body outline crossed by three planned slices).
fn with_icon(builder: egui::ViewportBuilder) -> egui::ViewportBuilder {
    match image::load_from_memory(include_bytes!("../../assets/icon.png")) {
        Ok(img) => {
            let rgba = img.to_rgba8();
            let (width, height) = rgba.dimensions();
            builder.with_icon(std::sync::Arc::new(egui::IconData {
                rgba: rgba.into_raw(),
                width,
                height,
            }))
        }
        Err(_) => builder,
    }
}

pub fn gui(mut args: Args) -> Result<()> {
    let data = args.opt("--data")?;
    args.finish()?;
    let mut settings = Settings::load();
    let dataset = match data.or_else(|| settings.data_path.clone()) {
        Some(d) if d != "demo" => match open_dataset(&d) {
            Ok(ds) => ds,
            Err(e) => {
                eprintln!("sliceplan: {e}; opening the demo cohort instead");
                settings.data_path = None;
                demo::dataset()
            }
        },
        _ => demo::dataset(),
    };
    let app = SliceplanApp::new(dataset, settings).persisting_settings();
    let options = eframe::NativeOptions {
        viewport: with_icon(
            egui::ViewportBuilder::default()
                .with_inner_size([1400.0, 900.0])
                .with_title("sliceplan"),
        ),
        ..Default::default()
    };
    eframe::run_native("sliceplan", options, Box::new(|_cc| Ok(Box::new(app))))
        .map_err(|e| anyhow::anyhow!("cannot start the GUI ({e}); the command-line subcommands work without a display (see `sliceplan help`)"))
}

pub fn info(mut args: Args) -> Result<()> {
    let json = args.flag("--json");
    let path = args
        .positional()
        .context("info needs a PATH (a NIfTI file or a dataset folder)")?;
    args.finish()?;
    let p = Path::new(&path);
    if p.is_dir() || path == "demo" {
        let ds = load_data(&path)?;
        let summary = info::dataset_info(&ds)?;
        if json {
            return print_json(&summary);
        }
        println!(
            "{} ({:?}, {} cases) — labels: {:?}",
            summary.id,
            summary.layout,
            summary.cases.len(),
            summary.label_names
        );
        for c in &summary.cases {
            println!(
                "  {:<28} {:>4}×{:<4}×{:<4} {:>5.2}×{:.2}×{:.2} mm  {}  {}{}",
                c.id,
                c.image.shape[0],
                c.image.shape[1],
                c.image.shape[2],
                c.image.spacing_mm[0],
                c.image.spacing_mm[1],
                c.image.spacing_mm[2],
                c.image.orientation,
                c.image.dtype,
                c.labels
                    .as_ref()
                    .map(|l| format!(
                        "  {} labels",
                        l.label_voxels.as_ref().map(|v| v.len()).unwrap_or(0)
                    ))
                    .unwrap_or_default()
            );
        }
        return Ok(());
    }
    let summary = info::file_info(p)?;
    if json {
        return print_json(&summary);
    }
    println!("{}", summary.path);
    let spacing: Vec<String> = summary
        .spacing_mm
        .iter()
        .map(|s| format!("{s:.4}"))
        .collect();
    println!(
        "  shape {:?}, spacing [{}] mm, orientation {}, {}",
        summary.shape,
        spacing.join(", "),
        summary.orientation,
        summary.dtype
    );
    if let Some(l) = &summary.label_voxels {
        println!("  label voxels: {l:?}");
    }
    if let Some(r) = summary.intensity_range {
        println!("  intensity range: {} to {}", r[0], r[1]);
    }
    if summary.non_finite_voxels > 0 {
        println!("  warning: {} NaN/Inf voxels", summary.non_finite_voxels);
    }
    Ok(())
}

pub fn demo(mut args: Args) -> Result<()> {
    let out = PathBuf::from(args.req("--out")?);
    args.finish()?;
    let n = demo::write_nnunet(&out)?;
    println!(
        "wrote {n} demo cases as an nnU-Net raw dataset to {}",
        out.display()
    );
    Ok(())
}

fn budget_args(args: &mut Args) -> Result<(Option<Budget>, CostModel)> {
    let slices: Option<usize> = args.parsed("--budget-slices")?;
    let hours: Option<f64> = args.parsed("--budget-hours")?;
    let mut cost = CostModel::default();
    if let Some(x) = args.parsed("--seconds-per-slice")? {
        cost.seconds_per_slice = x;
    }
    if let Some(x) = args.parsed("--seconds-per-volume")? {
        cost.seconds_per_volume = x;
    }
    let budget = match (slices, hours) {
        (Some(_), Some(_)) => bail!("give --budget-slices or --budget-hours, not both"),
        (Some(b), None) => Some(Budget::Slices(b)),
        (None, Some(h)) => Some(Budget::Seconds(h * 3600.0)),
        (None, None) => None,
    };
    Ok((budget, cost))
}

fn target_arg(args: &mut Args, ds: &Dataset) -> Result<TargetLabels> {
    Ok(match args.opt("--label")? {
        Some(spec) => TargetLabels::parse(&spec, &ds.label_names)?,
        None => TargetLabels::all_foreground(),
    })
}

fn plane_arg(args: &mut Args) -> Result<Plane> {
    match args.opt("--plane")? {
        Some(p) => Plane::parse(&p)
            .with_context(|| format!("unknown plane '{p}' (choose axial, coronal or sagittal)")),
        None => Ok(Plane::Axial),
    }
}

fn request_args(args: &mut Args, ds: &Dataset) -> Result<PlanRequest> {
    let (budget, cost_model) = budget_args(args)?;
    let mut body_rule = BodyRule::default();
    if let Some(t) = args.parsed("--body-threshold")? {
        body_rule.threshold = Some(t);
    }
    if let Some(f) = args.parsed("--body-min-fraction")? {
        body_rule.min_fraction = f;
    }
    Ok(PlanRequest {
        budget,
        volumes: args.parsed("--volumes")?,
        density: args.parsed("--density")?,
        rounding: match args.opt("--rounding")?.as_deref() {
            None | Some("fixed-k") | Some("fixed") => Rounding::FixedK,
            Some("density") => Rounding::Density,
            Some(o) => bail!("unknown rounding '{o}' (choose fixed-k or density)"),
        },
        min_slices_per_volume: args.parsed("--min-slices")?.unwrap_or(1),
        slice_strategy: SliceStrategy::parse(
            &args.opt("--strategy")?.unwrap_or_else(|| "fixed".into()),
        )?,
        volume_strategy: VolumeStrategy::parse(
            &args
                .opt("--volume-strategy")?
                .unwrap_or_else(|| "random".into()),
        )?,
        seed: args.parsed("--seed")?.unwrap_or(0),
        plane: plane_arg(args)?,
        body_rule,
        cost_model,
        target: target_arg(args, ds)?,
        holdout: args.parsed("--holdout")?.unwrap_or(0),
    })
}

pub fn plan(mut args: Args) -> Result<()> {
    let data = args.req("--data")?;
    let ds = load_data(&data)?;
    let request = request_args(&mut args, &ds)?;
    let out = args.opt("--out")?;
    let csv = args.opt("--csv")?;
    let json = args.flag("--json");
    args.finish()?;
    let for_job = ds.clone();
    let plan = with_progress("sliceplan-plan", json, move |p| {
        make_plan(&for_job, &request, p)
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
    let summary = with_progress("sliceplan-export", json, move |p| {
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

pub fn interp(mut args: Args) -> Result<()> {
    let ds = load_data(&args.req("--data")?)?;
    let plan = Plan::load(args.req("--plan")?)?;
    let method = Method::parse(&args.opt("--method")?.unwrap_or_else(|| "sdf".into()))?;
    let out = args.opt("--out")?.map(PathBuf::from);
    let extrapolate = args.flag("--extrapolate");
    let json = args.flag("--json");
    // Default: the labels the plan targets (every non-zero label unless it names some).
    let target = match args.opt("--label")? {
        Some(spec) => TargetLabels::parse(&spec, &ds.label_names)?,
        None => plan.request.target.clone(),
    };
    args.finish()?;
    let report = with_progress("sliceplan-interp", json, move |p| {
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

fn train_config(args: &mut Args) -> Result<TrainConfig> {
    let mut c = TrainConfig::default();
    if let Some(m) = args.opt("--model")? {
        c.model = ModelKind::parse(&m)?;
    }
    if let Some(b) = args.opt("--backend")? {
        c.backend = BackendChoice::parse(&b)?;
    }
    if let Some(s) = args.parsed("--steps")? {
        c.steps = s;
    }
    c.batch_size = args.parsed("--batch")?;
    if let Some(p) = args.opt("--patch")? {
        c.patch = Some(list::<usize>(&p, "--patch")?);
    }
    if let Some(lr) = args.parsed("--lr")? {
        c.learning_rate = lr;
    }
    if let Some(seed) = args.parsed("--seed")? {
        c.seed = seed;
    }
    if let Some(m) = args.opt("--interp")? {
        c.interpolation = Some(Method::parse(&m)?);
    }
    if let Some(n) = args.parsed("--max-in-plane")? {
        c.max_in_plane = n;
    }
    if let Some(f) = args.opt("--features")? {
        c.features = Some(list::<usize>(&f, "--features")?);
    }
    Ok(c)
}

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
    let report = with_progress("sliceplan-train", json, move |p| {
        train_and_evaluate(
            &ds,
            &plan,
            &target,
            &config,
            Some(&out),
            resume,
            predict_out.as_deref(),
            p,
        )
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

pub fn simulate(mut args: Args) -> Result<()> {
    let ds = load_data(&args.req("--data")?)?;
    let mut base = request_args(&mut args, &ds)?;
    if base.budget.is_none() {
        bail!("simulate needs a budget (--budget-slices or --budget-hours)");
    }
    if base.holdout == 0 {
        base.holdout = (ds.len() / 4).max(1);
    }
    let grid = match args.opt("--volumes-grid")? {
        Some(g) => list::<usize>(&g, "--volumes-grid")?,
        None => volume_grid(ds.len() - base.holdout, 4),
    };
    let strategies: Vec<SliceStrategy> = match args.opt("--strategies")? {
        Some(s) => s
            .split(',')
            .map(|x| SliceStrategy::parse(x.trim()))
            .collect::<sliceplan::Result<_>>()?,
        None => vec![base.slice_strategy],
    };
    // `--interp none,sdf` compares training with and without interpolated masks.
    let interpolations: Vec<Option<Method>> = match args.opt("--interp")? {
        Some(list) => list
            .split(',')
            .map(|m| match m.trim() {
                "none" => Ok(None),
                other => Method::parse(other).map(Some),
            })
            .collect::<sliceplan::Result<_>>()?,
        None => vec![None],
    };
    // `--seeds 0,1,2` repeats every scenario per seed (plans, held-out volumes and training).
    let seeds: Vec<u64> = match args.opt("--seeds")? {
        Some(spec) => list::<u64>(&spec, "--seeds")?,
        None => vec![base.seed],
    };
    let config = train_config(&mut args)?;
    let json = args.flag("--json");
    args.finish()?;
    let target = base.target.clone();
    let scenarios = scenario_grid(&grid, &strategies, config.model, &interpolations);
    let simulation = with_progress("sliceplan-simulate", json, move |p| {
        simulate_seeds(&ds, &base, &scenarios, &seeds, &target, &config, p)
    })?;
    if json {
        return print_json(&simulation);
    }
    println!(
        "{:<26} {:>9} {:>8} {:>10} {:>8} {:>5}",
        "plan", "per vol", "density", "mean Dice", "± sd", "runs"
    );
    for s in summarize(&simulation.results) {
        println!(
            "{:<26} {:>9.2} {:>8.3} {:>10.4} {:>8.4} {:>5}",
            s.scenario.label(),
            s.slices_per_volume,
            s.density,
            s.mean_dice,
            s.sd_dice,
            s.runs
        );
    }
    for k in &simulation.skipped {
        println!(
            "skipped {} (seed {}): {}",
            k.scenario.label(),
            k.seed,
            k.reason
        );
    }
    Ok(())
}
