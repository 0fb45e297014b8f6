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
    assert!(out.contains("Usage: sliceplan simulate"), "{out}");
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
        "completions",
        "install-desktop",
    ] {
        assert!(out.contains(c), "help lacks {c}");
    }
}

#[test]
fn the_command_line_follows_the_conventions() {
    // Every option is described and its default shown.
    let (code, out, _) = cli(&["train", "--help"]);
    assert_eq!(code, 0);
    for shown in [
        "[default: 300]",
        "[default: 2d]",
        "[default: auto]",
        "Continue from the checkpoint in RUN",
        // Each possible value listed with what it is (clap's ValueEnum, from the enum's docs).
        "- 2d: A 2D U-Net on slices",
        "- 3d: A 3D U-Net on blocks",
    ] {
        assert!(out.contains(shown), "train --help lacks {shown}: {out}");
    }
    let (code, out, _) = cli(&["--version"]);
    assert_eq!(code, 0);
    assert_eq!(
        out.trim(),
        format!("sliceplan {}", env!("CARGO_PKG_VERSION"))
    );
    // A typo gets a suggestion and exit code 2, on stderr.
    let (code, out, err) = cli(&["plan", "--data", "demo", "--budget-slice", "8"]);
    assert_eq!(code, 2);
    assert!(out.is_empty());
    assert!(err.contains("--budget-slices"), "suggests the flag: {err}");
    let (code, _, err) = cli(&["plna"]);
    assert_eq!(code, 2);
    assert!(err.contains("plan"), "suggests the command: {err}");
    // A value outside the choices is a usage error naming them.
    let (code, _, err) = cli(&[
        "plan",
        "--data",
        "demo",
        "--budget-slices",
        "8",
        "--strategy",
        "best",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("coreset"), "{err}");
    // Both budgets at once are refused.
    let (code, _, err) = cli(&[
        "plan",
        "--data",
        "demo",
        "--budget-slices",
        "8",
        "--budget-hours",
        "1",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("cannot be used with"), "{err}");
    // `--` ends the options: what follows is a positional, even when it looks like a flag.
    let (code, _, err) = cli(&["info", "--", "--json"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("--json") && err.contains("no such file"),
        "{err}"
    );
    // Environment overrides: SLICEPLAN_DATA stands in for --data.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sliceplan"))
        .args(["plan", "--budget-slices", "8", "--json"])
        .env("SLICEPLAN_DATA", "demo")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(plan["accounting"]["planned_slices"], 8);
}

#[test]
fn shell_completions_are_generated_for_each_shell() {
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef sliceplan"),
        ("fish", "complete -c sliceplan"),
    ] {
        let (code, out, err) = cli(&["completions", shell]);
        assert_eq!(code, 0, "{err}");
        assert!(out.contains(marker), "{shell}: {out}");
        // Subcommands and their flags are completed.
        assert!(
            out.contains("export-nnunet") && out.contains("budget-slices"),
            "{shell}"
        );
    }
}

#[test]
fn install_desktop_writes_a_launcher_entry_and_icon_and_removes_them() {
    let dir = tempdir();
    let prefix = dir.path().to_str().unwrap();
    let (code, out, err) = cli(&["install-desktop", "--prefix", prefix]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("installed"), "{out}");
    let desktop = dir.path().join("applications/sliceplan.desktop");
    let text = std::fs::read_to_string(&desktop).unwrap();
    let exe = std::fs::canonicalize(env!("CARGO_BIN_EXE_sliceplan")).unwrap();
    assert!(
        text.contains(&format!("Exec=\"{}\" gui", exe.display())),
        "{text}"
    );
    assert!(text.contains("Icon=sliceplan") && text.starts_with("[Desktop Entry]"));
    let icon = dir.path().join("icons/hicolor/64x64/apps/sliceplan.png");
    assert!(image::open(&icon).is_ok(), "the icon is a PNG");
    let (code, _, _) = cli(&["install-desktop", "--prefix", prefix, "--uninstall"]);
    assert_eq!(code, 0);
    assert!(!desktop.exists() && !icon.exists());
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
    // By default it lies in the platform's cache folder: on Linux $XDG_CACHE_HOME/sliceplan.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sliceplan"))
        .args(["cache", "--json"])
        .env_remove("SLICEPLAN_KERNEL_CACHE")
        .env("XDG_CACHE_HOME", dir.path())
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v["kernel_cache"].as_str(),
        dir.path().join("sliceplan/kernels").to_str()
    );
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
    // A hand-off for two annotators sharing one case, read back untouched: every planned slice
    // missing, the report written, and nothing to export yet.
    let handoff = dir.path().join("handoff");
    let (code, _, err) = cli(&[
        "handoff",
        "--data",
        raw.to_str().unwrap(),
        "--plan",
        plan.to_str().unwrap(),
        "--annotators",
        "2",
        "--overlap",
        "0.5",
        "--out",
        handoff.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let report = dir.path().join("status.md");
    let (code, stdout, err) = cli(&[
        "status",
        "--data",
        raw.to_str().unwrap(),
        "--handoff",
        handoff.to_str().unwrap(),
        "--report",
        report.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let written = std::fs::read_to_string(&report).unwrap();
    assert!(stdout.starts_with(&written), "{stdout}");
    assert!(
        written.contains("# Hand-off status") && written.contains("## Agreement on shared cases"),
        "{written}"
    );
    assert!(written.contains("0 of 9 planned slices done"), "{written}");
    let export = |out: &str, masks: &[&str]| {
        let out = dir.path().join(out);
        let mut args = vec!["export-nnunet", "--data", raw.to_str().unwrap()];
        args.extend([
            "--plan",
            plan.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]);
        args.extend(masks);
        cli(&args)
    };
    let (code, _, err) = export(
        "from-handoff",
        &["--masks", handoff.to_str().unwrap(), "--keep-off-plan"],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("nothing to export"), "{err}");
    let (code, _, err) = export("x", &["--keep-off-plan"]);
    assert_eq!(code, 2, "--keep-off-plan needs --masks: {err}");
    assert!(err.contains("--masks"), "{err}");
}

#[test]
fn log_messages_follow_verbosity_and_quiet() {
    let dir = tempdir();
    let data = dir.path().join("raw");
    sliceplan::dataset::demo::write_nnunet(&data).unwrap();
    let d = data.to_str().unwrap();
    let plan = |extra: &[&str], env: Option<(&str, &str)>| {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_sliceplan"));
        c.args(["plan", "--data", d, "--budget-slices", "8", "--json"])
            .args(extra)
            .env_remove("RUST_LOG");
        if let Some((k, v)) = env {
            c.env(k, v);
        }
        let out = c.output().unwrap();
        assert!(out.status.success());
        // stdout stays machine-readable whatever the logging.
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap();
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let default = plan(&[], None);
    assert!(default.contains("opened dataset 'raw'"), "{default}");
    assert!(!default.contains("TRACE"), "{default}");
    assert!(!plan(&["--quiet"], None).contains("opened dataset"));
    let trace = plan(&["-vv"], None);
    assert!(
        trace.contains("TRACE") && trace.contains("sliceplan-plan"),
        "{trace}"
    );
    let filtered = plan(&[], Some(("RUST_LOG", "error")));
    assert!(!filtered.contains("opened dataset"), "{filtered}");
}

#[test]
fn a_held_out_seed_holds_out_the_same_volumes_for_every_plan_seed() {
    let held_out = |extra: &[&str]| -> String {
        let mut args = vec![
            "plan",
            "--data",
            "demo",
            "--budget-slices",
            "12",
            "--holdout",
            "4",
        ];
        args.extend_from_slice(extra);
        let (code, out, err) = cli(&args);
        assert_eq!(code, 0, "{err}");
        out.lines()
            .find(|l| l.contains("held out for testing"))
            .unwrap_or_else(|| panic!("no held-out line: {out}"))
            .to_string()
    };
    let own: Vec<String> = ["1", "2", "3"]
        .iter()
        .map(|seed| held_out(&["--seed", seed]))
        .collect();
    assert!(own[0] != own[1] || own[1] != own[2], "{own:?}");
    let seed0 = held_out(&["--seed", "0"]);
    for seed in ["1", "2", "3"] {
        assert_eq!(held_out(&["--seed", seed, "--holdout-seed", "0"]), seed0);
    }
}
