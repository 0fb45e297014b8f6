//! `sliceplan study run|status|report STUDY.toml --data D [--store S]`: the study engine.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};

use super::{Args, load_data, print_json, with_progress};
use sliceplan::study::calibrate::calibrate;
use sliceplan::study::report::{summarize_runs, write_report};
use sliceplan::study::slurm::{self, SlurmOptions};
use sliceplan::study::{ResultStore, Study, dataset_fingerprint, engine};

pub fn study(mut args: Args) -> Result<()> {
    let action = args.positional().context(
        "study needs an action: run, status, report, calibrate, export-slurm, run-task or collect (see `sliceplan study --help`)",
    )?;
    match action.as_str() {
        "run-task" => return run_task(args),
        "collect" => return collect(args),
        _ => {}
    }
    let file = PathBuf::from(
        args.positional()
            .context("study needs a study file (STUDY.toml)")?,
    );
    let data = args.req("--data")?;
    let ds = load_data(&data)?;
    let store_dir = args.opt("--store")?;
    let out = args.opt("--out")?.map(PathBuf::from);
    let slurm = SlurmOptions {
        partition: args.opt("--partition")?,
        gpus_per_task: args.parsed("--gpus-per-task")?,
        time: args.opt("--time")?,
        memory: args.opt("--mem")?,
        cpus_per_task: args.parsed("--cpus-per-task")?,
    };
    let reference_preset = args
        .opt("--reference-preset")?
        .unwrap_or_else(|| "full".into());
    let reference_steps: Option<usize> = args.parsed("--reference-steps")?;
    let json = args.flag("--json");
    args.finish()?;
    let study = Study::load(&file)?;
    let fingerprint = dataset_fingerprint(&ds)?;
    // Every run is checked before anything is trained.
    let specs = study.runs(&ds, &fingerprint, &file)?;
    let store = ResultStore::for_dataset(&ds, store_dir.as_deref().map(std::path::Path::new))?;
    match action.as_str() {
        "run" => {
            let (ds2, specs2, store2) = (ds.clone(), specs.clone(), store.clone());
            let progress = with_progress("sliceplan-study", move |p| {
                engine::run_missing(&ds2, &specs2, &store2, p)
            })?;
            if json {
                return print_json(&progress);
            }
            println!(
                "{} of {} runs stored ({} ran now, {} skipped as infeasible) in {}",
                progress.done,
                progress.total,
                progress.ran,
                progress.skipped,
                store.dir().display()
            );
            print_summary(&specs, &store)
        }
        "status" => {
            let progress = engine::status(&specs, &store)?;
            if json {
                return print_json(&serde_json::json!({
                    "total": progress.total,
                    "done": progress.done,
                    "skipped": progress.skipped,
                    "missing": progress.total - progress.done,
                    "store": store.dir().display().to_string(),
                }));
            }
            println!(
                "{} of {} runs done ({} skipped as infeasible), {} missing; store {}",
                progress.done,
                progress.total,
                progress.skipped,
                progress.total - progress.done,
                store.dir().display()
            );
            Ok(())
        }
        "report" => {
            let out = out.context("study report needs --out DIR")?;
            let title = study
                .name
                .clone()
                .unwrap_or_else(|| format!("Study of '{}'", ds.id));
            let files = write_report(&title, &specs, &store.load()?, &out)?;
            if json {
                return print_json(&files);
            }
            println!(
                "report written to {} and {} ({} plots)",
                files.markdown.display(),
                files.html.display(),
                files.plots.len()
            );
            Ok(())
        }
        "calibrate" => {
            let reference = Study {
                preset: reference_preset,
                steps: reference_steps,
                ..study.clone()
            };
            let reference_specs = reference.runs(&ds, &fingerprint, &file)?;
            let mut all = specs.clone();
            all.extend(reference_specs.iter().cloned());
            let (ds2, store2) = (ds.clone(), store.clone());
            with_progress("sliceplan-calibrate", move |p| {
                engine::run_missing(&ds2, &all, &store2, p)
            })?;
            let c = calibrate(&specs, &reference_specs, &store.load()?);
            if json {
                return print_json(&c);
            }
            let steps =
                |specs: &[sliceplan::study::RunSpec]| specs.first().map_or(0, |s| s.train.steps);
            let (quick_name, reference_name) = (
                format!("{} {} steps", study.preset, steps(&specs)),
                format!("{} {} steps", reference.preset, steps(&reference_specs)),
            );
            println!("{:<40} {quick_name:>18} {reference_name:>18}", "scenario");
            for (name, q, r) in &c.scenarios {
                println!("{name:<40} {q:>18.3} {r:>18.3}");
            }
            let f = |v: Option<f64>| v.map_or("—".to_string(), |v| format!("{v:.3}"));
            println!(
                "Spearman {}, mean absolute error {}; correction {}: leave-one-out error {}",
                f(c.spearman),
                f(c.mean_absolute_error),
                c.correction.map_or("—".to_string(), |(a, b)| format!(
                    "{a:.3} + {b:.3} × quick"
                )),
                f(c.corrected_mae_loo)
            );
            Ok(())
        }
        "export-slurm" => {
            let out = out.context("study export-slurm needs --out DIR")?;
            let contents = store.load()?;
            let missing: Vec<_> = specs
                .iter()
                .filter(|s| contents.get(&s.key()).is_none())
                .cloned()
                .collect();
            let binary = std::env::current_exe().context("cannot find the sliceplan executable")?;
            let written = slurm::export(&out, &data, &ds, &store, missing, &binary, &slurm)?;
            if json {
                return print_json(&written);
            }
            println!(
                "{} tasks: submit with `sbatch {}`, then `sliceplan study collect --manifest {}`",
                written.tasks,
                written.script.display(),
                written.manifest.display()
            );
            Ok(())
        }
        other => bail!(
            "unknown study action '{other}' (choose run, status, report, calibrate, export-slurm, run-task or collect)"
        ),
    }
}

