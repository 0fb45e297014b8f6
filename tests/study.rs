//! The study engine end to end: a tiny study on the demo cohort runs into a result store, is
//! never rerun, survives a kill, gives the same store whatever the concurrency, and reports.

mod common;

use std::collections::HashMap;
use std::path::Path;

use common::*;

const STUDY: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/examples/studies/demo-tiny.toml"
);

fn study(action: &str, store: &Path, extra: &[&str]) -> (i32, String, String) {
    let mut args = vec![
        "study",
        action,
        STUDY,
        "--data",
        "demo",
        "--store",
        store.to_str().unwrap(),
    ];
    args.extend(extra);
    cli(&args)
}

/// Starts `sliceplan study run` on the tiny study into `store`, quietly, in the background.
fn spawn_run(store: &Path) -> std::process::Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_sliceplan"))
        .args([
            "study",
            "run",
            STUDY,
            "--data",
            "demo",
            "--store",
            store.to_str().unwrap(),
            "--quiet",
            // One process: killing it is the crash this test is about.
            "--workers",
            "1",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap()
}

/// key → (count of complete lines, mean Dice or NaN when skipped).
fn lines(store: &Path) -> HashMap<String, (usize, f64)> {
    let text = std::fs::read_to_string(store.join("results.jsonl")).unwrap_or_default();
    let mut out: HashMap<String, (usize, f64)> = HashMap::new();
    for line in text.lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let key = v["key"].as_str().unwrap().to_string();
        let dice = v["outcome"]["mean_dice"].as_f64().unwrap_or(f64::NAN);
        let e = out.entry(key).or_insert((0, dice));
        e.0 += 1;
    }
    out
}

