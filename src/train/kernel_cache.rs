//! GPU kernel caches kept across processes: cubecl's autotune results and compiled kernels, in
//! one folder per user (`$XDG_CACHE_HOME/sliceplan/kernels`, else `~/.cache/sliceplan/kernels`),
//! shared by the GUI and the CLI whatever folder they start in.
//!
//! Without it cubecl keeps autotune results in `target/environment` of the nearest Cargo
//! project above the working directory (a stray folder in whatever checkout the app runs
//! from), else in its own user cache, and does not keep compiled kernels at all. Measured on
//! Mesa's lavapipe (docs/src/training.md): the warm-up of a 4-step run fell from 337 s in the
//! first process to 26 s in the second.
//!
//! `SLICEPLAN_KERNEL_CACHE=off` turns both caches off; `SLICEPLAN_KERNEL_CACHE=DIR` puts them
//! in DIR; `sliceplan cache --clear` empties the folder. cubecl's own `CUBECL_*` variables still
//! apply on top. A cache database that is not one (a foreign or truncated file: no SQLite
//! header) is set aside as `NAME.unreadable` with a notice before cubecl opens the folder; other
//! damage costs a recompute (cubecl reports it to its log and goes on).

use std::path::PathBuf;
use std::sync::OnceLock;

use burn::cubecl::config::cache::CacheConfig;
use burn::cubecl::config::{CubeClRuntimeConfig, RuntimeConfig};

/// Where the kernel caches go (None: turned off, or no home folder to put them in).
pub fn kernel_cache_dir() -> Option<PathBuf> {
    match std::env::var_os("SLICEPLAN_KERNEL_CACHE") {
        Some(v) if v == "off" || v == "0" => None,
        Some(v) if !v.is_empty() => Some(PathBuf::from(v)),
        _ => Some(crate::paths::cache_dir()?.join("kernels")),
    }
}

/// Points cubecl's caches at `kernel_cache_dir()` (or turns them off), once per process and
/// before any GPU device exists; later calls do nothing. Returns a notice when the caches are
/// not kept (turned off, no folder, or cubecl already configured by someone else).
pub fn configure_kernel_cache() -> Option<String> {
    static NOTICE: OnceLock<Option<String>> = OnceLock::new();
    NOTICE
        .get_or_init(|| {
            let mut config = CubeClRuntimeConfig::default().override_from_env();
            let notice = match kernel_cache_dir() {
                Some(dir) => match std::fs::create_dir_all(&dir) {
                    Ok(()) => {
                        let set_aside = set_aside_unreadable(&dir);
                        config.environment.path = CacheConfig::Directory(dir);
                        config.compilation.cache = true;
                        (!set_aside.is_empty()).then(|| {
                            format!(
                                "GPU kernel cache file(s) {} could not be read and were set aside (*.unreadable); kernels are compiled and tuned again",
                                set_aside
                                    .iter()
                                    .map(|p| p.display().to_string())
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            )
                        })
                    }
                    Err(e) => {
                        config.autotune.disable_cache = true;
                        Some(format!(
                            "GPU kernels are compiled and tuned again in every process: cannot create the kernel cache ({e}): {}",
                            dir.display()
                        ))
                    }
                },
                None => {
                    config.autotune.disable_cache = true;
                    config.compilation.cache = false;
                    Some("GPU kernel caches are off (SLICEPLAN_KERNEL_CACHE=off or no home folder)".into())
                }
            };
            if CubeClRuntimeConfig::try_set(config) {
                notice
            } else {
                Some("GPU kernel caches: cubecl was configured before sliceplan could set its folder".into())
            }
        })
        .clone()
}

/// The first bytes of every SQLite database.
const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";

/// Renames every `*.db` file in `dir` that is not an SQLite database (with its `-wal` and
/// `-tshm`/`-shm` companions) to `*.unreadable`; returns the databases set aside.
pub fn set_aside_unreadable(dir: &std::path::Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut set_aside = Vec::new();
    for path in entries.flatten().map(|e| e.path()) {
        if path.extension().is_none_or(|e| e != "db") || !path.is_file() {
            continue;
        }
        let mut head = [0u8; 16];
        let readable = std::fs::File::open(&path)
            .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut head))
            .is_ok_and(|()| &head == SQLITE_MAGIC);
        let empty = std::fs::metadata(&path).is_ok_and(|m| m.len() == 0);
        if readable || empty {
            continue;
        }
        for suffix in ["", "-wal", "-tshm", "-shm"] {
            let from = PathBuf::from(format!("{}{suffix}", path.display()));
            if from.exists() {
                let _ = std::fs::rename(&from, format!("{}.unreadable", from.display()));
            }
        }
        set_aside.push(path);
    }
    set_aside
}

/// Bytes under the kernel cache folder (0 when there is none).
pub fn kernel_cache_bytes() -> u64 {
    fn walk(dir: &std::path::Path) -> u64 {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return 0;
        };
        entries
            .flatten()
            .map(|e| match e.file_type() {
                Ok(t) if t.is_dir() => walk(&e.path()),
                Ok(t) if t.is_file() => e.metadata().map_or(0, |m| m.len()),
                _ => 0,
            })
            .sum()
    }
    kernel_cache_dir().map_or(0, |d| walk(&d))
}

/// Empties the kernel cache folder; returns it (None when caches are off).
pub fn clear_kernel_cache() -> crate::Result<Option<PathBuf>> {
    let Some(dir) = kernel_cache_dir() else {
        return Ok(None);
    };
    match std::fs::remove_dir_all(&dir) {
        Ok(()) => Ok(Some(dir)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Some(dir)),
        Err(e) => Err(crate::Error::io(
            "cannot clear the GPU kernel cache",
            &dir,
            e,
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_foreign_cache_database_is_set_aside_and_a_real_one_kept() {
        let dir = std::env::temp_dir().join(format!("sliceplan-kc-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut good = SQLITE_MAGIC.to_vec();
        good.extend([0u8; 100]);
        std::fs::write(dir.join("default.db"), &good).unwrap();
        std::fs::write(
            dir.join("other.db"),
            b"not a database at all, twenty bytes+",
        )
        .unwrap();
        std::fs::write(dir.join("other.db-wal"), b"wal").unwrap();
        std::fs::write(dir.join("notes.txt"), b"left alone").unwrap();
        let aside = set_aside_unreadable(&dir);
        assert_eq!(aside, vec![dir.join("other.db")]);
        assert!(dir.join("default.db").is_file());
        assert!(dir.join("other.db.unreadable").is_file());
        assert!(dir.join("other.db-wal.unreadable").is_file());
        assert!(!dir.join("other.db").exists());
        assert!(dir.join("notes.txt").is_file());
        // Nothing left to set aside.
        assert!(set_aside_unreadable(&dir).is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
