//! `sliceplan study run|status|report STUDY.toml --data D [--store S]`: the study engine.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};

use super::super::args::{StudyAction, StudyArgs};
use super::{load_data, print_json, with_progress};
use sliceplan::study::calibrate::{Calibration, calibrate};
use sliceplan::study::preflight::coverage_warnings;
use sliceplan::study::race::{RaceReport, RaceRule, races_of_study};
use sliceplan::study::report::{summarize_runs, write_report};
use sliceplan::study::reruns::{is_rerun, run_with_reruns, with_reruns};
use sliceplan::study::sequential::Sequential;
use sliceplan::study::slurm::{self, SlurmOptions};
use sliceplan::study::{ResultStore, Study, engine};

pub fn study(args: StudyArgs) -> Result<()> {
    match args.action {
        StudyAction::RunTask => return run_task(&args),
        StudyAction::Collect => return collect(&args),
        _ => {}
    }
    let opened = OpenStudy::open(&args)?;
    match args.action {
        // A race spends a seed on a run that did not learn and draws the next itself.
        StudyAction::Run if args.race => run_races(
            &opened.runner(),
            &opened.study_specs,
            race_rule(&args),
            args.json,
        ),
        StudyAction::Run => run_action(&opened, args.json),
        StudyAction::Status => status_action(&opened, args.json),
        StudyAction::Report => report_action(&opened, &args),
        StudyAction::Calibrate => calibrate_action(&opened, &args),
        StudyAction::ExportSlurm => export_slurm_action(&opened, &args),
        StudyAction::RunTask | StudyAction::Collect => unreachable!("handled above"),
    }
}

/// A study file opened on its dataset and store, its runs expanded and checked.
struct OpenStudy {
    file: PathBuf,
    data: String,
    ds: sliceplan::dataset::Dataset,
    store: ResultStore,
    study: Study,
    /// The study's runs.
    study_specs: Vec<sliceplan::study::RunSpec>,
    /// The study's runs and the reruns the store's flagged runs already call for (a worker
    /// process: only its share).
    specs: Vec<sliceplan::study::RunSpec>,
    /// The `--preset/--steps` arguments the study runs under (given to worker processes).
    overrides: Vec<String>,
    /// Reruns per scenario of runs that did not learn.
    reruns: usize,
    /// `--workers` (None: chosen), or Some(1) in a worker process.
    workers: Option<usize>,
    /// `--worker K/N`: this process is worker K of N.
    worker: Option<(usize, usize)>,
}

impl OpenStudy {
    fn open(args: &StudyArgs) -> Result<Self> {
        let file = args
            .file
            .clone()
            .context("study needs a study file (STUDY.toml)")?;
        let data = args
            .data
            .clone()
            .context("study needs --data DIR (a dataset folder, or `demo`)")?;
        let ds = load_data(&data)?;
        let worker = args.worker.as_deref().map(parse_worker).transpose()?;
        let workers = parse_workers(&args.workers)?;
        let mut study = Study::load(&file)?;
        let overrides = apply_overrides(&mut study, args);
        let reruns = args.reruns.unwrap_or_else(|| study.reruns());
        // Runs are keyed by the store's fingerprint: the dataset's grids, and its labels where
        // they changed since the store was made.
        let store = ResultStore::for_dataset(&ds, args.store.as_deref())?;
        // Every run is checked before anything is trained.
        let study_specs = study.runs(&ds, store.fingerprint(), &file)?;
        let mut specs = with_reruns(&study_specs, &store.load()?, reruns);
        if let Some((k, n)) = worker {
            specs.retain(|s| worker_of(&s.key(), n) == k);
        }
        Ok(OpenStudy {
            file,
            data,
            ds,
            store,
            study,
            study_specs,
            specs,
            overrides,
            reruns,
            workers: if worker.is_some() { Some(1) } else { workers },
            worker,
        })
    }

    fn runner(&self) -> Runner<'_> {
        Runner {
            file: &self.file,
            data: &self.data,
            ds: &self.ds,
            store: &self.store,
            workers: self.workers,
            in_worker: self.worker.is_some(),
        }
    }
}

