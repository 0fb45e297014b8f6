//! The study report: Markdown and HTML with SVG and PNG plots of the stored runs' summaries
//! (`summary.rs`), answering the study's three questions with this data's numbers, whatever they
//! are.

pub mod raster;
pub mod render;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::advice::study_advice;
use super::stats::Interval;
use super::store::StoreContents;
pub use super::summary::{BudgetCurve, ScenarioSummary, budget_curves, summarize_runs};
use crate::error::Result;
use crate::io::write_bytes_atomic;
use crate::study::report::raster::png_plot;
use crate::study::report::render::{Series, markdown_to_html, svg_plot};
use crate::study::stats::curve::BudgetAnswer;
use crate::study::stats::separation::{neighbour_separations, seed_dice, separations_markdown};
use crate::study::store::key::RunSpec;

fn fmt_interval(i: &Interval) -> String {
    if i.n > 1 {
        format!("{:.3} [{:.3}, {:.3}]", i.mean, i.lo, i.hi)
    } else {
        format!("{:.3} (1 run)", i.mean)
    }
}

/// Sentences answering the study's three questions from `summaries` (only those the study's
/// scenarios can answer).
pub fn answers(summaries: &[ScenarioSummary]) -> Vec<String> {
    let mut out = Vec::new();
    let measured: Vec<&ScenarioSummary> = summaries.iter().filter(|s| s.estimated()).collect();
    // 1. Volumes against density, per budget/strategy/model.
    let mut by_budget: BTreeMap<(String, String, String), Vec<&ScenarioSummary>> = BTreeMap::new();
    for s in &measured {
        by_budget
            .entry((s.budget.clone(), s.strategy.clone(), s.model.clone()))
            .or_default()
            .push(s);
    }
    for ((budget, strategy, model), group) in &by_budget {
        if group.len() < 2 {
            continue;
        }
        let best = group
            .iter()
            .max_by(|a, b| a.dice.mean.total_cmp(&b.dice.mean))
            .copied();
        let fewest = group
            .iter()
            .min_by(|a, b| a.volumes.total_cmp(&b.volumes))
            .copied();
        let most = group
            .iter()
            .max_by(|a, b| a.volumes.total_cmp(&b.volumes))
            .copied();
        if let (Some(best), Some(few), Some(many)) = (best, fewest, most) {
            let overlap = few.dice.hi >= many.dice.lo && many.dice.hi >= few.dice.lo;
            out.push(format!(
                "Volumes vs density ({budget}, {strategy}, {model}): {:.0} volumes at ρ = {:.3} gave Dice {}, {:.0} volumes at ρ = {:.3} gave {}; best: {} ({:.3}){}.",
                many.volumes,
                many.density,
                fmt_interval(&many.dice),
                few.volumes,
                few.density,
                fmt_interval(&few.dice),
                best.allocation,
                best.dice.mean,
                if overlap { "; the intervals overlap" } else { "" }
            ));
        }
    }
    // 2. Smart (ual, coreset) against simple (fixed, random) selection.
    for s in &measured {
        if s.strategy != "ual" && s.strategy != "coreset" {
            continue;
        }
        for simple in measured.iter().filter(|o| {
            (o.strategy == "fixed" || o.strategy == "random")
                && o.budget == s.budget
                && o.allocation == s.allocation
                && o.model == s.model
        }) {
            out.push(format!(
                "Selection ({}, {}, {}): {} {} vs {} {}.",
                s.budget,
                s.allocation,
                s.model,
                s.strategy,
                fmt_interval(&s.dice),
                simple.strategy,
                fmt_interval(&simple.dice)
            ));
        }
    }
    // 3. Interpolation: the same scenario with and without interpolated masks.
    for s in &measured {
        let Some((base, method)) = s.model.split_once('+') else {
            continue;
        };
        if let Some(plain) = measured.iter().find(|o| {
            o.model == base
                && o.budget == s.budget
                && o.allocation == s.allocation
                && o.strategy == s.strategy
        }) {
            out.push(format!(
                "Interpolation ({}, {}, {}, {base}): with {method} {} vs without {} (ρ = {:.3}).",
                s.budget,
                s.allocation,
                s.strategy,
                fmt_interval(&s.dice),
                fmt_interval(&plain.dice),
                s.density
            ));
        }
    }
    out
}

