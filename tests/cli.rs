//! The command line: bad settings refused before any work (exit 2), per-command help that lists
//! what each command accepts, and `status` / `export-nnunet` end to end.

mod common;

use common::*;

#[test]
fn empty_or_zero_feature_lists_are_refused_with_exit_2() {
    let dir = tempdir();
    let plan = dir.path().join("plan.json");
    let p = plan.to_str().unwrap();
    let (code, _, err) = cli(&[
        "plan",
        "--data",
        "demo",
        "--budget-slices",
        "8",
        "--holdout",
        "2",
        "--out",
        p,
    ]);
    assert_eq!(code, 0, "{err}");
    let run = dir.path().join("run");
    for features in [",", "", "8,0,16", "16"] {
        let (code, _, err) = cli(&[
            "train",
            "--data",
            "demo",
            "--plan",
            p,
            "--out",
            run.to_str().unwrap(),
            "--backend",
            "cpu",
            "--features",
            features,
        ]);
        assert_eq!(code, 2, "--features '{features}': {err}");
        assert!(err.starts_with("sliceplan: "), "{err}");
        assert!(!err.contains("panicked"), "{err}");
        assert!(!run.exists(), "nothing is trained or written");
    }
}

#[test]
fn an_impossible_hold_out_is_refused_before_planning() {
    let (code, out, err) = cli(&[
        "simulate",
        "--data",
        "demo",
        "--budget-slices",
        "20",
        "--holdout",
        "30",
    ]);
    assert_eq!(code, 2, "{out}");
    assert!(
        err.contains("cannot hold out 30 of the 24 volumes"),
        "{err}"
    );
    assert!(out.is_empty(), "no scenario listed: {out}");
    let (code, _, err) = cli(&[
        "simulate",
        "--data",
        "demo",
        "--budget-slices",
        "20",
        "--holdout",
        "4",
        "--volumes-grid",
        "1,25",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("volume count 25 is out of range"), "{err}");
}

#[test]
fn each_command_help_lists_every_option_it_accepts() {
    let train_options = [
        "--model",
        "--backend",
        "--steps",
        "--batch",
        "--patch",
        "--lr",
        "--features",
        "--max-in-plane",
    ];
    let plan_options = [
        "--data",
        "--budget-slices",
        "--budget-hours",
        "--seconds-per-slice",
        "--seconds-per-volume",
        "--volumes",
        "--density",
        "--strategy",
        "--volume-strategy",
        "--rounding",
        "--min-slices",
        "--plane",
        "--seed",
        "--holdout",
        "--label",
        "--body-threshold",
        "--body-min-fraction",
    ];
    let (code, out, _) = cli(&["simulate", "--help"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("sliceplan simulate"), "{out}");
    let sim_own = [
        "--volumes-grid",
        "--strategies",
        "--interp",
        "--seeds",
        "--json",
    ];
    for o in train_options.iter().chain(&plan_options).chain(&sim_own) {
        assert!(out.contains(o), "simulate --help lacks {o}");
    }
    let (_, out, _) = cli(&["train", "--help"]);
    let train_own = [
        "--plan",
        "--out",
        "--resume",
        "--predict-out",
        "--interp",
        "--seed",
        "--label",
    ];
    for o in train_options.iter().chain(&train_own) {
        assert!(out.contains(o), "train --help lacks {o}");
    }
    let (_, out, _) = cli(&["plan", "--help"]);
    for o in plan_options.iter().chain(&["--out", "--csv", "--json"]) {
        assert!(out.contains(o), "plan --help lacks {o}");
    }
    // The overview names every command.
    let (_, out, _) = cli(&["help"]);
    for c in [
        "gui",
        "info",
        "demo",
        "plan",
        "export-nnunet",
        "status",
        "interp",
        "train",
        "simulate",
        "study",
        "cache",
    ] {
        assert!(out.contains(c), "help lacks {c}");
    }
}

#[test]
fn the_kernel_cache_is_where_it_says_and_clears() {
    let dir = tempdir();
    let cache = dir.path().join("kernels");
    let env = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_sliceplan"))
            .args(args)
            .env("SLICEPLAN_KERNEL_CACHE", &cache)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        (out.status.code(), text)
    };
    std::fs::create_dir_all(cache.join("env")).unwrap();
    std::fs::write(cache.join("env/default.db"), vec![7u8; 2048]).unwrap();
    let (code, out) = env(&["cache", "--json"]);
    assert_eq!(code, Some(0));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["kernel_cache"].as_str(), Some(cache.to_str().unwrap()));
    assert_eq!(v["bytes"], 2048);
    let (code, out) = env(&["cache", "--clear", "--json"]);
    assert_eq!(code, Some(0));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (v["cleared_bytes"].as_u64(), v["bytes"].as_u64()),
        (Some(2048), Some(0))
    );
    assert!(!cache.exists());
    // Off: nothing to show or clear.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sliceplan"))
        .args(["cache"])
        .env("SLICEPLAN_KERNEL_CACHE", "off")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("off"));
}

#[test]
fn status_and_export_nnunet_from_the_command_line() {
    let dir = tempdir();
    let raw = dir.path().join("raw");
    let (code, _, err) = cli(&["demo", "--out", raw.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let plan = dir.path().join("plan.json");
    let (code, _, err) = cli(&[
        "plan",
        "--data",
        raw.to_str().unwrap(),
        "--budget-slices",
        "6",
        "--volumes",
        "2",
        "--out",
        plan.to_str().unwrap(),
        "--quiet",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(err.is_empty(), "--quiet: {err}");
    let out = dir.path().join("Dataset501_sparse");
    let (code, stdout, err) = cli(&[
        "export-nnunet",
        "--data",
        raw.to_str().unwrap(),
        "--plan",
        plan.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let summary: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(summary["cases"], 2);
    assert_eq!(summary["annotated_slices"], 6);
    assert_eq!(
        std::fs::read_dir(out.join("labelsTr")).unwrap().count(),
        2,
        "one sparse label map per planned case"
    );
    // No masks returned yet: every planned slice is missing, and the remaining worklist holds
    // all six.
    let masks = dir.path().join("returned");
    std::fs::create_dir_all(&masks).unwrap();
    let todo = dir.path().join("todo.csv");
    let (code, stdout, err) = cli(&[
        "status",
        "--data",
        raw.to_str().unwrap(),
        "--plan",
        plan.to_str().unwrap(),
        "--masks",
        masks.to_str().unwrap(),
        "--remaining-csv",
        todo.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let status: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(status["planned_slices"], 6);
    assert_eq!(status["done_slices"], 0);
    assert_eq!(status["missing_slices"], 6);
    assert_eq!(std::fs::read_to_string(&todo).unwrap().lines().count(), 7);
}
