//! The result store: one JSON line per finished run in `results.jsonl`, appended under a file
//! lock, flushed and fsynced, so a killed process loses at most the run in progress and two
//! processes writing one store never interleave. `store.json` records the dataset it belongs to.

pub mod key;
pub mod labels_digest;

use std::collections::{BTreeMap, HashMap};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::{Deserialize, Serialize};

use crate::dataset::Dataset;
use crate::error::{Error, Result};
use crate::io::write_bytes_atomic;
use crate::study::store::key::RunSpec;
use crate::train::CaseDice;

const RESULTS: &str = "results.jsonl";
const META: &str = "store.json";
const LOCK: &str = "results.lock";
const FORMAT: &str = "sliceplan-store/1";

/// What a finished run measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    pub slices: usize,
    pub volumes: usize,
    pub slices_per_volume: f64,
    /// Mean fraction of each planned volume's slices annotated.
    pub density: f64,
    /// Annotation time of the plan under the request's cost model.
    pub annotation_hours: f64,
    pub mean_dice: f64,
    /// Dice per held-out volume.
    pub cases: Vec<CaseDice>,
    /// (step, loss) every few steps.
    pub loss_curve: Vec<(usize, f32)>,
    /// (step, Dice on the validation split of the plan's own slices), with early stopping.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub validation_curve: Vec<(usize, f64)>,
    /// Steps trained (fewer than the preset's when early stopping ended the run).
    #[serde(default)]
    pub steps_trained: usize,
    pub train_seconds: f64,
    pub warmup_seconds: f64,
    pub eval_seconds: f64,
    /// The device it trained on, e.g. "cpu: flex".
    pub device: String,
    /// Why its Dice is not an estimate of the plan (empty for a usable run).
    pub flags: Vec<String>,
    /// What training noticed that does not void the Dice (e.g. the net fitted its slices but
    /// generalises poorly to the test volumes; in-plane downsampling).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl RunResult {
    /// Whether its Dice is an estimate of its plan (no flag: it learned the target).
    pub fn learned(&self) -> bool {
        self.flags.is_empty()
    }
}

/// A run's outcome: measured, or skipped because its plan cannot be made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum RunOutcome {
    /// Trained and scored.
    Done(RunResult),
    /// The plan cannot be made (or holds none of the target), and why.
    Skipped { reason: String },
}

/// One line of the store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredRun {
    pub key: String,
    pub spec: RunSpec,
    pub outcome: RunOutcome,
    /// Seconds since the Unix epoch when it finished.
    pub finished_unix: u64,
}

