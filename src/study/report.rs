//! Summaries of stored runs (mean Dice with 95 % intervals per scenario, budget curves) and the
//! study report: Markdown and HTML with SVG plots, answering the study's three questions with
//! this data's numbers, whatever they are.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::curve::{BudgetAnswer, FittedCurve};
use super::file::AllocationRule;
use super::key::RunSpec;
use super::stats::{Interval, mean_interval};
use super::store::StoreContents;
use crate::error::Result;
use crate::io::write_bytes_atomic;
use crate::plan::Budget;

/// A scenario: a run without its seed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScenarioSummary {
    /// e.g. "60 slices".
    pub budget: String,
    /// e.g. "s=12".
    pub allocation: String,
    pub strategy: String,
    /// e.g. "2d" or "3d+sdf".
    pub model: String,
    pub preset: String,
    /// Seeds measured.
    pub runs: usize,
    /// Seeds skipped because their plan cannot be made, with why.
    pub skipped: Vec<String>,
    /// Runs flagged as not having learned the target.
    pub flagged: usize,
    pub slices: f64,
    pub volumes: f64,
    pub density: f64,
    pub annotation_hours: f64,
    /// Mean Dice over seeds (each seed's mean over its held-out volumes), 95 % t interval.
    pub dice: Interval,
    /// Over every held-out volume of every seed.
    pub dice_over_cases: Interval,
}

fn budget_label(b: Option<Budget>) -> String {
    match b {
        Some(Budget::Slices(s)) => format!("{s} slices"),
        Some(Budget::Seconds(t)) => format!("{:.1} h", t / 3600.0),
        None => "no budget".into(),
    }
}

fn model_label(spec: &RunSpec) -> String {
    let interp = spec
        .interpolation
        .map(|m| format!("+{}", m.name()))
        .unwrap_or_default();
    format!("{}{interp}", spec.train.model.name())
}

/// Budget, allocation, strategy, model and preset: a run without its seed.
type ScenarioKey = (String, String, String, String, String);

/// A plotted series: its name, its points, and (budget, lower, fitted, upper) band rows.
type Series = (String, Vec<(f64, f64)>, Vec<(f64, f64, f64, f64)>);

/// The scenario of a run (everything but the seed) as a sortable key.
fn scenario_key(spec: &RunSpec) -> ScenarioKey {
    (
        budget_label(spec.request.budget),
        AllocationRule::of(&spec.request).name(),
        spec.request.slice_strategy.name().to_string(),
        model_label(spec),
        spec.preset.clone(),
    )
}

/// Groups the stored runs of `specs` by scenario, in the order the specs list them.
pub fn summarize_runs(specs: &[RunSpec], contents: &StoreContents) -> Vec<ScenarioSummary> {
    let mut order: Vec<ScenarioKey> = Vec::new();
    let mut groups: BTreeMap<ScenarioKey, Vec<&RunSpec>> = BTreeMap::new();
    for spec in specs {
        let k = scenario_key(spec);
        if !groups.contains_key(&k) {
            order.push(k.clone());
        }
        groups.entry(k).or_default().push(spec);
    }
    order
        .into_iter()
        .filter_map(|k| {
            let members = &groups[&k];
            let mut skipped = Vec::new();
            let mut results = Vec::new();
            for spec in members {
                let Some(run) = contents.get(&spec.key()) else {
                    continue;
                };
                match &run.outcome {
                    super::store::RunOutcome::Done(r) => results.push(r),
                    super::store::RunOutcome::Skipped { reason } => {
                        skipped.push(format!("seed {}: {reason}", spec.request.seed))
                    }
                }
            }
            if results.is_empty() && skipped.is_empty() {
                return None;
            }
            let n = results.len().max(1) as f64;
            let mean = |f: &dyn Fn(&super::store::RunResult) -> f64| {
                results.iter().map(|r| f(r)).sum::<f64>() / n
            };
            let seed_dice: Vec<f64> = results.iter().map(|r| r.mean_dice).collect();
            let case_dice: Vec<f64> = results
                .iter()
                .flat_map(|r| r.cases.iter().map(|c| c.dice))
                .collect();
            Some(ScenarioSummary {
                budget: k.0,
                allocation: k.1,
                strategy: k.2,
                model: k.3,
                preset: k.4,
                runs: results.len(),
                skipped,
                flagged: results.iter().filter(|r| !r.flags.is_empty()).count(),
                slices: mean(&|r| r.slices as f64),
                volumes: mean(&|r| r.volumes as f64),
                density: mean(&|r| r.density),
                annotation_hours: mean(&|r| r.annotation_hours),
                dice: mean_interval(&seed_dice),
                dice_over_cases: mean_interval(&case_dice),
            })
        })
        .collect()
}

