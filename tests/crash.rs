//! Crash consistency: commands killed (SIGKILL) at random moments leave only complete, valid
//! files (or none), the result store parses, and a rerun completes; a full disk (`ulimit -f`)
//! or a read-only folder (a tmpfs remounted read-only) gives one sentence and leaves the earlier
//! output intact.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use sliceplan::io::read_nifti;
use sliceplan::plan::Plan;
use sliceplan::rng::Rng;

fn sliceplan(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sliceplan"));
    c.args(args)
        .arg("--quiet")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    c
}

/// Starts `args`, kills it after `after` (if still running); true when it was killed.
fn kill_after(args: &[&str], after: Duration) -> bool {
    let mut child = sliceplan(args).spawn().unwrap();
    let started = Instant::now();
    while started.elapsed() < after {
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let _ = child.kill();
    let _ = child.wait();
    true
}

fn run_ok(args: &[&str]) {
    let out = sliceplan(args).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Every file under `dir` (temporary `.NAME.tmp-PID` files of a killed writer aside) is whole.
fn check_files(dir: &Path) -> usize {
    let mut checked = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            if p.is_dir() {
                stack.push(p);
            } else if name.starts_with('.') && name.contains(".tmp-") {
                continue;
            } else if name.ends_with(".nii.gz") {
                read_nifti(&p).unwrap_or_else(|e| panic!("a killed write left {e}"));
                checked += 1;
            } else if name.ends_with(".json") {
                let text = std::fs::read_to_string(&p).unwrap();
                serde_json::from_str::<serde_json::Value>(&text)
                    .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
                checked += 1;
            }
        }
    }
    checked
}

fn temp_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if e.file_name().to_string_lossy().contains(".tmp-") {
                found.push(p);
            }
        }
    }
    found
}

/// `plan` of the demo at `budget` slices, nothing held out, written to `out`.
fn plan_args<'a>(budget: &'a str, out: &'a str) -> [&'a str; 9] {
    [
        "plan",
        "--data",
        "demo",
        "--budget-slices",
        budget,
        "--holdout",
        "0",
        "--out",
        out,
    ]
}

fn export_args<'a>(plan: &'a str, out: &'a str) -> [&'a str; 7] {
    [
        "export-nnunet",
        "--data",
        "demo",
        "--plan",
        plan,
        "--out",
        out,
    ]
}

#[test]
fn exports_and_interpolations_killed_at_random_moments_leave_whole_files() {
    let dir = tempdir();
    let plan = dir.path().join("plan.json");
    let plan_s = plan.to_str().unwrap();
    run_ok(&plan_args("40", plan_s));
    let export = dir.path().join("export");
    let interp = dir.path().join("interp");
    let export_args = export_args(plan_s, export.to_str().unwrap());
    let interp_args = [
        "interp",
        "--data",
        "demo",
        "--plan",
        plan_s,
        "--out",
        interp.to_str().unwrap(),
    ];
    let mut rng = Rng::new(99);
    let mut killed = 0;
    for round in 0..16 {
        let after = Duration::from_millis(20 + rng.below(1200) as u64);
        let args: &[&str] = if round % 2 == 0 {
            &export_args
        } else {
            &interp_args
        };
        killed += usize::from(kill_after(args, after));
        check_files(&export);
        check_files(&interp);
        // A plan rewritten under a kill is the old plan or the new one, never half of one.
        kill_after(
            &plan_args("40", plan_s),
            Duration::from_millis(rng.below(300) as u64),
        );
        Plan::load(&plan).unwrap();
    }
    assert!(killed >= 8, "most runs were killed mid-way ({killed})");
    // Reruns complete, and clear the temporary files the killed writers left.
    run_ok(&export_args);
    run_ok(&interp_args);
    assert_eq!(
        check_files(&export),
        24 * 2 + 1,
        "24 images, 24 label maps, dataset.json"
    );
    assert_eq!(
        check_files(&interp),
        16,
        "one file per case with two or more slices"
    );
    assert_eq!(temp_files(&export), Vec::<PathBuf>::new());
    assert_eq!(temp_files(&interp), Vec::<PathBuf>::new());
    let ds = sliceplan::dataset::open_dataset(&export).unwrap();
    assert_eq!(ds.len(), 24);
}

/// `study status --json` of the tiny study as the kill test runs it.
fn study_status(study: &Path, store: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_sliceplan"))
        .args(["study", "status"])
        .arg(study)
        .args(["--data", "demo", "--store"])
        .arg(store)
        .args(["--preset", "tiny", "--steps", "2", "--json"])
        .output()
        .unwrap()
}