impl StoredRun {
    /// The measured result, if the run was not skipped.
    pub fn result(&self) -> Option<&RunResult> {
        match &self.outcome {
            RunOutcome::Done(r) => Some(r),
            RunOutcome::Skipped { .. } => None,
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct StoreMeta {
    format: String,
    dataset_id: String,
    /// The dataset's cases and grids (`dataset_fingerprint`).
    dataset_fingerprint: String,
    /// Case id → digest of its label file when the store was made (absent in stores written by
    /// sliceplan 0.5: recorded at their next write, as the labels are then).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    label_digests: BTreeMap<String, String>,
}

/// A result store in a folder.
#[derive(Debug, Clone)]
pub struct ResultStore {
    dir: PathBuf,
    dataset_id: String,
    /// The dataset's cases and grids (`dataset_fingerprint`), as in `store.json`.
    grid_fingerprint: String,
    /// What runs are keyed by: the grid fingerprint while the labels are those the store was
    /// made on, else a digest of it with the labels' digests (`fingerprint`).
    fingerprint: String,
    /// The label digests now (recorded in `store.json` when it is created).
    label_digests: BTreeMap<String, String>,
    /// Cases whose labels changed since the store was made.
    changed_cases: Vec<String>,
    /// `store.json` has yet to record `label_digests` (a new store, or one written by 0.5);
    /// shared by clones, cleared by the write that records them.
    digests_to_record: Arc<AtomicBool>,
}

/// The runs read from a store.
#[derive(Debug, Clone, Default)]
pub struct StoreContents {
    /// One per key, in the order they finished.
    pub runs: Vec<StoredRun>,
    /// Lines that could not be read (a run cut off by a kill), ignored.
    pub unreadable_lines: usize,
    /// Runs made on labels edited since (the dataset's cases changed under them), not used.
    pub other_labels: usize,
    /// Runs made under another training revision (`train::TRAINING_REVISION`), by revision;
    /// not used, since training now computes something else.
    pub other_revisions: BTreeMap<String, usize>,
    /// Key → position in `runs`.
    index: HashMap<String, usize>,
}

impl StoreContents {
    /// The stored run with `key`.
    pub fn get(&self, key: &str) -> Option<&StoredRun> {
        self.index.get(key).map(|&i| &self.runs[i])
    }

    /// Runs kept in the store but out of date: on edited labels or another training revision.
    pub fn out_of_date(&self) -> usize {
        self.other_labels + self.other_revisions.values().sum::<usize>()
    }

    /// Takes in one line of the store for `fingerprint` (a run, or what is not one).
    fn take_line(&mut self, line: &str, fingerprint: &str) {
        match serde_json::from_str::<StoredRun>(line) {
            Ok(run) if run.spec.dataset != fingerprint => self.other_labels += 1,
            Ok(run) if run.spec.version != crate::train::TRAINING_REVISION => {
                *self.other_revisions.entry(run.spec.version).or_default() += 1;
            }
            Ok(run) => self.insert(run),
            Err(_) => self.unreadable_lines += 1,
        }
    }

    /// Adds `run` unless a run of its key is held (the first of a key is kept).
    pub fn insert(&mut self, run: StoredRun) {
        if !self.index.contains_key(&run.key) {
            self.index.insert(run.key.clone(), self.runs.len());
            self.runs.push(run);
        }
    }
}

/// Reads a store's `store.json`.
fn read_meta(meta_path: &Path) -> Result<StoreMeta> {
    let text = std::fs::read_to_string(meta_path)
        .map_err(|e| Error::io("cannot read the result store", meta_path, e))?;
    serde_json::from_str(&text)
        .map_err(|e| Error::file(format!("not a sliceplan result store ({e})"), meta_path))
}

fn sync_dir(dir: &Path) {
    // Makes a new file's name durable; not every platform can open a folder for that.
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

impl ResultStore {
    /// Where a dataset's store lives by default: `<dataset>/.sliceplan`, or for datasets
    /// without a folder (the demo) `stores/<id>` in the user's data folder
    /// (`$XDG_DATA_HOME/sliceplan` or `~/.local/share/sliceplan` on Linux; see `crate::paths`).
    pub fn default_dir(dataset: &Dataset) -> Option<PathBuf> {
        if let Some(root) = &dataset.root {
            return Some(root.join(".sliceplan"));
        }
        let stores = crate::paths::data_dir()?.join("stores");
        Some(Self::folder_in(&stores, dataset))
    }

    /// The store folder of `dataset` inside `parent`, a folder holding the stores of many
    /// datasets: named by the dataset's id and, for a dataset read from files, a digest of
    /// where it is, so that two datasets (or single files) of the same name never share one.
    /// A store of sliceplan 0.5 named by the id alone is used while it is this dataset's.
    pub fn folder_in(parent: &Path, dataset: &Dataset) -> PathBuf {
        let Some(location) = dataset.location() else {
            return parent.join(&dataset.id);
        };
        let legacy = parent.join(&dataset.id);
        // Headers are read only where such a store exists.
        if let Ok(meta) = read_meta(&legacy.join(META))
            && crate::study::store::key::dataset_fingerprint(dataset).ok()
                == Some(meta.dataset_fingerprint)
        {
            return legacy;
        }
        let place = crate::study::store::key::digest(&location.display().to_string());
        parent.join(format!("{}-{}", dataset.id, &place[..8]))
    }

    /// The store of `dataset` at `dir`, or at its default folder (`default_dir`), opened for
    /// the dataset's fingerprint (header reads of every case).
    pub fn for_dataset(dataset: &Dataset, dir: Option<&Path>) -> Result<Self> {
        let store = Self::for_dataset_lazily(dataset, dir)?;
        store.create()?;
        Ok(store)
    }

    /// Opens (creating) the store in `dir` for the dataset with `fingerprint`; a store written
    /// for another dataset is refused.
    pub fn open(dir: impl AsRef<Path>, dataset_id: &str, fingerprint: &str) -> Result<Self> {
        let store = Self::open_lazily(dir, dataset_id, fingerprint)?;
        store.create()?;
        Ok(store)
    }

    /// Like `for_dataset`, without writing anything until the first run is appended: looking
    /// at a dataset (the GUI reads its store to show estimates) leaves its folder untouched.
    pub fn for_dataset_lazily(dataset: &Dataset, dir: Option<&Path>) -> Result<Self> {
        let dir = match dir {
            Some(d) => d.to_path_buf(),
            None => Self::default_dir(dataset).ok_or_else(|| {
                Error::invalid(
                    "no folder for the result store (neither HOME nor XDG_DATA_HOME is set); name one",
                )
            })?,
        };
        let grid = crate::study::store::key::dataset_fingerprint(dataset)?;
        let recorded = Self::checked_meta(&dir, &grid)?
            .map(|meta| meta.label_digests)
            .unwrap_or_default();
        let mut store = Self::unchecked(dir, &dataset.id, &grid);
        store.key_by_labels(
            &recorded,
            crate::study::store::labels_digest::label_digests(dataset)?,
        );
        Ok(store)
    }

    /// Keys runs by the labels as they are now: where `now` differs from the digests the store
    /// `recorded` when it was made, runs are keyed anew (those on the earlier labels are not
    /// reused) and the cases are named (`changed_cases`). A store without digests (new, or
    /// written by 0.5) takes the labels as they are, and records them at its next write.
    fn key_by_labels(
        &mut self,
        recorded: &BTreeMap<String, String>,
        now: BTreeMap<String, String>,
    ) {
        if recorded.is_empty() {
            self.digests_to_record
                .store(!now.is_empty(), Ordering::Relaxed);
        } else {
            self.changed_cases = crate::study::store::labels_digest::changed_cases(recorded, &now);
        }
        if !self.changed_cases.is_empty() {
            let listed: Vec<String> = now.iter().map(|(id, d)| format!("{id}={d}")).collect();
            self.fingerprint = crate::study::store::key::digest(&format!(
                "{}|{}",
                self.grid_fingerprint,
                listed.join("|")
            ));
        }
        self.label_digests = now;
    }

    /// What `contents`, read from this store, keeps but does not use, and why (None when
    /// everything is current): for the status line and the planner.
    pub fn out_of_date_line(&self, c: &StoreContents) -> Option<String> {
        let mut why = Vec::new();
        let changed = self.changed_cases();
        if !changed.is_empty() {
            let shown: Vec<&str> = changed.iter().take(5).map(String::as_str).collect();
            let more = changed.len().saturating_sub(shown.len());
            why.push(format!(
                "{} on labels edited since (cases {}{})",
                c.other_labels,
                shown.join(", "),
                if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                }
            ));
        } else if c.other_labels > 0 {
            why.push(format!("{} on other labels", c.other_labels));
        }
        for (revision, n) in &c.other_revisions {
            why.push(format!(
                "{n} by training revision {revision} (now {})",
                crate::train::TRAINING_REVISION
            ));
        }
        (!why.is_empty()).then(|| {
            format!(
                "{} stored run(s) out of date, not used: {}",
                c.out_of_date(),
                why.join("; ")
            )
        })
    }

    /// Cases whose label files changed since the store was made (their runs are not reused).
    pub fn changed_cases(&self) -> &[String] {
        &self.changed_cases
    }

    /// The store in `dir` for the dataset with `fingerprint`, checked against its `store.json`
    /// where one exists; nothing is created (the first `append` creates the folder).
    pub fn open_lazily(dir: impl AsRef<Path>, dataset_id: &str, fingerprint: &str) -> Result<Self> {
        let dir = dir.as_ref().to_path_buf();
        Self::checked_meta(&dir, fingerprint)?;
        Ok(Self::unchecked(dir, dataset_id, fingerprint))
    }

    /// The `store.json` in `dir` (None where there is none yet), refused when its format is
    /// another or it belongs to a dataset of another `fingerprint`.
    fn checked_meta(dir: &Path, fingerprint: &str) -> Result<Option<StoreMeta>> {
        let meta_path = dir.join(META);
        if !meta_path.is_file() {
            return Ok(None);
        }
        let meta = read_meta(&meta_path)?;
        if meta.format != FORMAT {
            return Err(Error::file(
                format!(
                    "unsupported result store format '{}' (expected {FORMAT})",
                    meta.format
                ),
                &meta_path,
            ));
        }
        if meta.dataset_fingerprint != fingerprint {
            return Err(Error::file(
                format!(
                    "this result store holds runs of another dataset ('{}', or its cases changed); use another store folder",
                    meta.dataset_id
                ),
                dir,
            ));
        }
        Ok(Some(meta))
    }

    /// The store in `dir` for the dataset with `fingerprint`, its `store.json` not read.
    fn unchecked(dir: PathBuf, dataset_id: &str, fingerprint: &str) -> Self {
        ResultStore {
            dir,
            dataset_id: dataset_id.into(),
            grid_fingerprint: fingerprint.into(),
            fingerprint: fingerprint.into(),
            label_digests: BTreeMap::new(),
            changed_cases: Vec::new(),
            digests_to_record: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Creates the folder and its `store.json` where they do not exist yet; records the label
    /// digests in a store that has none (one written by 0.5).
    fn create(&self) -> Result<()> {
        let meta_path = self.dir.join(META);
        let exists = meta_path.is_file();
        if exists && !self.digests_to_record.load(Ordering::Relaxed) {
            return Ok(());
        }
        let recorded = if exists {
            read_meta(&meta_path)?
        } else {
            std::fs::create_dir_all(&self.dir)
                .map_err(|e| Error::io("cannot create the result store", &self.dir, e))?;
            StoreMeta {
                format: FORMAT.into(),
                dataset_id: self.dataset_id.clone(),
                dataset_fingerprint: self.grid_fingerprint.clone(),
                label_digests: BTreeMap::new(),
            }
        };
        let meta = StoreMeta {
            label_digests: self.label_digests.clone(),
            ..recorded
        };
        let text =
            serde_json::to_string_pretty(&meta).map_err(|e| Error::invalid(e.to_string()))?;
        write_bytes_atomic(&meta_path, text.as_bytes())?;
        self.digests_to_record.store(false, Ordering::Relaxed);
        Ok(())
    }

    /// Bytes in its results file (0 before the first run): grows with every stored run, so a
    /// watcher can skip reloading the store while it stays the same.
    pub fn results_len(&self) -> u64 {
        std::fs::metadata(self.dir.join(RESULTS)).map_or(0, |m| m.len())
    }

    /// The store's folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The dataset fingerprint the store belongs to.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// Every stored run of this dataset's labels and this training revision (the first line of
    /// each key wins; unreadable and out-of-date lines are counted).
    pub fn load(&self) -> Result<StoreContents> {
        let mut out = StoreContents::default();
        self.load_more(&mut out, 0)?;
        Ok(out)
    }

    /// Reads the results file from byte `offset` on into `contents` (whole lines only) and
    /// returns the offset to read from next: a watcher reads only what was appended since.
    pub fn load_more(&self, contents: &mut StoreContents, offset: u64) -> Result<u64> {
        let path = self.dir.join(RESULTS);
        let mut file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(offset),
            Err(e) => return Err(Error::io("cannot read the result store", &path, e)),
        };
        let mut bytes = Vec::new();
        file.seek(SeekFrom::Start(offset))
            .and_then(|_| file.read_to_end(&mut bytes))
            .map_err(|e| Error::io("cannot read the result store", &path, e))?;
        // A line still being written (no newline yet) is read next time.
        let whole = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        let text = String::from_utf8_lossy(&bytes[..whole]);
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            contents.take_line(line, &self.fingerprint);
        }
        Ok(offset + whole as u64)
    }

    /// Appends `run` as one line, under an exclusive lock, and fsyncs it before returning.
    pub fn append(&self, run: &StoredRun) -> Result<()> {
        self.create()?;
        let lock_path = self.dir.join(LOCK);
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| Error::io("cannot open the store's lock", &lock_path, e))?;
        lock.lock()
            .map_err(|e| Error::io("cannot lock the result store", &lock_path, e))?;
        let path = self.dir.join(RESULTS);
        let created = !path.exists();
        let mut file = OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(&path)
            .map_err(|e| Error::io("cannot open the result store", &path, e))?;
        let mut line = serde_json::to_string(run).map_err(|e| Error::invalid(e.to_string()))?;
        line.push('\n');
        // A line cut off by a kill is closed first, so this run starts a line of its own.
        let len = file
            .metadata()
            .map_err(|e| Error::io("cannot read the result store", &path, e))?
            .len();
        if len > 0 {
            let mut last = [0u8; 1];
            file.seek(SeekFrom::End(-1))
                .and_then(|_| file.read_exact(&mut last))
                .map_err(|e| Error::io("cannot read the result store", &path, e))?;
            if last[0] != b'\n' {
                line.insert(0, '\n');
            }
        }
        file.write_all(line.as_bytes())
            .and_then(|_| file.sync_data())
            .map_err(|e| Error::io("cannot write to the result store", &path, e))?;
        if created {
            sync_dir(&self.dir);
        }
        let _ = lock.unlock();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::PlanRequest;
    use crate::train::TrainConfig;

    fn run(fingerprint: &str, seed: u64) -> StoredRun {
        let request = PlanRequest {
            seed,
            ..PlanRequest::default()
        };
        let spec = RunSpec::new(fingerprint, request, TrainConfig::default(), "tiny");
        StoredRun {
            key: spec.key(),
            spec,
            outcome: RunOutcome::Skipped {
                reason: "test".into(),
            },
            finished_unix: 0,
        }
    }

    #[test]
    fn runs_survive_a_torn_line_and_other_datasets_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = ResultStore::open(dir.path(), "ds", "f1").unwrap();
        store.append(&run("f1", 0)).unwrap();
        // A kill in the middle of a write leaves half a line.
        let path = dir.path().join(RESULTS);
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"{\"key\":\"cut").unwrap();
        drop(f);
        store.append(&run("f1", 1)).unwrap();
        store.append(&run("f1", 0)).unwrap();
        let back = store.load().unwrap();
        assert_eq!(back.runs.len(), 2, "one per key");
        assert_eq!(back.unreadable_lines, 1);
        assert_eq!(back.runs[1].spec.request.seed, 1);
        let again = ResultStore::open(dir.path(), "ds", "f1").unwrap();
        assert_eq!(again.load().unwrap().runs.len(), 2);
        let err = ResultStore::open(dir.path(), "other", "f2").unwrap_err();
        assert!(err.to_string().contains("another dataset ('ds'"), "{err}");
    }

    /// What a process killed in the middle of `append` leaves: part of a line, written under
    /// the store's lock (which the kill released).
    fn torn_append(dir: &Path) {
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join(LOCK))
            .unwrap();
        lock.lock().unwrap();
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join(RESULTS))
            .unwrap();
        f.write_all(b"{\"key\":\"cut off").unwrap();
        f.write_all(b" mid-line").unwrap();
        lock.unlock().unwrap();
    }

    #[test]
    fn cut_off_lines_are_repaired_under_contention() {
        let dir = tempfile::tempdir().unwrap();
        let store = ResultStore::open(dir.path(), "ds", "f").unwrap();
        std::thread::scope(|s| {
            for t in 0..4u64 {
                let store = store.clone();
                s.spawn(move || {
                    for i in 0..25 {
                        store.append(&run("f", t * 100 + i)).unwrap();
                    }
                });
            }
            // Killed writers among them: each leaves a cut-off line that the next append must
            // close before its own, or that run is lost in a merged line.
            s.spawn(|| {
                for _ in 0..20 {
                    torn_append(dir.path());
                    std::thread::yield_now();
                }
            });
        });
        store.append(&run("f", 999)).unwrap();
        let back = store.load().unwrap();
        assert_eq!(back.runs.len(), 101, "a run was merged into a cut-off line");
        assert!(
            (1..=20).contains(&back.unreadable_lines),
            "{}",
            back.unreadable_lines
        );
    }

    #[test]
    fn a_watcher_reads_only_whole_lines_appended_since() {
        let dir = tempfile::tempdir().unwrap();
        let store = ResultStore::open(dir.path(), "ds", "f").unwrap();
        store.append(&run("f", 0)).unwrap();
        let mut contents = StoreContents::default();
        let at = store.load_more(&mut contents, 0).unwrap();
        assert_eq!(contents.runs.len(), 1);
        // A line being written (no newline yet) waits for the next read.
        let mut f = OpenOptions::new()
            .append(true)
            .open(dir.path().join(RESULTS))
            .unwrap();
        let mut line = serde_json::to_string(&run("f", 1)).unwrap();
        f.write_all(&line.as_bytes()[..10]).unwrap();
        let at2 = store.load_more(&mut contents, at).unwrap();
        assert_eq!(
            (at2, contents.runs.len(), contents.unreadable_lines),
            (at, 1, 0)
        );
        line.push('\n');
        f.write_all(&line.as_bytes()[10..]).unwrap();
        let at3 = store.load_more(&mut contents, at2).unwrap();
        assert_eq!(contents.runs.len(), 2);
        assert_eq!(at3, store.results_len());
    }

    #[test]
    fn runs_of_another_training_revision_are_kept_but_not_used() {
        let dir = tempfile::tempdir().unwrap();
        let store = ResultStore::open(dir.path(), "ds", "f").unwrap();
        store.append(&run("f", 0)).unwrap();
        let mut old = run("f", 1);
        old.spec.version = "0.4.0".into();
        old.key = old.spec.key();
        store.append(&old).unwrap();
        let back = store.load().unwrap();
        assert_eq!(back.runs.len(), 1);
        assert_eq!(back.other_revisions.get("0.4.0"), Some(&1));
        assert_eq!(back.out_of_date(), 1);
    }
}