/// Dice against budget for one allocation rule (and strategy, model, preset), fitted.
#[derive(Debug, Clone, Serialize)]
pub struct BudgetCurve {
    /// e.g. "s=12 fixed 2d".
    pub series: String,
    /// (slices, Dice) of every measured, unflagged run.
    pub points_slices: Vec<(f64, f64)>,
    /// (hours, Dice) of the same runs.
    pub points_hours: Vec<(f64, f64)>,
    pub fit_slices: Option<FittedCurve>,
    pub fit_hours: Option<FittedCurve>,
}

impl BudgetCurve {
    /// The budget in slices and in hours that reaches `target` Dice.
    pub fn budget_for(&self, target: f64) -> (Option<BudgetAnswer>, Option<BudgetAnswer>) {
        (
            self.fit_slices.as_ref().map(|f| f.budget_for(target)),
            self.fit_hours.as_ref().map(|f| f.budget_for(target)),
        )
    }
}

/// One curve per allocation rule, strategy, model and preset, over the study's budgets.
/// Flagged runs (not learned) are left out of the fits.
pub fn budget_curves(specs: &[RunSpec], contents: &StoreContents) -> Vec<BudgetCurve> {
    // (name, (slices, Dice), (hours, Dice)) per series.
    type Points = Vec<(f64, f64)>;
    let mut series: Vec<(String, Points, Points)> = Vec::new();
    for spec in specs {
        let Some(r) = contents.get(&spec.key()).and_then(|run| run.result()) else {
            continue;
        };
        if !r.flags.is_empty() {
            continue;
        }
        let name = format!(
            "{} {} {} ({})",
            AllocationRule::of(&spec.request).name(),
            spec.request.slice_strategy.name(),
            model_label(spec),
            spec.preset
        );
        let i = match series.iter().position(|s| s.0 == name) {
            Some(i) => i,
            None => {
                series.push((name, Vec::new(), Vec::new()));
                series.len() - 1
            }
        };
        series[i].1.push((r.slices as f64, r.mean_dice));
        series[i].2.push((r.annotation_hours, r.mean_dice));
    }
    series
        .into_iter()
        .map(|(name, slices, hours)| BudgetCurve {
            fit_slices: FittedCurve::new(&slices, 200, 17),
            fit_hours: FittedCurve::new(&hours, 200, 17),
            series: name,
            points_slices: slices,
            points_hours: hours,
        })
        .collect()
}

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
    let measured: Vec<&ScenarioSummary> = summaries.iter().filter(|s| s.runs > 0).collect();
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