#[test]
fn a_study_killed_at_random_moments_keeps_a_valid_store_and_finishes_on_rerun() {
    let dir = tempdir();
    let store = dir.path().join("store");
    let study = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/studies/demo-tiny.toml");
    let args = [
        "study",
        "run",
        study.to_str().unwrap(),
        "--data",
        "demo",
        "--store",
        store.to_str().unwrap(),
        "--preset",
        "tiny",
        "--steps",
        "2",
        "--workers",
        "1",
    ];
    let mut rng = Rng::new(5);
    for _ in 0..4 {
        kill_after(&args, Duration::from_millis(300 + rng.below(4000) as u64));
        let out = study_status(&study, &store);
        assert!(
            out.status.success(),
            "the store parses after a kill: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    run_ok(&args);
    let out = study_status(&study, &store);
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status["missing"], 0, "{status}");
    assert_eq!(status["done"], status["total"]);
}

#[test]
fn a_full_disk_is_one_sentence_and_keeps_the_earlier_output() {
    let dir = tempdir();
    let plan = dir.path().join("plan.json");
    let plan_s = plan.to_str().unwrap();
    run_ok(&plan_args("10", plan_s));
    let before = std::fs::read(&plan).unwrap();
    // A file-size limit of one block: every write past it fails with EFBIG (SIGXFSZ ignored).
    let exe = env!("CARGO_BIN_EXE_sliceplan");
    let limited = |args: &str| {
        Command::new("sh")
            .arg("-c")
            .arg(format!("trap '' XFSZ; ulimit -f 1; exec \"{exe}\" {args}"))
            .output()
            .unwrap()
    };
    let out = limited(&format!(
        "plan --data demo --budget-slices 30 --out '{plan_s}' --quiet"
    ));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("cannot write file") && err.contains("plan.json"),
        "{err}"
    );
    assert_eq!(
        std::fs::read(&plan).unwrap(),
        before,
        "the old plan is intact"
    );
    assert_eq!(temp_files(dir.path()), Vec::<PathBuf>::new());
    let export = dir.path().join("export");
    let out = limited(&format!(
        "export-nnunet --data demo --plan '{plan_s}' --out '{}' --quiet",
        export.display()
    ));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("File too large"), "{err}");
    check_files(&export);
}

/// A small tmpfs at a fresh folder (None where mounting is not allowed: not root, or no
/// privilege in the container); unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path) -> Option<Tmpfs> {
        std::fs::create_dir_all(at).ok()?;
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=4m", "tmpfs"])
            .arg(at)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Tmpfs(at.to_path_buf()))
    }

    fn remount(&self, mode: &str) -> bool {
        Command::new("mount")
            .args(["-o", &format!("remount,{mode}")])
            .arg(&self.0)
            .status()
            .is_ok_and(|s| s.success())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_read_only_folder_is_one_sentence_and_keeps_the_earlier_output() {
    let dir = tempdir();
    let Some(fs) = Tmpfs::mount(&dir.path().join("ro")) else {
        println!("SKIPPED: cannot mount a tmpfs here (needs root)");
        return;
    };
    let plan = fs.0.join("plan.json");
    let plan_s = plan.to_str().unwrap();
    run_ok(&plan_args("10", plan_s));
    let before = std::fs::read(&plan).unwrap();
    assert!(fs.remount("ro"), "remount read-only");
    let export = fs.0.join("export");
    let export_args = export_args(plan_s, export.to_str().unwrap());
    for args in [&plan_args("30", plan_s)[..], &export_args[..]] {
        let out = sliceplan(args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(err.contains("Read-only file system"), "{err}");
        assert!(
            err.contains(fs.0.to_str().unwrap()),
            "names the path: {err}"
        );
    }
    assert_eq!(
        std::fs::read(&plan).unwrap(),
        before,
        "the old plan is intact"
    );
    assert!(!export.exists());
}

#[test]
fn training_killed_at_random_moments_resumes_from_a_whole_checkpoint() {
    let dir = tempdir();
    let plan = dir.path().join("plan.json");
    let plan_s = plan.to_str().unwrap();
    run_ok(&[
        "plan",
        "--data",
        "demo",
        "--budget-slices",
        "20",
        "--holdout",
        "2",
        "--out",
        plan_s,
    ]);
    let run = dir.path().join("run");
    let run_s = run.to_str().unwrap();
    let args = [
        "train",
        "--data",
        "demo",
        "--plan",
        plan_s,
        "--out",
        run_s,
        "--resume",
        "--steps",
        "300",
        "--features",
        "4,8",
        "--max-in-plane",
        "32",
        "--backend",
        "cpu",
        "--checkpoint-every",
        "2",
        "--batch",
        "2",
    ];
    let mut rng = Rng::new(7);
    let mut killed = 0;
    let mut steps_seen = Vec::new();
    for _ in 0..8 {
        killed += usize::from(kill_after(
            &args,
            Duration::from_millis(300 + rng.below(2500) as u64),
        ));
        let state = run.join("state.json");
        if state.is_file() {
            // state.json is whole and names a checkpoint whose files are there.
            let v: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
            let step = v["step"].as_u64().unwrap();
            assert!(
                run.join(format!("model-{step}.bpk")).is_file(),
                "step {step}"
            );
            assert!(
                run.join(format!("optim-{step}.bin")).is_file(),
                "step {step}"
            );
            steps_seen.push(step);
        }
    }
    // Timing decides how many runs were still training when killed; some must have been.
    assert!(killed >= 2, "runs were killed mid-way ({killed})");
    assert!(
        steps_seen.windows(2).all(|w| w[0] <= w[1]),
        "each resume continues: {steps_seen:?}"
    );
    // The last run resumes and finishes; one checkpoint is left.
    run_ok(&args);
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["steps"], 300, "{report}");
    if let Some(&last) = steps_seen.last() {
        assert_eq!(report["resumed_from"].as_u64(), Some(last), "{report}");
    }
    let checkpoints = std::fs::read_dir(&run)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("model-"))
        .count();
    assert_eq!(checkpoints, 1);
    assert_eq!(temp_files(&run), Vec::<PathBuf>::new());
    let leftovers: Vec<String> = std::fs::read_dir(&run)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(
        leftovers.is_empty(),
        "a killed writer's files are cleared: {leftovers:?}"
    );
}
