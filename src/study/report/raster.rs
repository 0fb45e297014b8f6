//! PNG twins of the report's SVG plots: the same frame, series, bands and labels, drawn into an
//! RGB image with anti-aliased lines and text (egui's Ubuntu Light font, rasterised by
//! `ab_glyph`), so reports show plots where SVG is not displayed.

use ab_glyph::{Font, FontRef, PxScale, ScaleFont};
use image::{ImageEncoder, Rgb, RgbImage};

use crate::error::{Error, Result};
use crate::study::report::render::{COLOURS, Frame, Series, sorted_points};

/// Pixels per plot unit (the SVG's 640×400 becomes 960×600).
const SCALE: f64 = 1.5;

struct Canvas {
    img: RgbImage,
    font: FontRef<'static>,
}

fn rgb(hex: &str) -> [u8; 3] {
    let v = u32::from_str_radix(hex.trim_start_matches('#'), 16).unwrap_or(0);
    [(v >> 16) as u8, (v >> 8) as u8, v as u8]
}

/// Where text sits relative to its anchor point.
#[derive(Clone, Copy)]
enum Anchor {
    Start,
    Middle,
    End,
}

impl Canvas {
    fn blend(&mut self, x: i64, y: i64, colour: [u8; 3], alpha: f64) {
        if x < 0 || y < 0 || x >= self.img.width() as i64 || y >= self.img.height() as i64 {
            return;
        }
        let a = alpha.clamp(0.0, 1.0);
        let p = self.img.get_pixel_mut(x as u32, y as u32);
        for (channel, &target) in p.0.iter_mut().zip(&colour) {
            *channel = (*channel as f64 * (1.0 - a) + target as f64 * a).round() as u8;
        }
    }

    /// A segment of `width` pixels between two points in plot units.
    fn line(&mut self, a: (f64, f64), b: (f64, f64), width: f64, colour: [u8; 3]) {
        let (ax, ay, bx, by) = (a.0 * SCALE, a.1 * SCALE, b.0 * SCALE, b.1 * SCALE);
        let r = width * SCALE / 2.0;
        let (x0, x1) = ((ax.min(bx) - r - 1.0) as i64, (ax.max(bx) + r + 1.0) as i64);
        let (y0, y1) = ((ay.min(by) - r - 1.0) as i64, (ay.max(by) + r + 1.0) as i64);
        let (dx, dy) = (bx - ax, by - ay);
        let len2 = (dx * dx + dy * dy).max(1e-12);
        for y in y0..=y1 {
            for x in x0..=x1 {
                let (cx, cy) = (x as f64 + 0.5, y as f64 + 0.5);
                let t = (((cx - ax) * dx + (cy - ay) * dy) / len2).clamp(0.0, 1.0);
                let d = ((cx - ax - t * dx).powi(2) + (cy - ay - t * dy).powi(2)).sqrt();
                let coverage = (r + 0.5 - d).clamp(0.0, 1.0);
                if coverage > 0.0 {
                    self.blend(x, y, colour, coverage);
                }
            }
        }
    }

    fn dot(&mut self, c: (f64, f64), radius: f64, colour: [u8; 3]) {
        self.line(c, c, 2.0 * radius, colour);
    }

    /// A filled polygon (even-odd rule) in plot units.
    fn fill(&mut self, polygon: &[(f64, f64)], colour: [u8; 3], alpha: f64) {
        if polygon.len() < 3 {
            return;
        }
        let pts: Vec<(f64, f64)> = polygon.iter().map(|p| (p.0 * SCALE, p.1 * SCALE)).collect();
        let y0 = pts
            .iter()
            .map(|p| p.1)
            .fold(f64::INFINITY, f64::min)
            .floor() as i64;
        let y1 = pts
            .iter()
            .map(|p| p.1)
            .fold(f64::NEG_INFINITY, f64::max)
            .ceil() as i64;
        for y in y0..=y1 {
            let cy = y as f64 + 0.5;
            let mut xs: Vec<f64> = Vec::new();
            for i in 0..pts.len() {
                let (a, b) = (pts[i], pts[(i + 1) % pts.len()]);
                if (a.1 <= cy) != (b.1 <= cy) {
                    xs.push(a.0 + (cy - a.1) / (b.1 - a.1) * (b.0 - a.0));
                }
            }
            xs.sort_by(f64::total_cmp);
            for pair in xs.chunks_exact(2) {
                for x in pair[0].round() as i64..pair[1].round() as i64 {
                    self.blend(x, y, colour, alpha);
                }
            }
        }
    }

    fn text_width(&self, text: &str, size: f64) -> f64 {
        let font = self.font.as_scaled(PxScale::from((size * SCALE) as f32));
        text.chars()
            .map(|c| font.h_advance(font.glyph_id(c)) as f64)
            .sum()
    }

    /// `text` with its baseline at `at` (plot units).
    fn text(&mut self, text: &str, at: (f64, f64), size: f64, anchor: Anchor, colour: [u8; 3]) {
        let width = self.text_width(text, size);
        let mut x = at.0 * SCALE
            - match anchor {
                Anchor::Start => 0.0,
                Anchor::Middle => width / 2.0,
                Anchor::End => width,
            };
        let baseline = at.1 * SCALE;
        let scale = PxScale::from((size * SCALE) as f32);
        let font = self.font.clone();
        let scaled = font.as_scaled(scale);
        for c in text.chars() {
            let id = scaled.glyph_id(c);
            let glyph =
                id.with_scale_and_position(scale, ab_glyph::point(x as f32, baseline as f32));
            if let Some(outlined) = font.outline_glyph(glyph) {
                let bounds = outlined.px_bounds();
                let mut covered = Vec::new();
                outlined.draw(|gx, gy, c| covered.push((gx, gy, c)));
                for (gx, gy, c) in covered {
                    self.blend(
                        bounds.min.x as i64 + gx as i64,
                        bounds.min.y as i64 + gy as i64,
                        colour,
                        c as f64,
                    );
                }
            }
            x += scaled.h_advance(id) as f64;
        }
    }
}

