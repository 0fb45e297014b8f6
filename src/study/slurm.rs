//! Scale-out on a Slurm cluster: a job-array script and a manifest of the missing runs; each
//! array task runs one run into a store of its own (no file locking across nodes needed), and
//! `collect` merges the task stores into the study's store.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::store::ResultStore;
use crate::dataset::Dataset;
use crate::error::{Error, Result};
use crate::io::write_bytes_atomic;
use crate::jobs::Progress;
use crate::study::store::key::RunSpec;

const MANIFEST_FORMAT: &str = "sliceplan-slurm-manifest/1";

/// What each array task needs: where the data and stores are, and the runs by index.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    /// The dataset folder (or `demo`), as `--data` takes it.
    pub data: String,
    pub dataset_id: String,
    pub fingerprint: String,
    /// The study's store, which `collect` merges into.
    pub store: PathBuf,
    /// Each task's own store: `<tasks>/<index>`.
    pub tasks: PathBuf,
    pub runs: Vec<RunSpec>,
}

/// Cluster settings for the script (each a `#SBATCH` line; None leaves the cluster's default).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SlurmOptions {
    pub partition: Option<String>,
    pub gpus_per_task: Option<usize>,
    /// `HH:MM:SS` or minutes.
    pub time: Option<String>,
    /// e.g. `16G`.
    pub memory: Option<String>,
    pub cpus_per_task: Option<usize>,
}

