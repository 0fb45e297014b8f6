//! Writes a cohort made from one real labelled volume (`sliceplan::dataset::augment`): each
//! case sees the volume through its own scan range around the target, an in-plane deformation
//! and its own scanner gain, offset and noise. For studies and calibrations on real anatomy and
//! intensities where only one labelled volume exists (one subject: the spread between patients
//! is made up).
//!
//! ```sh
//! cargo run --release --example augment_cohort -- \
//!     --case ../shared/data/real/totalseg-ct-abdomen --labels 2,3 --cases 24 --out /tmp/kidneys
//! ```
//!
//! Writes case folders (`case_000/image.nii.gz`, `labels.nii.gz`, `case.json` with the source's
//! label names), which sliceplan opens as a dataset.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use sliceplan::dataset::augment::write_augmented_cohort;

fn main() -> Result<()> {
    let mut case = PathBuf::from("../shared/data/real/totalseg-ct-abdomen");
    let (mut labels, mut cases, mut out, mut seed) = (vec![2u16, 3], 24usize, None, 1u64);
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args
            .next()
            .with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--case" => case = value.into(),
            "--labels" => {
                labels = value
                    .split(',')
                    .map(|v| v.trim().parse())
                    .collect::<Result<_, _>>()
                    .with_context(|| format!("--labels {value}: expected values such as 2,3"))?
            }
            "--cases" => cases = value.parse().context("--cases")?,
            "--out" => out = Some(PathBuf::from(value)),
            "--seed" => seed = value.parse().context("--seed")?,
            _ => bail!("unknown option {flag} (--case, --labels, --cases, --out, --seed)"),
        }
    }
    let out = out.context("--out DIR is needed")?;
    let draws = write_augmented_cohort(&case, &labels, cases, seed, &out)?;
    for (i, d) in draws.iter().enumerate() {
        println!(
            "case_{i:03}: source slices {}..{}, gain {:.2}, offset {:+.0}, noise sd {:.0}",
            d.source_slices.start, d.source_slices.end, d.gain, d.offset, d.noise_sd
        );
    }
    println!("{} cases in {}", draws.len(), out.display());
    Ok(())
}