/// The files a report wrote.
#[derive(Debug, Clone, Serialize)]
pub struct ReportFiles {
    pub markdown: PathBuf,
    pub html: PathBuf,
    pub plots: Vec<PathBuf>,
}

/// Writes `stem.svg` and `stem.png` of one plot into `out`; returns the PNG's file name.
fn write_plot(
    out: &Path,
    stem: &str,
    title: &str,
    x_label: &str,
    series: &[Series],
) -> Result<String> {
    write_bytes_atomic(
        out.join(format!("{stem}.svg")),
        svg_plot(title, x_label, series).as_bytes(),
    )?;
    let png = format!("{stem}.png");
    write_bytes_atomic(out.join(&png), &png_plot(title, x_label, series)?)?;
    Ok(png)
}

/// One line per stored run with a flag (⚠, left out of the Dice) or a note.
fn run_remarks(specs: &[RunSpec], contents: &StoreContents) -> Vec<String> {
    specs
        .iter()
        .filter_map(|spec| {
            let r = contents.get(&spec.key())?.result()?;
            let said: Vec<String> = r
                .flags
                .iter()
                .map(|f| format!("⚠ {f}"))
                .chain(r.notes.iter().cloned())
                .collect();
            (!said.is_empty()).then(|| {
                format!(
                    "{} ({}): Dice {:.3}; {}",
                    spec.label(),
                    spec.preset,
                    r.mean_dice,
                    said.join("; ")
                )
            })
        })
        .collect()
}

/// How the runs' test volumes were drawn: once for every seed, or per seed.
fn test_volumes_line(specs: &[RunSpec]) -> Option<String> {
    let first = specs.first()?;
    let holdout = first.request.holdout;
    let seed = first.request.held_out_seed();
    let shared = specs
        .iter()
        .all(|s| s.request.holdout == holdout && s.request.held_out_seed() == seed);
    Some(if shared {
        format!(
            "Test volumes: the same {holdout} held-out volumes (drawn with seed {seed}) for every scenario and seed."
        )
    } else {
        "Test volumes: each seed holds out its own draw, so seed-to-seed spread includes which volumes are tested.".to_string()
    })
}

/// Writes `report.md`, `report.html` and SVG plots (Dice against volumes per budget, budget
/// curves with bands) to `out`, atomically, from the stored runs of `specs`.
pub fn write_report(
    title: &str,
    specs: &[RunSpec],
    contents: &StoreContents,
    out: &Path,
) -> Result<ReportFiles> {
    let summaries = summarize_runs(specs, contents);
    let mut md = header_md(title, specs, &summaries);
    md.push_str(&ranking_md(&summaries));
    md.push_str(&separations_markdown(&neighbour_separations(&seed_dice(
        specs, contents,
    ))));
    md.push_str(&skipped_md(&summaries));
    md.push_str(&remarks_md(specs, contents));
    std::fs::create_dir_all(out)
        .map_err(|e| crate::Error::io("cannot create the report folder", out, e))?;
    let mut plots = Vec::new();
    md.push_str(&volume_plots_md(&summaries, out, &mut plots)?);
    md.push_str(&budget_curves_md(
        &budget_curves(specs, contents),
        out,
        &mut plots,
    )?);
    let markdown = out.join("report.md");
    write_bytes_atomic(&markdown, md.as_bytes())?;
    let html_path = out.join("report.html");
    write_bytes_atomic(&html_path, markdown_to_html(title, &md).as_bytes())?;
    Ok(ReportFiles {
        markdown,
        html: html_path,
        plots,
    })
}

