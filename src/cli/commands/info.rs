//! `sliceplan info` and `sliceplan demo`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::{Args, load_data, print_json};
use sliceplan::dataset::{demo, info};

pub fn info(mut args: Args) -> Result<()> {
    let json = args.flag("--json");
    let path = args
        .positional()
        .context("info needs a PATH (a NIfTI file or a dataset folder)")?;
    args.finish()?;
    let p = Path::new(&path);
    if p.is_dir() || path == "demo" {
        let ds = load_data(&path)?;
        let summary = info::dataset_info(&ds)?;
        if json {
            return print_json(&summary);
        }
        println!(
            "{} ({:?}, {} cases) — labels: {:?}",
            summary.id,
            summary.layout,
            summary.cases.len(),
            summary.label_names
        );
        for c in &summary.cases {
            println!(
                "  {:<28} {:>4}×{:<4}×{:<4} {:>5.2}×{:.2}×{:.2} mm  {}  {}{}",
                c.id,
                c.image.shape[0],
                c.image.shape[1],
                c.image.shape[2],
                c.image.spacing_mm[0],
                c.image.spacing_mm[1],
                c.image.spacing_mm[2],
                c.image.orientation,
                c.image.dtype,
                c.labels
                    .as_ref()
                    .map(|l| format!(
                        "  {} labels",
                        l.label_voxels.as_ref().map(|v| v.len()).unwrap_or(0)
                    ))
                    .unwrap_or_default()
            );
        }
        return Ok(());
    }
    let summary = info::file_info(p)?;
    if json {
        return print_json(&summary);
    }
    println!("{}", summary.path);
    let spacing: Vec<String> = summary
        .spacing_mm
        .iter()
        .map(|s| format!("{s:.4}"))
        .collect();
    println!(
        "  shape {:?}, spacing [{}] mm, orientation {}, {}",
        summary.shape,
        spacing.join(", "),
        summary.orientation,
        summary.dtype
    );
    if let Some(l) = &summary.label_voxels {
        println!("  label voxels: {l:?}");
    }
    if let Some(r) = summary.intensity_range {
        println!("  intensity range: {} to {}", r[0], r[1]);
    }
    if summary.non_finite_voxels > 0 {
        println!("  warning: {} NaN/Inf voxels", summary.non_finite_voxels);
    }
    Ok(())
}

pub fn demo(mut args: Args) -> Result<()> {
    let out = PathBuf::from(args.req("--out")?);
    args.finish()?;
    let n = demo::write_nnunet(&out)?;
    println!(
        "wrote {n} demo cases as an nnU-Net raw dataset to {}",
        out.display()
    );
    Ok(())
}