/// The files `export` wrote.
#[derive(Debug, Clone, Serialize)]
pub struct SlurmExport {
    pub script: PathBuf,
    pub manifest: PathBuf,
    pub tasks: usize,
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// Writes `study.sbatch` and `manifest.json` into `out` for the `missing` runs; `binary` is
/// the sliceplan executable the tasks run.
pub fn export(
    out: &Path,
    data: &str,
    dataset: &Dataset,
    store: &ResultStore,
    missing: Vec<RunSpec>,
    binary: &Path,
    options: &SlurmOptions,
) -> Result<SlurmExport> {
    if missing.is_empty() {
        return Err(Error::invalid(
            "every run of the study is already in the store: nothing to submit",
        ));
    }
    std::fs::create_dir_all(out.join("logs"))
        .map_err(|e| Error::io("cannot create the Slurm folder", out, e))?;
    let abs = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    // A generated cohort (`demo`, `synthetic-ct:N`) is named as it is, not made a path.
    let data = if crate::dataset::layout::is_generated_spec(data) {
        data.to_string()
    } else {
        abs(Path::new(data)).display().to_string()
    };
    let manifest = Manifest {
        format: MANIFEST_FORMAT.into(),
        data,
        dataset_id: dataset.id.clone(),
        fingerprint: store.fingerprint().to_string(),
        store: abs(store.dir()),
        tasks: abs(&out.join("tasks")),
        runs: missing,
    };
    let manifest_path = out.join("manifest.json");
    let text =
        serde_json::to_string_pretty(&manifest).map_err(|e| Error::invalid(e.to_string()))?;
    write_bytes_atomic(&manifest_path, text.as_bytes())?;
    let mut script =
        String::from("#!/bin/bash\n# A sliceplan study as a Slurm job array: one run per task.\n");
    script.push_str("#SBATCH --job-name=sliceplan-study\n");
    script.push_str(&format!("#SBATCH --array=0-{}\n", manifest.runs.len() - 1));
    script.push_str(&format!(
        "#SBATCH --output={}/%A_%a.log\n",
        abs(&out.join("logs")).display()
    ));
    if let Some(p) = &options.partition {
        script.push_str(&format!("#SBATCH --partition={p}\n"));
    }
    if let Some(g) = options.gpus_per_task {
        script.push_str(&format!("#SBATCH --gpus-per-task={g}\n"));
    }
    if let Some(t) = &options.time {
        script.push_str(&format!("#SBATCH --time={t}\n"));
    }
    if let Some(m) = &options.memory {
        script.push_str(&format!("#SBATCH --mem={m}\n"));
    }
    if let Some(c) = options.cpus_per_task {
        script.push_str(&format!("#SBATCH --cpus-per-task={c}\n"));
    }
    script.push_str(&format!(
        "\n# After the array: sliceplan study collect --manifest {}\nexec {} study run-task --manifest {} --index \"$SLURM_ARRAY_TASK_ID\" --quiet\n",
        shell_quote(&abs(&manifest_path).display().to_string()),
        shell_quote(&abs(binary).display().to_string()),
        shell_quote(&abs(&manifest_path).display().to_string()),
    ));
    let script_path = out.join("study.sbatch");
    write_bytes_atomic(&script_path, script.as_bytes())?;
    Ok(SlurmExport {
        script: script_path,
        manifest: manifest_path,
        tasks: manifest.runs.len(),
    })
}

/// Reads a manifest.
pub fn load_manifest(path: &Path) -> Result<Manifest> {
    let text =
        std::fs::read_to_string(path).map_err(|e| Error::io("cannot read manifest", path, e))?;
    let m: Manifest = serde_json::from_str(&text)
        .map_err(|e| Error::file(format!("not a sliceplan Slurm manifest ({e})"), path))?;
    if m.format != MANIFEST_FORMAT {
        return Err(Error::file(
            format!("unsupported manifest format '{}'", m.format),
            path,
        ));
    }
    Ok(m)
}

/// Runs task `index` of `manifest` into its own store (a no-op when it is already there).
pub fn run_task(
    manifest: &Manifest,
    dataset: &Dataset,
    index: usize,
    progress: &Progress,
) -> Result<()> {
    let spec = manifest.runs.get(index).ok_or_else(|| {
        Error::invalid(format!(
            "task {index} is out of range: the manifest holds {} runs",
            manifest.runs.len()
        ))
    })?;
    let store = ResultStore::open(
        manifest.tasks.join(index.to_string()),
        &manifest.dataset_id,
        &manifest.fingerprint,
    )?;
    super::engine::run_missing(dataset, std::slice::from_ref(spec), &store, progress)?;
    Ok(())
}

/// Appends every task's runs that the study's store lacks; returns how many were added and
/// how many tasks have not stored their run yet.
pub fn collect(manifest: &Manifest) -> Result<(usize, usize)> {
    let store = ResultStore::open(&manifest.store, &manifest.dataset_id, &manifest.fingerprint)?;
    let have = store.load()?;
    let mut added = 0;
    let mut pending = 0;
    for (i, spec) in manifest.runs.iter().enumerate() {
        let key = spec.key();
        if have.get(&key).is_some() {
            continue;
        }
        let dir = manifest.tasks.join(i.to_string());
        let found = if dir.is_dir() {
            ResultStore::open(&dir, &manifest.dataset_id, &manifest.fingerprint)?
                .load()?
                .get(&key)
                .cloned()
        } else {
            None
        };
        match found {
            Some(run) => {
                store.append(&run)?;
                added += 1;
            }
            None => pending += 1,
        }
    }
    Ok((added, pending))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::PlanRequest;
    use crate::train::TrainConfig;

    #[test]
    fn a_generated_cohort_is_named_as_given_not_made_a_path() {
        let dir = tempfile::tempdir().unwrap();
        let spec = "synthetic-ct:3";
        let dataset = crate::dataset::open_spec(spec).unwrap();
        let store = ResultStore::open(dir.path().join("store"), &dataset.id, "fp").unwrap();
        let run = RunSpec::new("fp", PlanRequest::default(), TrainConfig::default(), "tiny");
        let out = dir.path().join("slurm");
        let written = export(
            &out,
            spec,
            &dataset,
            &store,
            vec![run],
            Path::new("/usr/bin/sliceplan"),
            &SlurmOptions::default(),
        )
        .unwrap();
        let manifest = load_manifest(&written.manifest).unwrap();
        assert_eq!(manifest.data, spec);
    }
}