/// `study run-task --manifest M --index I`: one array task.
fn run_task(mut args: Args) -> Result<()> {
    let manifest_path = PathBuf::from(args.req("--manifest")?);
    let index: usize = args
        .parsed("--index")?
        .context("run-task needs --index I (the array task id)")?;
    args.finish()?;
    let manifest = slurm::load_manifest(&manifest_path)?;
    let ds = load_data(&manifest.data)?;
    if dataset_fingerprint(&ds)? != manifest.fingerprint {
        bail!(
            "the dataset at {} changed since the manifest was written: {}",
            manifest.data,
            manifest_path.display()
        );
    }
    with_progress("sliceplan-task", move |p| {
        slurm::run_task(&manifest, &ds, index, p)
    })?;
    Ok(())
}

/// `study collect --manifest M`: merges the tasks' runs into the study's store.
fn collect(mut args: Args) -> Result<()> {
    let manifest_path = PathBuf::from(args.req("--manifest")?);
    let json = args.flag("--json");
    args.finish()?;
    let manifest = slurm::load_manifest(&manifest_path)?;
    let (added, pending) = slurm::collect(&manifest)?;
    if json {
        return print_json(&serde_json::json!({"added": added, "pending": pending}));
    }
    println!(
        "{added} run(s) merged into {}; {pending} task(s) have not stored their run yet",
        manifest.store.display()
    );
    Ok(())
}

fn print_summary(
    specs: &[sliceplan::study::RunSpec],
    store: &sliceplan::study::ResultStore,
) -> Result<()> {
    let contents = store.load()?;
    println!(
        "{:<12} {:<10} {:<10} {:<8} {:>6} {:>7} {:>24} {:>5}",
        "budget", "allocation", "strategy", "model", "vols", "ρ", "Dice [95 % CI]", "runs"
    );
    for s in summarize_runs(specs, &contents) {
        if s.runs == 0 {
            println!(
                "{:<12} {:<10} {:<10} {:<8} skipped: {}",
                s.budget,
                s.allocation,
                s.strategy,
                s.model,
                s.skipped.join("; ")
            );
            continue;
        }
        println!(
            "{:<12} {:<10} {:<10} {:<8} {:>6.1} {:>7.3} {:>24} {:>5}{}",
            s.budget,
            s.allocation,
            s.strategy,
            s.model,
            s.volumes,
            s.density,
            format!("{:.3} [{:.3}, {:.3}]", s.dice.mean, s.dice.lo, s.dice.hi),
            s.runs,
            if s.flagged > 0 {
                format!("  ⚠ {} did not learn", s.flagged)
            } else {
                String::new()
            }
        );
    }
    Ok(())
}
