//! Rendering for study reports: line plots as SVG (the PNG twins are drawn by `raster`) and the
//! report's Markdown as a plain HTML page.

use std::fmt::Write as _;

/// A plotted series: its name, its points, and (budget, lower, fitted, upper) band rows.
pub type Series = (String, Vec<(f64, f64)>, Vec<(f64, f64, f64, f64)>);

/// Size, margin and axis ranges of a plot, shared by the SVG and the PNG renderings.
#[derive(Debug, Clone, Copy)]
pub struct Frame {
    pub width: f64,
    pub height: f64,
    pub margin: f64,
    pub x0: f64,
    pub x1: f64,
}

/// Series colours, in order.
pub const COLOURS: [&str; 6] = [
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b",
];

impl Frame {
    /// A 640×400 frame whose x axis runs from 0 (or below) to the largest x of `series`.
    pub fn for_series(series: &[Series]) -> Self {
        let xs: Vec<f64> = series
            .iter()
            .flat_map(|s| s.1.iter().map(|p| p.0).chain(s.2.iter().map(|b| b.0)))
            .collect();
        Frame {
            width: 640.0,
            height: 400.0,
            margin: 50.0,
            x0: xs.iter().copied().fold(f64::INFINITY, f64::min).min(0.0),
            x1: xs.iter().copied().fold(0.0, f64::max).max(1e-9),
        }
    }

    /// Horizontal position of `x`.
    pub fn px(&self, x: f64) -> f64 {
        self.margin
            + (x - self.x0) / (self.x1 - self.x0).max(1e-9) * (self.width - 2.0 * self.margin)
    }

    /// Vertical position of a Dice `y` (clamped to [0, 1]).
    pub fn py(&self, y: f64) -> f64 {
        self.height - self.margin - y.clamp(0.0, 1.0) * (self.height - 2.0 * self.margin)
    }

    /// An x tick's label, with as many decimals as the axis range needs.
    pub fn x_label(&self, x: f64) -> String {
        match self.x1 - self.x0 {
            span if span >= 10.0 => format!("{x:.0}"),
            span if span >= 1.0 => format!("{x:.1}"),
            _ => format!("{x:.3}"),
        }
    }

    /// The six ticks of each axis: (x value, Dice value).
    pub fn ticks(&self) -> Vec<(f64, f64)> {
        (0..=5)
            .map(|t| {
                let f = t as f64 / 5.0;
                (self.x0 + (self.x1 - self.x0) * f, f)
            })
            .collect()
    }
}

/// A series' points sorted by x.
pub fn sorted_points(points: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let mut sorted = points.to_vec();
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
    sorted
}

/// A line plot as SVG: one polyline (and points) per series, a band per series where given.
pub fn svg_plot(title: &str, x_label: &str, series: &[Series]) -> String {
    let f = Frame::for_series(series);
    let (w, h, m) = (f.width, f.height, f.margin);
    let px = |x: f64| f.px(x);
    let py = |y: f64| f.py(y);
    let colours = COLOURS;
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
    for (x, y) in f.ticks() {
        let _ = writeln!(
            s,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{y:.1}</text>",
            m - 4.0,
            py(y) + 4.0
        );
        let _ = writeln!(
            s,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
            px(x),
            h - m + 14.0,
            f.x_label(x)
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
            let line: Vec<String> = sorted_points(points)
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

/// `s` with `&`, `<` and `>` escaped for HTML text.
pub fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The report's Markdown as a plain HTML page (headings, lists, tables, images).
pub fn markdown_to_html(title: &str, md: &str) -> String {
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
