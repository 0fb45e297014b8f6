//! Build script: only the optional `torch` feature needs it.
//!
//! burn's tch backend links PyTorch's shared libraries (`libtorch_cpu.so`, `libc10.so`, and
//! `libtorch_cuda.so` when the PyTorch is a CUDA one) but leaves no run-time search path to
//! them, so the binaries would need `LD_LIBRARY_PATH` at every start. This script records the
//! directory torch-sys linked against as the binaries' run path, and as
//! `SLICEPLAN_LIBTORCH_LIB` for the messages that name it. The directory is found the way
//! torch-sys finds it: `LIBTORCH_LIB`, `LIBTORCH`/lib, or (with `LIBTORCH_USE_PYTORCH`) the
//! `torch` package of the active Python.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    for var in [
        "LIBTORCH",
        "LIBTORCH_LIB",
        "LIBTORCH_USE_PYTORCH",
        "VIRTUAL_ENV",
    ] {
        println!("cargo:rerun-if-env-changed={var}");
    }
    if std::env::var_os("CARGO_FEATURE_TORCH").is_none() {
        return;
    }
    match libtorch_lib_dir() {
        Some(dir) => {
            println!("cargo:rustc-link-arg=-Wl,-rpath,{}", dir.display());
            println!("cargo:rustc-env=SLICEPLAN_LIBTORCH_LIB={}", dir.display());
            if let Some(version) = libtorch_version(&dir) {
                println!("cargo:rustc-env=SLICEPLAN_LIBTORCH_VERSION={version}");
            }
        }
        None => println!(
            "cargo:warning=the torch feature found no libtorch directory to record; \
             the binaries will need LD_LIBRARY_PATH to start"
        ),
    }
}

/// The linked PyTorch's version: libtorch's `build-version` file beside `lib/`, else the
/// active Python's `torch.__version__`.
fn libtorch_version(lib_dir: &std::path::Path) -> Option<String> {
    let file = lib_dir.parent()?.join("build-version");
    if let Ok(version) = std::fs::read_to_string(file) {
        return Some(version.trim().to_string());
    }
    python(&["-c", "import torch; print(torch.__version__)"])
}

/// What the active Python prints (trimmed), if it ran and printed something.
fn python(args: &[&str]) -> Option<String> {
    // torch-sys runs `python` inside a virtual environment and `python3` outside one.
    let python = if std::env::var_os("VIRTUAL_ENV").is_some() {
        "python"
    } else {
        "python3"
    };
    let output = Command::new(python).args(args).output().ok()?;
    let text = String::from_utf8(output.stdout).ok()?.trim().to_string();
    (output.status.success() && !text.is_empty()).then_some(text)
}

fn libtorch_lib_dir() -> Option<PathBuf> {
    if let Ok(lib) = std::env::var("LIBTORCH_LIB") {
        return Some(PathBuf::from(lib));
    }
    if let Ok(root) = std::env::var("LIBTORCH") {
        return Some(PathBuf::from(root).join("lib"));
    }
    std::env::var_os("LIBTORCH_USE_PYTORCH")?;
    python(&[
        "-c",
        "import os, torch; print(os.path.join(os.path.dirname(torch.__file__), 'lib'))",
    ])
    .map(PathBuf::from)
}