/// `--preset P [--steps N]` runs the study under another preset (as calibrate does); the
/// arguments that say so, for worker processes.
fn apply_overrides(study: &mut Study, args: &StudyArgs) -> Vec<String> {
    let mut overrides = Vec::new();
    if let Some(p) = &args.preset {
        overrides.extend(["--preset".to_string(), p.clone()]);
        study.preset = p.clone();
        study.steps = None;
    }
    if let Some(n) = args.steps {
        overrides.extend(["--steps".to_string(), n.to_string()]);
        study.steps = Some(n);
    }
    if let Some(n) = args.reruns {
        overrides.extend(["--reruns".to_string(), n.to_string()]);
    }
    overrides
}

/// `--workers N|auto`: None for auto.
fn parse_workers(text: &str) -> Result<Option<usize>> {
    match text {
        "auto" => Ok(None),
        n => match n.parse::<usize>() {
            Ok(n) if n > 0 => Ok(Some(n)),
            _ => bail!(sliceplan::Error::invalid(format!(
                "--workers takes a number of processes (at least 1) or auto, got '{n}'"
            ))),
        },
    }
}

fn race_rule(args: &StudyArgs) -> RaceRule {
    RaceRule {
        margin: args.margin,
        max_runs: args.max_runs,
        max_seconds: args.max_minutes.map(|m| m * 60.0),
    }
}

/// `study run`: every missing run, then the reruns of those that did not learn, round by round
/// (a worker process runs its share of one round; its parent runs the rounds).
fn run_action(opened: &OpenStudy, json: bool) -> Result<()> {
    let runner = opened.runner();
    let (specs, progress) = if opened.worker.is_some() {
        let progress = runner.run(&opened.specs, &opened.overrides)?;
        (opened.specs.clone(), progress)
    } else {
        say_coverage(opened)?;
        let mut ran = 0;
        let specs = run_with_reruns(
            &opened.specs,
            opened.reruns,
            || opened.store.load(),
            |round| -> Result<()> {
                ran += runner.run(round, &opened.overrides)?.ran;
                Ok(())
            },
        )?;
        let progress = engine::status(&specs, &opened.store)?;
        (specs, engine::StudyProgress { ran, ..progress })
    };
    if json {
        return print_json(&progress);
    }
    let reruns = specs.iter().filter(|s| is_rerun(s)).count();
    println!(
        "{} of {} runs stored ({} ran now, {} skipped as infeasible{}) in {}",
        progress.done,
        progress.total,
        progress.ran,
        progress.skipped,
        if reruns > 0 {
            format!(", {reruns} rerun(s) of runs that did not learn")
        } else {
            String::new()
        },
        opened.store.dir().display()
    );
    print_summary(&specs, &opened.store)
}

/// Says, before training, which scenarios plan slices that miss the target in most volumes.
fn say_coverage(opened: &OpenStudy) -> Result<()> {
    let progress = sliceplan::jobs::Progress::new();
    for warning in coverage_warnings(&opened.ds, &opened.study_specs, &progress)? {
        tracing::warn!(target: "sliceplan", "{warning}");
        eprintln!("⚠ {warning}");
    }
    Ok(())
}

fn status_action(opened: &OpenStudy, json: bool) -> Result<()> {
    let progress = engine::status(&opened.specs, &opened.store)?;
    let store = opened.store.dir().display();
    if json {
        return print_json(&serde_json::json!({
            "total": progress.total,
            "done": progress.done,
            "skipped": progress.skipped,
            "missing": progress.total - progress.done,
            "store": store.to_string(),
        }));
    }
    println!(
        "{} of {} runs done ({} skipped as infeasible), {} missing; store {store}",
        progress.done,
        progress.total,
        progress.skipped,
        progress.total - progress.done,
    );
    Ok(())
}

