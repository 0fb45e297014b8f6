//! Scale-out on a real Slurm: a 2-task job array of tiny runs submitted with `sbatch`, merged
//! by `study collect`. Runs where `sbatch` answers (`scripts/local-slurm.sh` starts a one-node
//! cluster); says SKIPPED otherwise.

mod common;

use common::*;

fn slurm_up() -> bool {
    std::process::Command::new("sinfo")
        .args(["-h", "-o", "%T"])
        .output()
        .map(|o| {
            o.status.success() && {
                let s = String::from_utf8_lossy(&o.stdout);
                s.contains("idle") || s.contains("mixed") || s.contains("alloc")
            }
        })
        .unwrap_or(false)
}

#[test]
fn a_job_array_of_tiny_runs_lands_in_the_store() {
    if !slurm_up() {
        eprintln!("SKIPPED: no Slurm cluster answers (start one with scripts/local-slurm.sh)");
        return;
    }
    let dir = tempdir();
    let study = dir.path().join("two.toml");
    std::fs::write(
        &study,
        "budgets_slices = [8]\nallocations = [\"volumes:2\", \"volumes:4\"]\npreset = \"tiny\"\nbackend = \"cpu\"\nholdout = 4\n",
    )
    .unwrap();
    let store = dir.path().join("store");
    let out = dir.path().join("slurm");
    // `study export-slurm` of the study's missing runs into `out`: its JSON answer.
    let export_slurm = |out: &std::path::Path| -> serde_json::Value {
        let (code, stdout, err) = cli(&[
            "study",
            "export-slurm",
            study.to_str().unwrap(),
            "--data",
            "demo",
            "--store",
            store.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--cpus-per-task",
            "1",
            "--time",
            "10",
            "--json",
        ]);
        assert_eq!(code, 0, "{err}");
        serde_json::from_str(&stdout).unwrap()
    };
    let export = export_slurm(&out);
    assert_eq!(export["tasks"], 2);
    let script = std::fs::read_to_string(out.join("study.sbatch")).unwrap();
    assert!(script.contains("#SBATCH --array=0-1"), "{script}");
    let submitted = std::process::Command::new("sbatch")
        .arg("--wait")
        .arg(out.join("study.sbatch"))
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        submitted.status.success(),
        "sbatch: {}{}",
        String::from_utf8_lossy(&submitted.stdout),
        String::from_utf8_lossy(&submitted.stderr)
    );
    let manifest = out.join("manifest.json");
    let (code, stdout, err) = cli(&[
        "study",
        "collect",
        "--manifest",
        manifest.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let merged: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        (merged["added"].as_u64(), merged["pending"].as_u64()),
        (Some(2), Some(0))
    );
    let (code, stdout, err) = cli(&[
        "study",
        "status",
        study.to_str().unwrap(),
        "--data",
        "demo",
        "--store",
        store.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let status: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    // Tiny runs may not learn: each flagged one calls for a rerun under a new seed, which the
    // status counts as missing and the next export sends to the cluster.
    let results = std::fs::read_to_string(store.join("results.jsonl")).unwrap();
    let flagged = results
        .lines()
        .filter(|l| {
            let run: serde_json::Value = serde_json::from_str(l).unwrap();
            run["outcome"]["flags"]
                .as_array()
                .is_some_and(|f| !f.is_empty())
        })
        .count() as u64;
    assert_eq!(
        (status["total"].as_u64(), status["done"].as_u64()),
        (Some(2 + flagged), Some(2))
    );
    let export = export_slurm(&dir.path().join("slurm-reruns"));
    assert_eq!(export["tasks"].as_u64(), Some(flagged), "{export}");
    // Collecting again adds nothing.
    let (_, stdout, _) = cli(&[
        "study",
        "collect",
        "--manifest",
        manifest.to_str().unwrap(),
        "--json",
    ]);
    let again: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(again["added"], 0);
}