/// A line plot as SVG: one polyline (and points) per series, a band per series where given.
fn svg_plot(title: &str, x_label: &str, series: &[Series]) -> String {
    let (w, h, m) = (640.0, 400.0, 50.0);
    let xs: Vec<f64> = series
        .iter()
        .flat_map(|s| s.1.iter().map(|p| p.0).chain(s.2.iter().map(|b| b.0)))
        .collect();
    let (x0, x1) = (
        xs.iter().copied().fold(f64::INFINITY, f64::min).min(0.0),
        xs.iter().copied().fold(0.0, f64::max).max(1e-9),
    );
    let px = |x: f64| m + (x - x0) / (x1 - x0).max(1e-9) * (w - 2.0 * m);
    let py = |y: f64| h - m - y.clamp(0.0, 1.0) * (h - 2.0 * m);
    let colours = [
        "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b",
    ];
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" font-family=\"sans-serif\" font-size=\"11\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n<text x=\"{}\" y=\"18\" text-anchor=\"middle\" font-size=\"13\">{title}</text>\n<line x1=\"{m}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"black\"/>\n<line x1=\"{m}\" y1=\"{m}\" x2=\"{m}\" y2=\"{}\" stroke=\"black\"/>\n<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{x_label}</text>\n<text x=\"14\" y=\"{}\" transform=\"rotate(-90 14 {})\" text-anchor=\"middle\">Dice</text>\n",
        w / 2.0,
        h - m,
        w - m,
        h - m,
        h - m,
        w / 2.0,
        h - 12.0,
        h / 2.0,
        h / 2.0
    );
    for tick in 0..=5 {
        let y = tick as f64 / 5.0;
        let _ = writeln!(
            s,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{y:.1}</text>",
            m - 4.0,
            py(y) + 4.0
        );
        let x = x0 + (x1 - x0) * tick as f64 / 5.0;
        let _ = writeln!(
            s,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{x:.3}</text>",
            px(x),
            h - m + 14.0
        );
    }
    for (i, (name, points, band)) in series.iter().enumerate() {
        let c = colours[i % colours.len()];
        if !band.is_empty() {
            let upper: Vec<String> = band
                .iter()
                .filter(|b| b.3.is_finite())
                .map(|b| format!("{:.1},{:.1}", px(b.0), py(b.3)))
                .collect();
            let lower: Vec<String> = band
                .iter()
                .rev()
                .filter(|b| b.1.is_finite())
                .map(|b| format!("{:.1},{:.1}", px(b.0), py(b.1)))
                .collect();
            let _ = writeln!(
                s,
                "<polygon points=\"{} {}\" fill=\"{c}\" fill-opacity=\"0.15\" stroke=\"none\"/>",
                upper.join(" "),
                lower.join(" ")
            );
            let mid: Vec<String> = band
                .iter()
                .map(|b| format!("{:.1},{:.1}", px(b.0), py(b.2)))
                .collect();
            let _ = writeln!(
                s,
                "<polyline points=\"{}\" fill=\"none\" stroke=\"{c}\" stroke-width=\"2\"/>",
                mid.join(" ")
            );
        } else {
            let mut sorted = points.clone();
            sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
            let line: Vec<String> = sorted
                .iter()
                .map(|p| format!("{:.1},{:.1}", px(p.0), py(p.1)))
                .collect();
            let _ = writeln!(
                s,
                "<polyline points=\"{}\" fill=\"none\" stroke=\"{c}\" stroke-width=\"1.5\"/>",
                line.join(" ")
            );
        }
        for p in points {
            let _ = writeln!(
                s,
                "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"{c}\"/>",
                px(p.0),
                py(p.1)
            );
        }
        let _ = writeln!(
            s,
            "<text x=\"{}\" y=\"{}\" fill=\"{c}\">{}</text>",
            w - m - 200.0,
            m + 14.0 * i as f64,
            html_escape(name)
        );
    }
    s.push_str("</svg>\n");
    s
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The files a report wrote.
#[derive(Debug, Clone, Serialize)]
pub struct ReportFiles {
    pub markdown: PathBuf,
    pub html: PathBuf,
    pub plots: Vec<PathBuf>,
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
    let curves = budget_curves(specs, contents);
    let mut md = format!("# {title}\n\n");
    let done = summaries
        .iter()
        .map(|s| s.runs + s.skipped.len())
        .sum::<usize>();
    let _ = writeln!(
        md,
        "{done} of {} runs stored. Dice: mean over seeds with its 95 % t interval (each seed: mean over its held-out volumes); ⚠ marks runs that did not learn the target.\n",
        specs.len()
    );
    md.push_str("## Answers for this data\n\n");
    let answers = answers(&summaries);
    if answers.is_empty() {
        md.push_str("Not enough scenarios measured to compare.\n");
    }
    for a in &answers {
        let _ = writeln!(md, "- {a}");
    }
    md.push_str("\n## Ranking\n\n| rank | budget | allocation | strategy | model | preset | volumes | ρ | hours | Dice (95 % CI) | over cases | runs |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    let mut ranked: Vec<&ScenarioSummary> = summaries.iter().filter(|s| s.runs > 0).collect();
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
            if s.flagged > 0 {
                format!(" ⚠ {}", s.flagged)
            } else {
                String::new()
            }
        );
    }
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
    std::fs::create_dir_all(out)
        .map_err(|e| crate::Error::io("cannot create the report folder", out, e))?;
    let mut plots = Vec::new();
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
            .filter(|s| &s.budget == budget && s.runs > 0)
        {
            let name = format!("{} {}", s.strategy, s.model);
            match series.iter_mut().find(|x| x.0 == name) {
                Some(x) => x.1.push((s.volumes, s.dice.mean)),
                None => series.push((name, vec![(s.volumes, s.dice.mean)], Vec::new())),
            }
        }
        let file = format!("dice-vs-volumes-{}.svg", n + 1);
        write_bytes_atomic(
            out.join(&file),
            svg_plot(&format!("Dice vs volumes at {budget}"), "volumes", &series).as_bytes(),
        )?;
        let _ = writeln!(md, "![Dice vs volumes at {budget}]({file})\n");
        plots.push(out.join(file));
    }
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
        let file = format!("budget-curves-{unit}.svg");
        write_bytes_atomic(
            out.join(&file),
            svg_plot(&format!("Dice vs budget ({unit})"), unit, &series).as_bytes(),
        )?;
        let _ = writeln!(md, "![Dice vs budget in {unit}]({file})\n");
        plots.push(out.join(file));
    }
    md.push_str(
        "| series | fit | Dice 0.8 needs (slices) | Dice 0.9 needs (slices) |\n|---|---|---|---|\n",
    );
    for c in &curves {
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

/// The report's Markdown as a plain HTML page (headings, lists, tables, images).
fn markdown_to_html(title: &str, md: &str) -> String {
    let mut html = format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{}</title>\n<style>body{{font-family:sans-serif;max-width:1000px;margin:auto}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:2px 6px}}</style></head><body>\n",
        html_escape(title)
    );
    let mut in_table = false;
    let mut in_list = false;
    for line in md.lines() {
        let is_row = line.starts_with('|');
        if in_table && !is_row {
            html.push_str("</table>\n");
            in_table = false;
        }
        if in_list && !line.starts_with("- ") {
            html.push_str("</ul>\n");
            in_list = false;
        }
        if let Some(h) = line.strip_prefix("## ") {
            let _ = writeln!(html, "<h2>{}</h2>", html_escape(h));
        } else if let Some(h) = line.strip_prefix("# ") {
            let _ = writeln!(html, "<h1>{}</h1>", html_escape(h));
        } else if let Some(item) = line.strip_prefix("- ") {
            if !in_list {
                html.push_str("<ul>\n");
                in_list = true;
            }
            let _ = writeln!(html, "<li>{}</li>", html_escape(item));
        } else if is_row {
            if line.starts_with("|---") {
                continue;
            }
            if !in_table {
                html.push_str("<table>\n");
                in_table = true;
            }
            let cells: Vec<String> = line
                .trim_matches('|')
                .split('|')
                .map(|c| format!("<td>{}</td>", html_escape(c.trim())))
                .collect();
            let _ = writeln!(html, "<tr>{}</tr>", cells.join(""));
        } else if let Some(rest) = line.strip_prefix("![") {
            if let Some((alt, file)) = rest.split_once("](") {
                let _ = writeln!(
                    html,
                    "<p><img src=\"{}\" alt=\"{}\"></p>",
                    html_escape(file.trim_end_matches(')')),
                    html_escape(alt)
                );
            }
        } else if !line.trim().is_empty() {
            let _ = writeln!(html, "<p>{}</p>", html_escape(line));
        }
    }
    if in_table {
        html.push_str("</table>\n");
    }
    if in_list {
        html.push_str("</ul>\n");
    }
    html.push_str("</body></html>\n");
    html
}
