//! `sliceplan install-desktop`: the launcher entry (assets/sliceplan.desktop) and the icon,
//! written under the user's data folder (XDG_DATA_HOME, i.e. ~/.local/share) with `Exec`
//! pointing at this executable.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::args::InstallDesktopArgs;
use sliceplan::io::write_bytes_atomic;

const DESKTOP_TEMPLATE: &str = include_str!("../../assets/sliceplan.desktop");
const ICON_PNG: &[u8] = include_bytes!("../../assets/icon.png");

/// The two files an install writes, under `root` (holding `applications/` and `icons/`).
fn targets(root: &Path) -> (PathBuf, PathBuf) {
    (
        root.join("applications").join("sliceplan.desktop"),
        root.join("icons")
            .join("hicolor")
            .join("64x64")
            .join("apps")
            .join("sliceplan.png"),
    )
}

/// The .desktop text with `Exec` set to `exe` (quoted as the desktop entry spec asks).
pub fn desktop_entry(exe: &Path) -> String {
    let quoted = format!(
        "\"{}\"",
        exe.display()
            .to_string()
            .replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('`', "\\`")
            .replace('$', "\\$")
    );
    DESKTOP_TEMPLATE.replace("Exec=sliceplan gui", &format!("Exec={quoted} gui"))
}

pub fn install_desktop(args: InstallDesktopArgs) -> Result<()> {
    let root = match args.prefix {
        Some(p) => p,
        None => sliceplan::paths::user_data_root()
            .context("no home folder to install into; give --prefix DIR")?,
    };
    let (desktop, icon) = targets(&root);
    if args.uninstall {
        for f in [&desktop, &icon] {
            match std::fs::remove_file(f) {
                Ok(()) => println!("removed {}", f.display()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e).with_context(|| format!("cannot remove {}", f.display())),
            }
        }
        return Ok(());
    }
    let exe = std::env::current_exe().context("cannot find the sliceplan executable")?;
    let exe = exe.canonicalize().unwrap_or(exe);
    for f in [&desktop, &icon] {
        if let Some(dir) = f.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create folder {}", dir.display()))?;
        }
    }
    write_bytes_atomic(&desktop, desktop_entry(&exe).as_bytes())?;
    write_bytes_atomic(&icon, ICON_PNG)?;
    println!(
        "installed {} (Exec {}) and {}; the launcher lists sliceplan after its next refresh",
        desktop.display(),
        exe.display(),
        icon.display()
    );
    Ok(())
}
