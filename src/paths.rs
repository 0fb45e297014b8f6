//! Where sliceplan keeps its files, as each platform expects (the `directories` crate): on
//! Linux the XDG folders (`$XDG_CONFIG_HOME/sliceplan`, `$XDG_CACHE_HOME/sliceplan`,
//! `$XDG_DATA_HOME/sliceplan`, else under `~/.config`, `~/.cache`, `~/.local/share`); on macOS
//! `~/Library/…/org.sliceplan.sliceplan`; on Windows `%APPDATA%\sliceplan\sliceplan`.

use std::path::PathBuf;

use directories::ProjectDirs;

fn project() -> Option<ProjectDirs> {
    ProjectDirs::from("org", "sliceplan", "sliceplan")
}

/// Settings (the GUI's `settings.json`). None without a home folder.
pub fn config_dir() -> Option<PathBuf> {
    project().map(|p| p.config_dir().to_path_buf())
}

/// Caches that can be deleted at any time (GPU kernels).
pub fn cache_dir() -> Option<PathBuf> {
    project().map(|p| p.cache_dir().to_path_buf())
}

/// Data the user keeps (result stores of datasets without a folder of their own, the demo's).
pub fn data_dir() -> Option<PathBuf> {
    project().map(|p| p.data_dir().to_path_buf())
}

/// Where installed desktop integration goes: the user's data folder root (XDG_DATA_HOME, which
/// holds `applications/` and `icons/`).
pub fn user_data_root() -> Option<PathBuf> {
    directories::BaseDirs::new().map(|b| b.data_dir().to_path_buf())
}