/// The title, how many runs are stored, the test volumes, advice on runs that did not learn,
/// and the answers for this data.
fn header_md(title: &str, specs: &[RunSpec], summaries: &[ScenarioSummary]) -> String {
    let mut md = format!("# {title}\n\n");
    let done = summaries
        .iter()
        .map(|s| s.runs + s.skipped.len())
        .sum::<usize>();
    let _ = writeln!(
        md,
        "{done} of {} runs stored. Dice: mean over seeds with its 95 % t interval (each seed: mean over its held-out volumes); ⚠ counts runs that did not learn the target, left out of the Dice.\n",
        specs.len()
    );
    if let Some(line) = test_volumes_line(specs) {
        let _ = writeln!(md, "{line}\n");
    }
    if let Some(advice) = study_advice(specs, summaries) {
        let _ = writeln!(md, "**Runs that did not learn.** {advice}\n");
    }
    md.push_str("## Answers for this data\n\n");
    let answers = answers(summaries);
    if answers.is_empty() {
        md.push_str("Not enough scenarios measured to compare.\n");
    }
    for a in &answers {
        let _ = writeln!(md, "- {a}");
    }
    md
}

/// Every estimated scenario ranked by mean Dice.
fn ranking_md(summaries: &[ScenarioSummary]) -> String {
    let mut md = String::new();
    md.push_str("\n## Ranking\n\n| rank | budget | allocation | strategy | model | preset | volumes | ρ | hours | Dice (95 % CI) | over cases | runs |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    let mut ranked: Vec<&ScenarioSummary> = summaries.iter().filter(|s| s.estimated()).collect();
    ranked.sort_by(|a, b| b.dice.mean.total_cmp(&a.dice.mean));
    for (i, s) in ranked.iter().enumerate() {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {:.1} | {:.3} | {:.2} | {} | {} | {}{} |",
            i + 1,
            s.budget,
            s.allocation,
            s.strategy,
            s.model,
            s.preset,
            s.volumes,
            s.density,
            s.annotation_hours,
            fmt_interval(&s.dice),
            fmt_interval(&s.dice_over_cases),
            s.runs,
            match (s.flagged, s.reruns) {
                (0, _) => String::new(),
                (f, 0) => format!(" ⚠ {f}"),
                (f, r) => format!(" ⚠ {f}, {r} rerun(s)"),
            }
        );
    }
    md
}

/// The scenarios' runs whose plans could not be made, with why.
fn skipped_md(summaries: &[ScenarioSummary]) -> String {
    let mut md = String::new();
    let skipped: Vec<String> = summaries
        .iter()
        .flat_map(|s| {
            s.skipped
                .iter()
                .map(move |r| format!("{} {} {}: {r}", s.budget, s.allocation, s.strategy))
        })
        .collect();
    if !skipped.is_empty() {
        md.push_str("\n## Skipped\n\n");
        for k in skipped {
            let _ = writeln!(md, "- {k}");
        }
    }
    md
}

/// The runs flagged or with notes (the first 40).
fn remarks_md(specs: &[RunSpec], contents: &StoreContents) -> String {
    let mut md = String::new();
    let remarks = run_remarks(specs, contents);
    if !remarks.is_empty() {
        const SHOWN: usize = 40;
        md.push_str("\n## Runs flagged or with notes\n\n");
        for r in remarks.iter().take(SHOWN) {
            let _ = writeln!(md, "- {r}");
        }
        if remarks.len() > SHOWN {
            let _ = writeln!(
                md,
                "- … and {} more (every run is in the store's results.jsonl)",
                remarks.len() - SHOWN
            );
        }
    }
    md
}

/// One plot of Dice against volumes per budget, written to `out` and added to `plots`.
fn volume_plots_md(
    summaries: &[ScenarioSummary],
    out: &Path,
    plots: &mut Vec<std::path::PathBuf>,
) -> Result<String> {
    let mut md = String::new();
    // Dice against volumes, one plot per budget.
    let mut budgets: Vec<String> = summaries.iter().map(|s| s.budget.clone()).collect();
    budgets.dedup();
    budgets.sort();
    budgets.dedup();
    md.push_str("\n## Dice against volumes\n\n");
    for (n, budget) in budgets.iter().enumerate() {
        let mut series: Vec<Series> = Vec::new();
        for s in summaries
            .iter()
            .filter(|s| &s.budget == budget && s.estimated())
        {
            let name = format!("{} {}", s.strategy, s.model);
            match series.iter_mut().find(|x| x.0 == name) {
                Some(x) => x.1.push((s.volumes, s.dice.mean)),
                None => series.push((name, vec![(s.volumes, s.dice.mean)], Vec::new())),
            }
        }
        let title = format!("Dice vs volumes at {budget}");
        let file = write_plot(
            out,
            &format!("dice-vs-volumes-{}", n + 1),
            &title,
            "volumes",
            &series,
        )?;
        let _ = writeln!(md, "![{title}]({file})\n");
        plots.push(out.join(file));
    }
    Ok(md)
}

