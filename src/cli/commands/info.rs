//! `sliceplan info` and `sliceplan demo`.

use std::path::Path;

use anyhow::Result;

use super::super::args::{DemoArgs, InfoArgs};
use super::{load_data, print_json, with_progress};
use sliceplan::dataset::layout::is_dicom_folder;
use sliceplan::dataset::{demo, info};
use sliceplan::io::read_dicom_series;

pub fn info(args: InfoArgs) -> Result<()> {
    let (json, path) = (args.json, args.path);
    let p = Path::new(&path);
    let generated = sliceplan::dataset::is_generated_spec(&path);
    if !p.exists() && !generated {
        return Err(sliceplan::Error::file("no such file or folder", p).into());
    }
    if is_dicom_folder(p) {
        if let Some(uid) = &args.series {
            let volume = read_dicom_series(p, Some(uid))?;
            let summary = info::volume_info(&volume, p, Some(false));
            return print_file_info(&summary, json);
        }
        let folder = p.to_path_buf();
        let summary = with_progress("sliceplan-info", move |_| info::dicom_folder_info(&folder))?;
        if json {
            return print_json(&summary);
        }
        println!(
            "{}: {} DICOM series ({} other files skipped)",
            summary.path,
            summary.series.len(),
            summary.skipped_files
        );
        for s in &summary.series {
            println!(
                "  {} #{} {} \"{}\": {} images, {}",
                if s.series_instance_uid.is_empty() {
                    "(no SeriesInstanceUID)"
                } else {
                    &s.series_instance_uid
                },
                s.series_number.map_or("-".into(), |n| n.to_string()),
                s.modality,
                s.description,
                s.images,
                s.transfer_syntax
            );
            match (&s.shape, &s.spacing_mm, &s.orientation, &s.problem) {
                (Some(shape), Some(sp), Some(o), _) => println!(
                    "      {}×{}×{} voxels, {:.3}×{:.3}×{:.3} mm, {o}",
                    shape[0], shape[1], shape[2], sp[0], sp[1], sp[2]
                ),
                (_, _, _, Some(problem)) => println!("      not usable: {problem}"),
                _ => {}
            }
        }
        return Ok(());
    }
    if p.is_dir() || generated {
        let ds = load_data(&path)?;
        let summary = with_progress("sliceplan-info", move |p| {
            info::dataset_info_with_progress(&ds, p)
        })?;
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
    print_file_info(&summary, json)
}

fn print_file_info(summary: &info::FileInfo, json: bool) -> Result<()> {
    if json {
        return print_json(summary);
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

pub fn demo(args: DemoArgs) -> Result<()> {
    let out = args.out;
    let dest = out.clone();
    let n = with_progress("sliceplan-demo", move |p| {
        demo::write_nnunet_with_progress(&dest, p)
    })?;
    println!(
        "wrote {n} demo cases as an nnU-Net raw dataset to {}",
        out.display()
    );
    Ok(())
}
