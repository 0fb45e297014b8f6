//! A returned hand-off's status as a report a lead reads: counts over the plan, each
//! annotator's cases, and on each shared case the agreement (Dice, surface distances in mm) with
//! the slices that disagree most, to adjudicate.

use std::fmt::Write as _;
use std::path::Path;

use super::agreement::Agreement;
use super::returned_handoff::{HandoffStatus, check_handoff};
use crate::dataset::Dataset;
use crate::error::Result;
use crate::io::write_bytes_atomic;

/// How many of the most disagreeing slices a report lists per shared case.
pub const WORST_SLICES_LISTED: usize = 5;

/// `mm` with two decimals, or "–" when there is no distance (a mask empty on the slice).
fn mm(value: Option<f64>) -> String {
    value.map_or_else(|| "–".to_string(), |v| format!("{v:.2}"))
}

fn agreement_section(out: &mut String, a: &Agreement) {
    let _ = writeln!(
        out,
        "\n### {} ({} vs {})\n\nDice {:.3}, mean surface distance {} mm, 95th percentile {} mm; {} planned slice(s) labelled by one annotator only.\n\n| slice | Dice | mean surface (mm) | 95th pct (mm) |\n|---:|---:|---:|---:|",
        a.case_id,
        a.annotators[0],
        a.annotators[1],
        a.dice,
        mm(a.mean_surface_mm),
        mm(a.surface_95_mm),
        a.one_sided_slices
    );
    for s in a.slices.iter().take(WORST_SLICES_LISTED) {
        let _ = writeln!(
            out,
            "| {} | {:.3} | {} | {} |",
            s.slice,
            s.dice,
            mm(s.mean_surface_mm),
            mm(s.surface_95_mm)
        );
    }
}

/// The status of a returned hand-off as Markdown.
pub fn status_markdown(status: &HandoffStatus) -> String {
    let mut out = String::from("# Hand-off status\n\n");
    let _ = writeln!(
        out,
        "{} of {} planned slices done, {} answered as holding no target, {} missing, {} annotated outside the plan.\n\n| annotator | case | done | absent | missing | outside the plan | mask |\n|---|---|---:|---:|---|---|---|",
        status.done_slices,
        status.planned_slices,
        status.absent_slices,
        status.missing_slices,
        status.off_plan_slices
    );
    let list = |s: &[usize]| {
        s.iter()
            .map(|x| x.to_string())
            .collect::<Vec<_>>()
            .join(" ")
    };
    for c in &status.cases {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} |",
            c.annotator,
            c.case_id,
            c.done.len(),
            c.absent.len(),
            list(&c.missing),
            list(&c.off_plan),
            c.mask_path
        );
    }
    if !status.agreement.is_empty() {
        out.push_str(
            "\n## Agreement on shared cases\n\nThe slices that disagree most come first (lowest Dice, then largest distance).\n",
        );
        for a in &status.agreement {
            agreement_section(&mut out, a);
        }
    }
    out
}

/// Reads the returned hand-off in `dir` back (`check_handoff`) and, with `report`, writes its
/// status there as Markdown, atomically: the status and the Markdown.
pub fn read_back(
    dataset: &Dataset,
    dir: &Path,
    report: Option<&Path>,
) -> Result<(HandoffStatus, String)> {
    let status = check_handoff(dataset, dir)?;
    let markdown = status_markdown(&status);
    if let Some(path) = report {
        write_bytes_atomic(path, markdown.as_bytes())?;
    }
    Ok((status, markdown))
}

impl HandoffStatus {
    /// One line: done, absent and missing of the planned slices, and the lowest agreement.
    pub fn summary_line(&self) -> String {
        let worst = self
            .agreement
            .iter()
            .map(|a| a.dice)
            .fold(None, |m: Option<f64>, d| Some(m.map_or(d, |m| m.min(d))));
        format!(
            "{} of {} planned slices done, {} absent, {} missing{}",
            self.done_slices,
            self.planned_slices,
            self.absent_slices,
            self.missing_slices,
            worst.map_or(String::new(), |d| format!(
                "; lowest agreement Dice {d:.3} over {} shared case(s)",
                self.agreement.len()
            ))
        )
    }
}