/// The plot `svg_plot` draws, as PNG bytes.
pub fn png_plot(title: &str, x_label: &str, series: &[Series]) -> Result<Vec<u8>> {
    let f = Frame::for_series(series);
    let font = FontRef::try_from_slice(epaint_default_fonts::UBUNTU_LIGHT)
        .map_err(|e| Error::invalid(format!("the plot font cannot be read ({e})")))?;
    let (w, h, m) = (f.width, f.height, f.margin);
    let mut c = Canvas {
        img: RgbImage::from_pixel((w * SCALE) as u32, (h * SCALE) as u32, Rgb([255, 255, 255])),
        font,
    };
    let black = [0, 0, 0];
    c.text(title, (w / 2.0, 18.0), 13.0, Anchor::Middle, black);
    c.line((m, h - m), (w - m, h - m), 1.0, black);
    c.line((m, m), (m, h - m), 1.0, black);
    c.text(x_label, (w / 2.0, h - 12.0), 11.0, Anchor::Middle, black);
    c.text("Dice", (m - 4.0, m - 10.0), 11.0, Anchor::Middle, black);
    for (x, y) in f.ticks() {
        let label = format!("{y:.1}");
        c.text(&label, (m - 4.0, f.py(y) + 4.0), 11.0, Anchor::End, black);
        c.text(
            &f.x_label(x),
            (f.px(x), h - m + 14.0),
            11.0,
            Anchor::Middle,
            black,
        );
    }
    for (i, (name, points, band)) in series.iter().enumerate() {
        let colour = rgb(COLOURS[i % COLOURS.len()]);
        if band.is_empty() {
            let line = sorted_points(points);
            for pair in line.windows(2) {
                let (a, b) = (
                    (f.px(pair[0].0), f.py(pair[0].1)),
                    (f.px(pair[1].0), f.py(pair[1].1)),
                );
                c.line(a, b, 1.5, colour);
            }
        } else {
            let upper = band
                .iter()
                .filter(|b| b.3.is_finite())
                .map(|b| (f.px(b.0), f.py(b.3)));
            let lower = band
                .iter()
                .rev()
                .filter(|b| b.1.is_finite())
                .map(|b| (f.px(b.0), f.py(b.1)));
            let polygon: Vec<(f64, f64)> = upper.chain(lower).collect();
            c.fill(&polygon, colour, 0.15);
            for pair in band.windows(2) {
                let (a, b) = (
                    (f.px(pair[0].0), f.py(pair[0].2)),
                    (f.px(pair[1].0), f.py(pair[1].2)),
                );
                c.line(a, b, 2.0, colour);
            }
        }
        for p in points {
            c.dot((f.px(p.0), f.py(p.1)), 3.0, colour);
        }
        c.text(
            name,
            (w - m - 200.0, m + 14.0 * i as f64),
            11.0,
            Anchor::Start,
            colour,
        );
    }
    let mut bytes = Vec::new();
    image::codecs::png::PngEncoder::new(&mut bytes)
        .write_image(
            c.img.as_raw(),
            c.img.width(),
            c.img.height(),
            image::ExtendedColorType::Rgb8,
        )
        .map_err(|e| Error::invalid(format!("cannot encode a plot as PNG ({e})")))?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plot_draws_its_series_colours_band_and_text() {
        let series: Vec<Series> = vec![(
            "fixed 2d".into(),
            vec![(10.0, 0.5), (20.0, 0.7), (40.0, 0.8)],
            vec![(10.0, 0.4, 0.5, 0.6), (40.0, 0.7, 0.8, 0.9)],
        )];
        let bytes = png_plot("Dice vs budget", "slices", &series).unwrap();
        let img = image::load_from_memory(&bytes).unwrap().to_rgb8();
        assert_eq!((img.width(), img.height()), (960, 600));
        let blue = rgb(COLOURS[0]);
        let count = |pred: &dyn Fn(&Rgb<u8>) -> bool| img.pixels().filter(|p| pred(p)).count();
        // The fitted line and points in the series colour.
        assert!(count(&|p| p.0 == blue) > 200);
        // The band: a light tint of it, between the curve's bounds only.
        let f = Frame::for_series(&series);
        let (x, y) = (f.px(25.0) * SCALE, f.py(0.65) * SCALE);
        let band = img.get_pixel(x as u32, (y - 20.0) as u32);
        assert!(
            band.0 != [255, 255, 255] && band.0[2] > band.0[0],
            "{band:?}"
        );
        let outside = img.get_pixel(x as u32, (f.py(0.2) * SCALE) as u32);
        assert_eq!(outside.0, [255, 255, 255]);
        // Text (title, ticks, labels) in black anti-aliased ink.
        assert!(count(&|p| p.0[0] < 80 && p.0[1] < 80 && p.0[2] < 80) > 500);
    }
}