/// The budget curves in slices and in hours (plots written to `out`, added to `plots`), and the
/// budget each fit says Dice 0.8 and 0.9 need.
fn budget_curves_md(
    curves: &[BudgetCurve],
    out: &Path,
    plots: &mut Vec<std::path::PathBuf>,
) -> Result<String> {
    let mut md = String::new();
    md.push_str("## Budget curves\n\nFitted saturating curves (inverse power law or exponential plateau, chosen by leave-one-out error) with 95 % bootstrap bands; budgets beyond the largest simulated one are extrapolated.\n\n");
    for (unit, hours) in [("slices", false), ("hours", true)] {
        let series: Vec<Series> = curves
            .iter()
            .map(|c| {
                let (points, fit) = if hours {
                    (&c.points_hours, &c.fit_hours)
                } else {
                    (&c.points_slices, &c.fit_slices)
                };
                (
                    c.series.clone(),
                    points.clone(),
                    fit.as_ref().map(|f| f.band.clone()).unwrap_or_default(),
                )
            })
            .collect();
        let title = format!("Dice vs budget ({unit})");
        let file = write_plot(out, &format!("budget-curves-{unit}"), &title, unit, &series)?;
        let _ = writeln!(md, "![Dice vs budget in {unit}]({file})\n");
        plots.push(out.join(file));
    }
    md.push_str(
        "| series | fit | Dice 0.8 needs (slices) | Dice 0.9 needs (slices) |\n|---|---|---|---|\n",
    );
    for c in curves {
        let answer = |t: f64| match c.fit_slices.as_ref().map(|f| f.budget_for(t)) {
            Some(BudgetAnswer {
                budget: Some(b),
                lo,
                hi,
                extrapolated,
                ..
            }) => format!(
                "{b:.0} [{}, {}]{}",
                lo.map_or("—".into(), |v| format!("{v:.0}")),
                hi.map_or("not reached".into(), |v| format!("{v:.0}")),
                if extrapolated { " (extrapolated)" } else { "" }
            ),
            Some(_) => "not reached".into(),
            None => "too few budgets to fit".into(),
        };
        let fit = c
            .fit_slices
            .as_ref()
            .map(|f| format!("{:?} (LOO RMSE {:.3})", f.curve.kind, f.curve.loo_rmse))
            .unwrap_or_else(|| "—".into());
        let _ = writeln!(
            md,
            "| {} | {fit} | {} | {} |",
            c.series,
            answer(0.8),
            answer(0.9)
        );
    }
    Ok(md)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::study::estimates::tests::{setup, stored};
    use crate::study::store::{ResultStore, RunOutcome};

    #[test]
    fn flagged_runs_are_counted_listed_and_left_out_of_the_dice() {
        let dir = tempfile::tempdir().unwrap();
        let store = ResultStore::open(dir.path().join("store"), "d", "fp").unwrap();
        let specs = setup().point_specs(4);
        let mut specs3 = specs.clone();
        let mut third = specs[1].clone();
        third.request.seed = 2;
        third.train.seed = 2;
        specs3.push(third);
        // Seeds 0 and 2 learned (0.80, 0.70, one with a note); seed 1 did not (0.02).
        store.append(&stored(&specs3[0], 0.80, false)).unwrap();
        store.append(&stored(&specs3[1], 0.02, true)).unwrap();
        let mut noted = stored(&specs3[2], 0.70, false);
        if let RunOutcome::Done(r) = &mut noted.outcome {
            r.notes.push("this plan generalises poorly to them".into());
        }
        store.append(&noted).unwrap();
        let contents = store.load().unwrap();
        let summary = &summarize_runs(&specs3, &contents)[0];
        assert_eq!((summary.runs, summary.flagged), (3, 1));
        assert!(summary.estimated());
        assert!((summary.dice.mean - 0.75).abs() < 1e-12 && summary.dice.n == 2);
        let out = dir.path().join("report");
        write_report("t", &specs3, &contents, &out).unwrap();
        let md = std::fs::read_to_string(out.join("report.md")).unwrap();
        assert!(md.contains("## Runs flagged or with notes"), "{md}");
        assert!(
            md.contains("seed 1 (tiny): Dice 0.020; ⚠ did not learn"),
            "{md}"
        );
        assert!(
            md.contains("seed 2 (tiny): Dice 0.700; this plan generalises poorly"),
            "{md}"
        );
        assert!(!md.contains("seed 0 (tiny)"), "{md}");
        // Each seed drew its own test volumes.
        assert!(md.contains("each seed holds out its own draw"), "{md}");
        // Only flagged runs: counted, not estimated, not ranked.
        let only = &summarize_runs(&specs3[1..2], &contents)[0];
        assert!(!only.estimated());
        // One run in three that did not learn is no pattern: no advice.
        assert!(!md.contains("Runs that did not learn"), "{md}");
        // Two in three: the report says what to do, naming the steps the runs had.
        let mut fourth = specs3[0].clone();
        fourth.request.seed = 3;
        fourth.train.seed = 3;
        store.append(&stored(&fourth, 0.01, true)).unwrap();
        let mut specs4 = specs3.clone();
        specs4.push(fourth);
        let contents = store.load().unwrap();
        write_report("t", &specs4, &contents, &out).unwrap();
        let md = std::fs::read_to_string(out.join("report.md")).unwrap();
        let steps = specs4[0].train.steps;
        assert!(
            md.contains("**Runs that did not learn.** 2 of 4 runs did not learn the target")
                && md.contains(&format!("longer training than {steps} steps")),
            "{md}"
        );
    }

    #[test]
    fn the_report_says_which_neighbouring_plans_the_seeds_separate() {
        let dir = tempfile::tempdir().unwrap();
        let store = ResultStore::open(dir.path().join("store"), "d", "fp").unwrap();
        let mut setup = setup();
        setup.seeds = vec![0, 1, 2];
        // s=8 beats s=4 by 0.10 ± 0.01 in every seed; s=4 beats s=2 by −0.05 and 0.25; s=2's seed 2
        // did not learn, so it is compared on seeds 0 and 1 only.
        let runs = [
            (4, [0.40, 0.60, 0.50]),
            (8, [0.50, 0.71, 0.59]),
            (2, [0.45, 0.35, 0.01]),
        ];
        let mut specs = Vec::new();
        for (volumes, dice) in runs {
            for (spec, d) in setup.point_specs(volumes).into_iter().zip(dice) {
                store.append(&stored(&spec, d, d < 0.05)).unwrap();
                specs.push(spec);
            }
        }
        let contents = store.load().unwrap();
        let by_seed = seed_dice(&specs, &contents);
        assert_eq!(by_seed.len(), 3);
        assert_eq!(by_seed[2].by_seed.len(), 2, "the flagged run is left out");
        let seps = neighbour_separations(&by_seed);
        assert_eq!(seps.len(), 2);
        assert_eq!(
            (seps[0].higher.as_str(), seps[0].lower.as_str()),
            ("s=8 fixed 2d", "s=4 fixed 2d")
        );
        assert!(seps[0].paired.separated && seps[0].paired.difference.n == 3);
        assert!(
            !seps[1].paired.separated && seps[1].paired.difference.n == 2,
            "{:?}",
            seps[1]
        );
        let out = dir.path().join("report");
        write_report("t", &specs, &contents, &out).unwrap();
        let md = std::fs::read_to_string(out.join("report.md")).unwrap();
        assert!(
            md.contains("## Can the seeds tell the plans apart?"),
            "{md}"
        );
        assert!(
            md.contains("| 40 slices | s=8 fixed 2d | s=4 fixed 2d | +0.100 ["),
            "{md}"
        );
        assert!(md.contains("| 3 | separated |"), "{md}");
        assert!(md.contains("| 2 | about "), "{md}");
    }
}
