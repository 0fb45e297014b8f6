//! What a user changes when correcting a mask: a digest of each label file's content, so that
//! stored runs are never reused on labels edited since they ran (`ResultStore` compares them
//! with those the store was made on). Each file is read once per process while its size and
//! modification time stay the same.

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use crate::dataset::cache::{FileStamp, file_stamp};
use crate::dataset::{Dataset, Source};
use crate::error::{Error, Result};

fn cache() -> &'static Mutex<HashMap<PathBuf, (FileStamp, String)>> {
    static CACHE: OnceLock<Mutex<HashMap<PathBuf, (FileStamp, String)>>> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

/// The content digest of the file at `path` (read in 1 MiB pieces; cached by its stamp).
pub fn file_digest(path: &Path) -> Result<String> {
    std::fs::metadata(path).map_err(|e| Error::io("cannot read", path, e))?;
    let stamp = file_stamp(path);
    if let Ok(c) = cache().lock()
        && let Some((s, d)) = c.get(path)
        && *s == stamp
    {
        return Ok(d.clone());
    }
    let mut file = std::fs::File::open(path).map_err(|e| Error::io("cannot read", path, e))?;
    let mut hasher = crate::study::store::key::Digester::default();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file
            .read(&mut buf)
            .map_err(|e| Error::io("cannot read", path, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    let digest = hasher.finish();
    if let Ok(mut c) = cache().lock() {
        c.insert(path.to_path_buf(), (stamp, digest.clone()));
    }
    Ok(digest)
}

/// Case id → the digest of its label file, for every case whose labels are a file (generated
/// cohorts have none to edit).
pub fn label_digests(dataset: &Dataset) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for case in &dataset.cases {
        if let Some(Source::File(path)) = &case.labels {
            out.insert(case.id.clone(), file_digest(path)?);
        }
    }
    Ok(out)
}

/// The cases whose digest in `now` differs from `before` (changed, added or removed), sorted.
pub fn changed_cases(
    before: &BTreeMap<String, String>,
    now: &BTreeMap<String, String>,
) -> Vec<String> {
    let mut changed: Vec<String> = now
        .iter()
        .filter(|(id, d)| before.get(*id) != Some(*d))
        .map(|(id, _)| id.clone())
        .chain(before.keys().filter(|id| !now.contains_key(*id)).cloned())
        .collect();
    changed.sort();
    changed.dedup();
    changed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_edited_file_gets_another_digest_and_a_rewrite_of_the_same_bytes_does_not() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("labels.nii");
        std::fs::write(&path, b"first labels").unwrap();
        let first = file_digest(&path).unwrap();
        std::fs::write(&path, b"other labels, longer").unwrap();
        let second = file_digest(&path).unwrap();
        assert_ne!(first, second);
        std::fs::write(&path, b"first labels").unwrap();
        assert_eq!(file_digest(&path).unwrap(), first);
    }

    #[test]
    fn changed_cases_names_edited_added_and_removed_cases() {
        let map = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect()
        };
        let before = map(&[("a", "1"), ("b", "2"), ("c", "3")]);
        let now = map(&[("a", "1"), ("b", "9"), ("d", "4")]);
        assert_eq!(changed_cases(&before, &now), vec!["b", "c", "d"]);
        assert!(changed_cases(&now, &now).is_empty());
    }
}