fn report_action(opened: &OpenStudy, args: &StudyArgs) -> Result<()> {
    let out = args.out.clone().context("study report needs --out DIR")?;
    let title = opened
        .study
        .name
        .clone()
        .unwrap_or_else(|| format!("Study of '{}'", opened.ds.id));
    let files = write_report(&title, &opened.specs, &opened.store.load()?, &out)?;
    if args.json {
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

/// `study calibrate`: the study under its preset and under the reference preset, compared.
fn calibrate_action(opened: &OpenStudy, args: &StudyArgs) -> Result<()> {
    let reference = Study {
        preset: args.reference_preset.clone(),
        steps: args.reference_steps,
        ..opened.study.clone()
    };
    let reference_specs = reference.runs(&opened.ds, opened.store.fingerprint(), &opened.file)?;
    let runner = opened.runner();
    runner.run(&opened.specs, &opened.overrides)?;
    let mut reference_args = vec!["--preset".to_string(), reference.preset.clone()];
    if let Some(n) = reference.steps {
        reference_args.extend(["--steps".to_string(), n.to_string()]);
    }
    runner.run(&reference_specs, &reference_args)?;
    let c = calibrate(&opened.specs, &reference_specs, &opened.store.load()?);
    if args.json {
        return print_json(&c);
    }
    let steps = |specs: &[sliceplan::study::RunSpec]| specs.first().map_or(0, |s| s.train.steps);
    print_calibration(
        &c,
        &format!("{} {} steps", opened.study.preset, steps(&opened.specs)),
        &format!("{} {} steps", reference.preset, steps(&reference_specs)),
    );
    Ok(())
}

/// The calibration as a table and its verdicts.
fn print_calibration(c: &Calibration, quick_name: &str, reference_name: &str) {
    println!("{:<40} {quick_name:>18} {reference_name:>18}", "scenario");
    for (name, q, r) in &c.scenarios {
        println!("{name:<40} {q:>18.3} {r:>18.3}");
    }
    let f = |v: Option<f64>| v.map_or("—".to_string(), |v| format!("{v:.3}"));
    println!(
        "Spearman {}, mean absolute error {}; correction {}: leave-one-out error {}{}",
        f(c.spearman),
        f(c.mean_absolute_error),
        c.correction.map_or("—".to_string(), |(a, b)| format!(
            "{a:.3} + {b:.3} × quick"
        )),
        f(c.corrected_mae_loo),
        match c.correction_helps {
            Some(true) => " (better than none: apply it to quick's numbers)",
            Some(false) => " (no better than quick's own error: use quick's numbers as they are)",
            None => "",
        }
    );
    if let Some(mean) = c.mean_per_seed_spearman() {
        let each: Vec<String> = c
            .per_seed_spearman
            .iter()
            .map(|(seed, rho)| format!("seed {seed} {rho:.2}"))
            .collect();
        println!(
            "Spearman per seed (a seed's scenarios share their held-out volumes): {} (mean {mean:.2})",
            each.join(", ")
        );
    }
    let p = c.pairs;
    println!(
        "Pairs of plans the reference's seeds separate (95 %): {}, ordered alike by quick: {}; ties within the reference's spread: {}",
        p.separated, p.agreeing, p.within_noise
    );
    for s in &c.reference_neighbours {
        println!(
            "  reference {} over {}: {} over {} seeds, {}",
            s.higher,
            s.lower,
            s.paired.difference_text(),
            s.paired.difference.n,
            s.paired.verdict()
        );
    }
}

/// `study export-slurm`: one array task per missing run.
fn export_slurm_action(opened: &OpenStudy, args: &StudyArgs) -> Result<()> {
    let out = args
        .out
        .clone()
        .context("study export-slurm needs --out DIR")?;
    let slurm = SlurmOptions {
        partition: args.partition.clone(),
        gpus_per_task: args.gpus_per_task,
        time: args.time.clone(),
        memory: args.mem.clone(),
        cpus_per_task: args.cpus_per_task,
    };
    let contents = opened.store.load()?;
    let missing: Vec<_> = opened
        .specs
        .iter()
        .filter(|s| contents.get(&s.key()).is_none())
        .cloned()
        .collect();
    let binary = std::env::current_exe().context("cannot find the sliceplan executable")?;
    let written = slurm::export(
        &out,
        &opened.data,
        &opened.ds,
        &opened.store,
        missing,
        &binary,
        &slurm,
    )?;
    if args.json {
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

/// Races each scenario of the study (`study run --race`), in this process: every batch of runs a
/// race asks for is trained and stored before it decides again, so a cancel keeps every finished
/// run and a rerun continues the race.
fn run_races(
    runner: &Runner,
    specs: &[sliceplan::study::RunSpec],
    rule: RaceRule,
    json: bool,
) -> Result<()> {
    let races = races_of_study(specs, rule)?;
    let mut reports: Vec<(String, RaceReport)> = Vec::new();
    for (name, race) in races {
        let (ds, store) = (runner.ds.clone(), runner.store.clone());
        let report = with_progress("sliceplan-race", move |p| {
            race.run(
                || store.load(),
                |batch| engine::run_missing(&ds, batch, &store, p).map(|_| ()),
            )
        })?;
        if !json {
            println!("{name}: {}", report.line());
        }
        reports.push((name, report));
    }
    if json {
        return print_json(&reports);
    }
    Ok(())
}

/// Runs a study's missing runs: in this process, or in worker processes (`run_workers`).
struct Runner<'a> {
    file: &'a std::path::Path,
    data: &'a str,
    ds: &'a sliceplan::dataset::Dataset,
    store: &'a ResultStore,
    /// Worker processes asked for (None: chosen).
    workers: Option<usize>,
    /// This process is a worker: it watches its parent.
    in_worker: bool,
}

impl Runner<'_> {
    /// Runs what `specs` (the study under `overrides`, the `--preset/--steps` arguments that
    /// make them) miss in the store.
    fn run(
        &self,
        specs: &[sliceplan::study::RunSpec],
        overrides: &[String],
    ) -> Result<engine::StudyProgress> {
        let (workers, why) = action_workers(specs, self.store, self.workers)?;
        if workers > 1 {
            tracing::info!(target: "sliceplan", "running the missing runs in {why}");
            return run_workers(self.file, self.data, self.store, specs, workers, overrides);
        }
        let (ds, specs, store) = (self.ds.clone(), specs.to_vec(), self.store.clone());
        let in_worker = self.in_worker;
        with_progress("sliceplan-study", move |p| {
            if in_worker {
                stop_with_parent(p);
            }
            engine::run_missing(&ds, &specs, &store, p)
        })
    }
}

/// The number of worker processes: as asked, or chosen by `engine::choose_workers`; and why.
fn action_workers(
    specs: &[sliceplan::study::RunSpec],
    store: &ResultStore,
    asked: Option<usize>,
) -> Result<(usize, String)> {
    if let Some(n) = asked {
        return Ok((n, format!("{n} worker process(es), as asked")));
    }
    let status = engine::status(specs, store)?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    Ok(engine::choose_workers(
        specs,
        status.total - status.done,
        cores,
    ))
}

/// A worker process cancels its run (losing at most the run in progress, as a kill would) when
/// the process that started it is gone.
fn stop_with_parent(progress: &sliceplan::jobs::Progress) {
    #[cfg(unix)]
    watch_parent(progress);
    #[cfg(not(unix))]
    let _ = progress;
}

#[cfg(unix)]
fn watch_parent(progress: &sliceplan::jobs::Progress) {
    let parent = std::os::unix::process::parent_id();
    let progress = progress.clone();
    let _ = std::thread::Builder::new()
        .name("sliceplan-parent-watch".into())
        .spawn(move || {
            while std::os::unix::process::parent_id() == parent {
                std::thread::sleep(std::time::Duration::from_millis(200));
            }
            progress.cancel();
        });
}

/// `K/N`: worker K (from 0) of N.
fn parse_worker(text: &str) -> Result<(usize, usize)> {
    let parsed = text
        .split_once('/')
        .and_then(|(k, n)| Some((k.parse::<usize>().ok()?, n.parse::<usize>().ok()?)));
    match parsed {
        Some((k, n)) if n > 0 && k < n => Ok((k, n)),
        _ => bail!(sliceplan::Error::invalid(format!(
            "--worker takes K/N with K < N (worker K of N), got '{text}'"
        ))),
    }
}

/// Runs the study's missing runs in `workers` child processes, each taking every N-th run and
/// its share of the cores (`RAYON_NUM_THREADS`), all appending to the one store (its lock keeps
/// lines whole). Progress is read from the store.
fn run_workers(
    file: &std::path::Path,
    data: &str,
    store: &ResultStore,
    specs: &[sliceplan::study::RunSpec],
    workers: usize,
    overrides: &[String],
) -> Result<engine::StudyProgress> {
    let exe = std::env::current_exe().context("cannot find the sliceplan executable")?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = (cores / workers).max(1);
    let before = engine::status(specs, store)?;
    let mut children = Vec::new();
    for k in 0..workers {
        let child = std::process::Command::new(&exe)
            .arg("study")
            .arg("run")
            .arg(file)
            .args(["--data", data, "--quiet", "--json"])
            .arg("--store")
            .arg(store.dir())
            .args(["--worker", &format!("{k}/{workers}")])
            .args(overrides)
            .env("RAYON_NUM_THREADS", threads.to_string())
            .stdout(std::process::Stdio::null())
            .spawn()
            .with_context(|| format!("cannot start worker {k} ({})", exe.display()))?;
        children.push(child);
    }
    let started = std::time::Instant::now();
    let bar = super::super::progress::counter(before.total as u64, "runs stored");
    let mut failed = Vec::new();
    let mut last_report = None::<usize>;
    let mut last_len = None::<u64>;
    loop {
        let mut running = 0;
        for (k, child) in children.iter_mut().enumerate() {
            match child.try_wait() {
                Ok(None) => running += 1,
                Ok(Some(status)) if !status.success() && !failed.contains(&k) => failed.push(k),
                _ => {}
            }
        }
        // The store is read again only when its file grew.
        let len = store.results_len();
        let now = if last_len == Some(len) {
            None
        } else {
            last_len = Some(len);
            Some(engine::status(specs, store)?)
        };
        if let Some(now) = now.filter(|n| last_report != Some(n.done)) {
            match &bar {
                Some(bar) => {
                    bar.set_position(now.done as u64);
                    bar.set_message(format!("{workers} workers × {threads} thread(s)"));
                }
                None if !super::is_quiet() => eprintln!(
                    "{} of {} runs stored ({} workers × {threads} thread(s), {:.0} s)",
                    now.done,
                    now.total,
                    workers,
                    started.elapsed().as_secs_f64()
                ),
                None => {}
            }
            last_report = Some(now.done);
        }
        if running == 0 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let after = engine::status(specs, store)?;
    if !failed.is_empty() {
        bail!(
            "worker(s) {failed:?} stopped with an error (see above); {} of {} runs are stored",
            after.done,
            after.total
        );
    }
    Ok(engine::StudyProgress {
        ran: after.done - before.done,
        ..after
    })
}

/// `study run-task --manifest M --index I`: one array task.
fn run_task(args: &StudyArgs) -> Result<()> {
    let manifest_path = args
        .manifest
        .clone()
        .context("run-task needs --manifest FILE")?;
    let index: usize = args
        .index
        .context("run-task needs --index I (the array task id)")?;
    let manifest = slurm::load_manifest(&manifest_path)?;
    let ds = load_data(&manifest.data)?;
    let now = ResultStore::for_dataset_lazily(&ds, Some(&manifest.store))?;
    if now.fingerprint() != manifest.fingerprint {
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
fn collect(args: &StudyArgs) -> Result<()> {
    let manifest_path = args
        .manifest
        .clone()
        .context("collect needs --manifest FILE")?;
    let json = args.json;
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
    let summaries = summarize_runs(specs, &contents);
    let advice = sliceplan::study::advice::study_advice(specs, &summaries);
    for s in summaries {
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
            if s.estimated() {
                format!("{:.3} [{:.3}, {:.3}]", s.dice.mean, s.dice.lo, s.dice.hi)
            } else {
                "— (none learned)".to_string()
            },
            s.runs,
            match (s.flagged, s.reruns) {
                (0, _) => String::new(),
                (f, 0) => format!("  ⚠ {f} did not learn"),
                (f, r) => format!("  ⚠ {f} did not learn, {r} rerun(s) under new seeds"),
            }
        );
    }
    if let Some(advice) = advice {
        println!("⚠ {advice}");
    }
    Ok(())
}

/// The worker (of `n`) that runs the run with `key`: by the key itself, so that the runs still
/// missing spread evenly over the workers (a split by position gave the first workers only
/// runs already stored), and every worker agrees whatever the store held when it started.
fn worker_of(key: &str, n: usize) -> usize {
    let head = key.get(..16).and_then(|h| u64::from_str_radix(h, 16).ok());
    let hash = head.unwrap_or_else(|| key.bytes().fold(0u64, |h, b| h.wrapping_mul(31) ^ b as u64));
    (hash % n.max(1) as u64) as usize
}

#[cfg(test)]
mod tests {
    use super::worker_of;

    #[test]
    fn workers_share_the_missing_runs_whatever_is_stored() {
        // 400 keys, of which the first half is stored: each of 4 workers gets about a quarter
        // of the missing half (by position, workers would get the stored ones alike, but here
        // a worker's share of the missing runs depends on nothing else).
        let keys: Vec<String> = (0..400)
            .map(|i| sliceplan::study::store::key::digest(&format!("run {i}")))
            .collect();
        let missing = &keys[200..];
        for k in 0..4 {
            let mine = missing.iter().filter(|key| worker_of(key, 4) == k).count();
            assert!((30..=70).contains(&mine), "worker {k}: {mine} of 200");
        }
        for key in &keys {
            assert!(worker_of(key, 4) < 4);
            assert_eq!(worker_of(key, 1), 0);
        }
    }
}