#[test]
fn a_study_runs_once_reports_and_resumes_after_a_kill() {
    let dir = tempdir();
    let store = dir.path().join("store");
    let (code, out, err) = study("status", &store, &["--json"]);
    assert_eq!(code, 0, "{err}");
    let status: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (status["total"].as_u64(), status["done"].as_u64()),
        (Some(4), Some(0))
    );

    // Killed once its first run is stored; the rerun completes the rest.
    let mut child = spawn_run(&store);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
    while lines(&store).is_empty() {
        assert!(std::time::Instant::now() < deadline, "no run was stored");
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    let before = lines(&store).len();
    assert!(before >= 1);
    let (code, out, err) = study("run", &store, &["--json"]);
    assert_eq!(code, 0, "{err}");
    let run: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(run["done"], 4);
    assert_eq!(run["ran"].as_u64().unwrap() as usize, 4 - before);
    let stored = lines(&store);
    assert_eq!(stored.len(), 4);
    assert!(
        stored.values().all(|(n, _)| *n == 1),
        "each run once: {stored:?}"
    );
    // Nothing left to run.
    let (_, out, _) = study("run", &store, &["--json"]);
    let again: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(again["ran"], 0);
    let (_, out, _) = study("status", &store, &["--json"]);
    let status: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (status["total"].as_u64(), status["done"].as_u64()),
        (Some(4), Some(4))
    );

    // The same study run by two processes at once on a fresh store gives the same results.
    let other = dir.path().join("concurrent");
    let (mut a, mut b) = (spawn_run(&other), spawn_run(&other));
    assert!(a.wait().unwrap().success() && b.wait().unwrap().success());
    let concurrent = lines(&other);
    assert_eq!(concurrent.len(), 4);
    for (key, (_, dice)) in &stored {
        let (_, d2) = concurrent[key];
        assert!(
            (dice.is_nan() && d2.is_nan()) || dice == &d2,
            "{key}: {dice} vs {d2}"
        );
    }

    // Two worker processes (one core each) share the runs out: each run stored once, with the
    // Dice of the one-process run up to the summation order of one thread against two.
    let workers = dir.path().join("workers");
    let (code, out, err) = study("run", &workers, &["--workers", "2", "--json", "--quiet"]);
    assert_eq!(code, 0, "{err}");
    let run: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (run["done"].as_u64(), run["ran"].as_u64()),
        (Some(4), Some(4))
    );
    let shared = lines(&workers);
    assert_eq!(shared.len(), 4);
    for (key, (_, dice)) in &stored {
        let (n, d2) = shared[key];
        assert_eq!(n, 1, "{key} stored {n} times");
        assert!(
            (dice.is_nan() && d2.is_nan()) || (dice - d2).abs() < 0.05,
            "{key}: {dice} vs {d2}"
        );
    }

    // The report.
    let report = dir.path().join("report");
    let (code, _, err) = study("report", &store, &["--out", report.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let md = std::fs::read_to_string(report.join("report.md")).unwrap();
    assert!(
        md.contains("## Ranking") && md.contains("## Budget curves"),
        "{md}"
    );
    assert!(md.contains("4 of 4 runs stored"), "{md}");
    assert!(
        md.contains("the same 4 held-out volumes (drawn with seed 0)"),
        "{md}"
    );
    assert!(report.join("report.html").is_file());
    assert!(report.join("budget-curves-slices.svg").is_file());
    let png = std::fs::read(report.join("budget-curves-slices.png")).unwrap();
    assert!(png.starts_with(b"\x89PNG"), "a PNG plot");
    assert!(md.contains("(budget-curves-slices.png)"), "{md}");
    // One seed: nothing to pair, and the report says so rather than guessing.
    assert!(
        md.contains("## Can the seeds tell the plans apart?")
            && md.contains("No two scenarios of one budget share two seeds"),
        "{md}"
    );

    // Calibrate against a slightly longer tiny preset: the 4 stored runs are reused, the 4
    // reference runs are added, and the JSON holds every field scripts read.
    let (code, out, err) = study(
        "calibrate",
        &store,
        &[
            "--reference-preset",
            "tiny",
            "--reference-steps",
            "14",
            "--json",
            "--quiet",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let c: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(lines(&store).len(), 8, "4 quick + 4 reference runs");
    let scenarios = c["scenarios"].as_array().unwrap();
    // (Tiny runs that learned nothing are flagged and left out of the scenarios.)
    assert!(scenarios.len() <= 4, "{c}");
    assert!(
        scenarios
            .iter()
            .all(|s| s[0].as_str().unwrap().contains("slices") && s[1].is_f64()),
        "{c}"
    );
    for field in ["separated", "agreeing", "within_noise"] {
        assert_eq!(c["pairs"][field], 0, "one seed separates nothing: {c}");
    }
    assert!(c["reference_neighbours"].as_array().unwrap().is_empty());
    assert!(c["per_seed_spearman"].is_array() && c.get("mean_absolute_error").is_some());
}

/// The tiny preset learns no target: every run is flagged. With `--reruns 1` each scenario
/// gets one rerun under seed 1000, run by the worker processes, stored once, counted in the
/// summary and shown in the report.
#[test]
fn a_run_that_did_not_learn_is_rerun_under_a_new_seed() {
    let dir = tempdir();
    let store = dir.path().join("store");
    let (code, out, err) = study(
        "run",
        &store,
        &["--reruns", "1", "--workers", "2", "--json", "--quiet"],
    );
    assert_eq!(code, 0, "{err}");
    let run: serde_json::Value = serde_json::from_str(&out).unwrap();
    let text = std::fs::read_to_string(store.join("results.jsonl")).unwrap();
    let runs: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let seed = |r: &serde_json::Value| r["spec"]["request"]["seed"].as_u64().unwrap();
    let flagged = |r: &serde_json::Value| {
        r["outcome"]["flags"]
            .as_array()
            .is_some_and(|f| !f.is_empty())
    };
    let first_flagged = runs.iter().filter(|r| seed(r) == 0 && flagged(r)).count();
    assert!(first_flagged > 0, "a tiny run learns nothing: {text}");
    let reruns: Vec<u64> = runs.iter().map(seed).filter(|&s| s > 0).collect();
    assert_eq!(
        reruns,
        vec![1000; first_flagged],
        "one rerun per flagged run"
    );
    assert_eq!(run["total"].as_u64(), Some(4 + first_flagged as u64));
    assert_eq!(run["done"], run["total"]);
    assert_eq!(runs.len(), 4 + first_flagged, "each run stored once");
    // A second run has nothing left: a flagged rerun gets no second rerun under --reruns 1.
    let (_, out, _) = study("run", &store, &["--reruns", "1", "--json", "--quiet"]);
    let again: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(again["ran"], 0, "{again}");
    // Status counts the reruns the store calls for; without --reruns the study's 0 applies.
    let (_, out, _) = study("status", &store, &["--reruns", "1", "--json"]);
    let status: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(status["total"], run["total"]);
    let (code, out, err) = study("run", &store, &["--reruns", "1"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("1 rerun(s) under new seeds"), "{out}");
}

/// A plan whose slices miss the target in most volumes is said before anything is trained,
/// once per scenario, with what to do; slices placed on the structure are not.
#[test]
fn a_plan_whose_slices_miss_the_target_is_said_before_training() {
    let dir = tempdir();
    let file = dir.path().join("lesions.toml");
    std::fs::write(
        &file,
        "labels = \"lesion\"\nbudgets_slices = [16]\nallocations = [\"volumes:16\"]\nstrategies = [\"fixed\", \"foreground-fixed\"]\nseeds = [0]\npreset = \"tiny\"\nsteps = 2\nbackend = \"cpu\"\nholdout = 4\nreruns = 0\n",
    )
    .unwrap();
    let store = dir.path().join("store");
    let (code, _, err) = cli(&[
        "study",
        "run",
        file.to_str().unwrap(),
        "--data",
        "demo",
        "--store",
        store.to_str().unwrap(),
        "--workers",
        "1",
    ]);
    assert_eq!(code, 0, "{err}");
    let said: Vec<&str> = err.lines().filter(|l| l.starts_with("⚠ ")).collect();
    assert_eq!(said.len(), 1, "{err}");
    assert!(
        said[0].contains("16 slices, s=16, fixed, 2d, seed 0: the plan's 16 slices hold the target (lesion (2)) in ")
            && said[0].contains("the others teach only background;"),
        "{err}"
    );
}

#[test]
fn a_bad_study_or_a_foreign_store_is_refused_before_training() {
    let dir = tempdir();
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "budgets_slices = [12]\nbudget_hours = [1.0]\n").unwrap();
    let (code, _, err) = cli(&[
        "study",
        "run",
        bad.to_str().unwrap(),
        "--data",
        "demo",
        "--store",
        dir.path().join("s").to_str().unwrap(),
    ]);
    assert_eq!(code, 2);
    assert!(
        err.contains("unknown field `budget_hours`") && err.contains("bad.toml"),
        "{err}"
    );
    // A store made for another dataset.
    let raw = dir.path().join("raw");
    sliceplan::dataset::demo::write_nnunet(&raw).unwrap();
    let store = dir.path().join("store");
    let (code, _, err) = study("status", &store, &[]);
    assert_eq!(code, 0, "{err}");
    std::fs::remove_file(raw.join("imagesTr").join("demo_023_0000.nii.gz")).unwrap();
    std::fs::remove_file(raw.join("labelsTr").join("demo_023.nii.gz")).unwrap();
    let (code, _, err) = cli(&[
        "study",
        "status",
        STUDY,
        "--data",
        raw.to_str().unwrap(),
        "--store",
        store.to_str().unwrap(),
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("another dataset ('demo'"), "{err}");
}

/// A stored run of `store`'s dataset (skipped: nothing is trained).
fn stored_run(fingerprint: &str, seed: u64) -> sliceplan::study::StoredRun {
    let request = sliceplan::plan::PlanRequest {
        seed,
        ..Default::default()
    };
    let spec = sliceplan::study::RunSpec::new(
        fingerprint,
        request,
        sliceplan::train::TrainConfig::default(),
        "tiny",
    );
    sliceplan::study::StoredRun {
        key: spec.key(),
        spec,
        outcome: sliceplan::study::RunOutcome::Skipped {
            reason: "test".into(),
        },
        finished_unix: 0,
    }
}

#[test]
fn a_corrected_mask_keys_runs_anew_and_names_its_case() {
    use sliceplan::study::ResultStore;
    let dir = tempdir();
    let raw = dir.path().join("Dataset902_edited");
    sliceplan::dataset::demo::write_nnunet(&raw).unwrap();
    let ds = sliceplan::dataset::open_dataset(&raw).unwrap();
    let store = ResultStore::for_dataset(&ds, None).unwrap();
    let before = store.fingerprint().to_string();
    store.append(&stored_run(&before, 0)).unwrap();
    // Opened again unchanged, the run is reused.
    let again = ResultStore::for_dataset_lazily(&ds, None).unwrap();
    assert_eq!(again.fingerprint(), before);
    assert!(again.changed_cases().is_empty());
    assert_eq!(again.load().unwrap().runs.len(), 1);
    // A user corrects one voxel of one case's mask.
    let case = &ds.cases[3];
    let Some(sliceplan::dataset::Source::File(path)) = &case.labels else {
        panic!("labels are files")
    };
    let labels = sliceplan::io::read_nifti(path).unwrap();
    let mut values: Vec<u16> = (0..labels.voxel_count())
        .map(|i| labels.value(i) as u16)
        .collect();
    values[0] = if values[0] == 0 { 1 } else { 0 };
    sliceplan::io::write_labels_like(path, &labels, &values).unwrap();
    let edited =
        ResultStore::for_dataset_lazily(&sliceplan::dataset::open_dataset(&raw).unwrap(), None)
            .unwrap();
    assert_eq!(edited.changed_cases(), std::slice::from_ref(&case.id));
    assert_ne!(
        edited.fingerprint(),
        before,
        "runs on the old labels would be reused"
    );
    let contents = edited.load().unwrap();
    assert!(contents.runs.is_empty());
    assert_eq!(contents.other_labels, 1);
    // Runs on the corrected labels are stored and reused under their own key.
    edited.append(&stored_run(edited.fingerprint(), 1)).unwrap();
    let reopened =
        ResultStore::for_dataset_lazily(&sliceplan::dataset::open_dataset(&raw).unwrap(), None)
            .unwrap();
    assert_eq!(reopened.fingerprint(), edited.fingerprint());
    assert_eq!(reopened.load().unwrap().runs.len(), 1);
}

#[test]
fn a_store_written_before_label_digests_keeps_its_runs() {
    use sliceplan::study::{ResultStore, dataset_fingerprint};
    let dir = tempdir();
    let raw = dir.path().join("Dataset903_legacy");
    sliceplan::dataset::demo::write_nnunet(&raw).unwrap();
    let ds = sliceplan::dataset::open_dataset(&raw).unwrap();
    // As sliceplan 0.5 wrote it: store.json with the grid fingerprint alone.
    let grid = dataset_fingerprint(&ds).unwrap();
    let folder = dir.path().join("store");
    let legacy = ResultStore::open(&folder, &ds.id, &grid).unwrap();
    legacy.append(&stored_run(&grid, 0)).unwrap();
    let meta = std::fs::read_to_string(folder.join("store.json")).unwrap();
    assert!(!meta.contains("label_digests"), "{meta}");
    let now = ResultStore::for_dataset(&ds, Some(&folder)).unwrap();
    assert_eq!(now.fingerprint(), grid);
    assert_eq!(now.load().unwrap().runs.len(), 1);
    // Its next write records the labels it ran on.
    now.append(&stored_run(&grid, 1)).unwrap();
    let meta = std::fs::read_to_string(folder.join("store.json")).unwrap();
    assert!(meta.contains("label_digests"), "{meta}");
}

#[test]
fn single_files_of_the_same_name_get_stores_of_their_own() {
    use sliceplan::study::ResultStore;
    let dir = tempdir();
    let (image_a, _) = sliceplan::dataset::demo::generate(0);
    let (image_b, _) = sliceplan::dataset::demo::generate(5);
    let a = dir.path().join("a").join("image.nii.gz");
    let b = dir.path().join("b").join("image.nii.gz");
    for (path, image) in [(&a, &image_a), (&b, &image_b)] {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        sliceplan::io::write_nifti(path, image).unwrap();
    }
    let stores = dir.path().join("stores");
    let open = |path: &Path| {
        let ds = sliceplan::dataset::open_dataset(path).unwrap();
        let folder = ResultStore::folder_in(&stores, &ds);
        let store = ResultStore::for_dataset(&ds, Some(&folder)).unwrap();
        store.append(&stored_run(store.fingerprint(), 0)).unwrap();
        folder
    };
    let (fa, fb) = (open(&a), open(&b));
    assert_ne!(fa, fb);
    // Each is found again where it was.
    assert_eq!(open(&a), fa);
}

/// `study run --race` races each scenario's allocations: a margin below zero is refused before
/// any training; a race stores fewer runs than the grid, says how it ended per scenario, and a
/// rerun continues from the store (nothing new to run, the same verdicts).
#[test]
fn a_study_races_its_allocations_and_a_rerun_continues() {
    let dir = tempdir();
    let store = dir.path().join("store");
    let file = dir.path().join("race.toml");
    std::fs::write(
        &file,
        "budgets_slices = [24]\nallocations = [\"volumes:2\", \"volumes:4\", \"volumes:8\", \"volumes:12\", \"volumes:20\"]\nstrategies = [\"fixed\"]\nseeds = [0, 1, 2]\npreset = \"tiny\"\nbackend = \"cpu\"\nholdout = 4\nholdout_seed = 0\n",
    )
    .unwrap();
    let race = |extra: &[&str]| {
        let mut args = vec!["study", "run", file.to_str().unwrap(), "--data", "demo"];
        args.extend(["--store", store.to_str().unwrap(), "--race", "--quiet"]);
        args.extend(extra);
        cli(&args)
    };
    let (code, _, err) = race(&["--margin", "-0.01"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("margin"), "{err}");
    assert!(lines(&store).is_empty(), "nothing trained");
    let (code, out, err) = race(&["--json"]);
    assert_eq!(code, 0, "{err}");
    let reports: serde_json::Value = serde_json::from_str(&out).unwrap();
    let report = &reports[0][1];
    let runs = report["runs"].as_u64().unwrap() as usize;
    assert_eq!(runs, lines(&store).len());
    assert!((3..15).contains(&runs), "{report}");
    assert!(report["verdict"]["kind"].is_string(), "{report}");
    // The rerun finds the race over: no new run, the same verdict.
    let (code, out, err) = race(&["--json"]);
    assert_eq!(code, 0, "{err}");
    let again: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(again[0][1]["verdict"], report["verdict"]);
    assert_eq!(lines(&store).len(), runs);
    // The plain output says how the race ended, per scenario.
    let (_, text, _) = race(&[]);
    assert!(
        text.contains("24 slices") && text.contains(" after "),
        "{text}"
    );
}
