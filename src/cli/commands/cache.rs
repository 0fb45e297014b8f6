//! `sliceplan cache [--clear] [--json]`: where the GPU kernel caches are, how large, and
//! emptying them.

use anyhow::Result;

use super::super::args::CacheArgs;
use super::print_json;
use sliceplan::train::kernel_cache::{clear_kernel_cache, kernel_cache_bytes, kernel_cache_dir};

pub fn cache(args: CacheArgs) -> Result<()> {
    let (clear, json) = (args.clear, args.json);
    let dir = kernel_cache_dir();
    let bytes_before = kernel_cache_bytes();
    if clear {
        clear_kernel_cache()?;
    }
    let bytes = kernel_cache_bytes();
    if json {
        return print_json(&serde_json::json!({
            "kernel_cache": dir.as_ref().map(|d| d.display().to_string()),
            "bytes": bytes,
            "cleared_bytes": if clear { bytes_before } else { 0 },
        }));
    }
    match dir {
        None => {
            println!("GPU kernel caches are off (SLICEPLAN_KERNEL_CACHE=off or no home folder)")
        }
        Some(d) if clear => println!(
            "GPU kernel cache cleared: {} ({:.1} MB freed)",
            d.display(),
            bytes_before as f64 / 1e6
        ),
        Some(d) => println!(
            "GPU kernel cache: {} ({:.1} MB; compiled kernels and autotune results, kept across runs; `sliceplan cache --clear` empties it)",
            d.display(),
            bytes as f64 / 1e6
        ),
    }
    Ok(())
}
