//! The RGBA image of one slice: window/level, labels (filled with an opacity, or outlined) and
//! the plan (planned slices as lines across the other planes' views, a border on a planned
//! slice, risky interpolation gaps tinted). One pass over the slice's voxels, no whole-volume
//! work: scrolling a 512×512×300 CT costs one slice per frame.

use std::ops::Range;

use super::frame::{DisplayFrame, ViewAxis};
use super::window::Window;
use crate::io::{Sample, Volume};

/// What is drawn over the grey levels.
#[derive(Debug, Clone, Copy)]
pub enum LabelLayer<'a> {
    /// Nothing.
    None,
    /// A label map on the image's grid.
    Volume(&'a Volume),
    /// Label values on the image's grid in its voxel order (an interpolation preview).
    Mask(&'a [u16]),
}

/// The plan, as the view draws it.
#[derive(Debug, Clone, Copy, Default)]
pub struct PlanMarks<'a> {
    /// The voxel axis the plan's slices are taken along.
    pub axis: usize,
    /// Planned slice indices along `axis`.
    pub slices: &'a [usize],
    /// Gaps (first, last slice along `axis`) whose interpolation carries a risk flag.
    pub risky: &'a [(usize, usize)],
}

/// How labels are drawn.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RenderOptions {
    pub window: Window,
    /// 0 = labels hidden, 1 = opaque.
    pub label_opacity: f32,
    /// Draw each label's outline instead of filling it.
    pub outline: bool,
}

/// An RGBA image, rows top to bottom: one word per pixel whose bytes in memory are R, G, B, A.
#[derive(Debug, Clone, PartialEq)]
pub struct SliceImage {
    pub width: usize,
    pub height: usize,
    pub pixels: Vec<u32>,
}

impl SliceImage {
    /// The pixel at (x, y).
    pub fn pixel(&self, x: usize, y: usize) -> [u8; 4] {
        self.pixels[y * self.width + x].to_ne_bytes()
    }

    /// The image as RGBA bytes (no copy).
    pub fn rgba(&self) -> &[u8] {
        bytemuck::cast_slice(&self.pixels)
    }
}

pub use crate::palette::label_color;

const PLANNED: [u8; 3] = [255, 200, 0];
const RISKY: [u8; 3] = [255, 100, 0];

/// (first voxel offset, signed step) of walking `axis` on screen.
fn walk(axis: &ViewAxis, stride: usize) -> (isize, isize) {
    if axis.flipped {
        (((axis.len - 1) * stride) as isize, -(stride as isize))
    } else {
        (0, stride as isize)
    }
}

/// The voxel offsets of the slice's pixels are `base + x0 + x·dx + y0 + y·dy`.
struct Walk {
    base: isize,
    x0: isize,
    dx: isize,
    y0: isize,
    dy: isize,
}

impl Walk {
    fn new(shape: [usize; 3], frame: &DisplayFrame, slice: usize) -> Walk {
        let strides = [1, shape[0], shape[0] * shape[1]];
        let (x0, dx) = walk(&frame.across, strides[frame.across.voxel_axis]);
        let (y0, dy) = walk(&frame.down, strides[frame.down.voxel_axis]);
        Walk {
            base: (slice * strides[frame.slice_axis]) as isize,
            x0,
            dx,
            y0,
            dy,
        }
    }

    #[inline]
    fn row(&self, y: usize) -> isize {
        self.base + self.y0 + y as isize * self.dy + self.x0
    }
}

fn blend(px: &mut [u8], color: [u8; 3], alpha: f32) {
    for c in 0..3 {
        px[c] = (px[c] as f32 * (1.0 - alpha) + color[c] as f32 * alpha + 0.5) as u8;
    }
}

/// Calls `f(x, voxel)` for every pixel of row `y`, walking the voxels in screen order: plain
/// slices where the row runs along memory (forwards or backwards), strided reads otherwise.
#[inline(always)]
fn for_row<T: Copy>(v: &[T], walk: &Walk, y: usize, width: usize, mut f: impl FnMut(usize, T)) {
    let start = walk.row(y);
    match walk.dx {
        1 => {
            let s = start as usize;
            for (x, &t) in v[s..s + width].iter().enumerate() {
                f(x, t);
            }
        }
        -1 => {
            let s = start as usize;
            for (x, &t) in v[s + 1 - width..=s].iter().rev().enumerate() {
                f(x, t);
            }
        }
        dx => {
            for x in 0..width {
                f(x, v[(start + x as isize * dx) as usize]);
            }
        }
    }
}

/// Grey levels `value·a + b` of rows `rows` as opaque RGBA words (`out` holds those rows).
fn grey_pixels<T: Sample>(
    v: &[T],
    walk: &Walk,
    width: usize,
    rows: Range<usize>,
    a: f32,
    b: f32,
    out: &mut [u32],
) {
    let first = rows.start;
    for y in rows {
        let row = &mut out[(y - first) * width..(y - first + 1) * width];
        for_row(v, walk, y, width, |x, t| {
            let g = (t.to_f32() * a + b).clamp(0.0, 255.0) as u8;
            row[x] = u32::from_ne_bytes([g, g, g, 255]);
        });
    }
}

/// The label a stored value stands for: scaled (unless `plain`), rounded, clamped to u16
/// (negative values are background).
#[inline(always)]
fn label_of(value: f32, plain: bool, slope: f32, inter: f32) -> u16 {
    let f = if plain { value } else { value * slope + inter };
    f.round().clamp(0.0, 65535.0) as u16
}

/// Label values (scaled, rounded, clamped to u16) of rows `rows` (`out` holds those rows).
fn label_pixels<T: Sample>(
    v: &[T],
    walk: &Walk,
    width: usize,
    rows: Range<usize>,
    slope: f32,
    inter: f32,
    out: &mut [u16],
) {
    let plain = slope == 1.0 && inter == 0.0;
    let first = rows.start;
    for y in rows {
        let row = &mut out[(y - first) * width..(y - first + 1) * width];
        for_row(v, walk, y, width, |x, t| {
            row[x] = label_of(t.to_f32(), plain, slope, inter);
        });
    }
}

/// Slice `slice` of `image` in `frame`'s layout, with `labels` and the plan drawn over it.
pub fn render_slice(
    image: &Volume,
    labels: LabelLayer,
    frame: &DisplayFrame,
    slice: usize,
    options: &RenderOptions,
    plan: &PlanMarks,
) -> SliceImage {
    let (width, height) = (frame.width(), frame.height());
    let walk = Walk::new(image.shape, frame, slice);
    let mut words = vec![0u32; width * height];
    // Grey = (value·slope + inter − lo)·255/width, folded into one multiply-add.
    let (slope, inter) = image.scaling.unwrap_or((1.0, 0.0));
    let scale = 255.0 / options.window.width;
    let a = slope as f32 * scale;
    let b = (inter as f32 - options.window.lo()) * scale + 0.5;
    let fill = options.label_opacity > 0.0 && !options.outline;
    let outline = options.label_opacity > 0.0 && options.outline;
    let blend = LabelBlend::new(options.label_opacity);
    // Outlines need every pixel's label first (their neighbours'), gathered with the greys.
    let mut values = if outline && has_labels(labels, image.shape) {
        vec![0u16; width * height]
    } else {
        Vec::new()
    };
    let paint = |rows: Range<usize>, out: &mut [u32], values: &mut [u16]| {
        crate::with_voxels!(&image.data, v => grey_pixels(v, &walk, width, rows.clone(), a, b, out));
        if fill {
            fill_labels(out, labels, image.shape, &walk, width, rows, blend);
        } else if !values.is_empty() {
            label_values(labels, &walk, width, rows, values);
        }
    };
    // A slice across memory (sagittal, mostly) waits on a cache miss per voxel: two threads
    // keep twice the misses in flight. Slices along memory are one pass on one thread.
    let threads = if walk.dx.abs() > 1 && width * height >= 1 << 15 {
        std::thread::available_parallelism().map_or(1, |n| n.get().min(4))
    } else {
        1
    };
    if threads > 1 {
        let rows_each = height.div_ceil(threads);
        let mut value_chunks: Vec<&mut [u16]> = if values.is_empty() {
            (0..threads).map(|_| &mut [][..]).collect()
        } else {
            values.chunks_mut(rows_each * width).collect()
        };
        std::thread::scope(|scope| {
            for (i, (chunk, vals)) in words
                .chunks_mut(rows_each * width)
                .zip(value_chunks.iter_mut())
                .enumerate()
            {
                let rows = i * rows_each..(i * rows_each + chunk.len() / width);
                let paint = &paint;
                scope.spawn(move || paint(rows, chunk, vals));
            }
        });
    } else {
        paint(0..height, &mut words, &mut values);
    }
    if !values.is_empty() {
        draw_outlines(&mut words, &values, width, height, blend);
    }
    draw_plan(bytemuck::cast_slice_mut(&mut words), frame, slice, plan);
    SliceImage {
        width,
        height,
        pixels: words,
    }
}

/// Whether `labels` can be drawn on an image of `shape`.
fn has_labels(labels: LabelLayer, shape: [usize; 3]) -> bool {
    match labels {
        LabelLayer::None => false,
        LabelLayer::Volume(l) => l.shape == shape,
        LabelLayer::Mask(m) => m.len() == shape.iter().product::<usize>(),
    }
}

/// The label value of every pixel of rows `rows` (`out` holds those rows).
fn label_values(
    labels: LabelLayer,
    walk: &Walk,
    width: usize,
    rows: Range<usize>,
    out: &mut [u16],
) {
    match labels {
        LabelLayer::None => {}
        LabelLayer::Volume(l) => {
            let (slope, inter) = l.scaling.unwrap_or((1.0, 0.0));
            crate::with_voxels!(&l.data, v => label_pixels(v, walk, width, rows, slope as f32, inter as f32, out));
        }
        LabelLayer::Mask(m) => {
            let first = rows.start;
            for y in rows {
                let row = &mut out[(y - first) * width..(y - first + 1) * width];
                for_row(m, walk, y, width, |x, t| row[x] = t);
            }
        }
    }
}

/// Label colours blended at an opacity, in 8-bit fixed point.
#[derive(Clone, Copy)]
struct LabelBlend {
    alpha: u32,
    last: (u16, [u32; 3]),
}

impl LabelBlend {
    fn new(opacity: f32) -> Self {
        LabelBlend {
            alpha: (opacity.clamp(0.0, 1.0) * 256.0).round() as u32,
            last: (0, [0; 3]),
        }
    }

    #[inline]
    fn apply(&mut self, word: &mut u32, label: u16) {
        if self.last.0 != label {
            let c = label_color(label);
            self.last = (label, c.map(|c| c as u32 * self.alpha + 128));
        }
        let keep = 256 - self.alpha;
        let [r, g, b, a] = word.to_ne_bytes();
        let mix = |v: u8, c: u32| ((v as u32 * keep + c) >> 8) as u8;
        *word = u32::from_ne_bytes([
            mix(r, self.last.1[0]),
            mix(g, self.last.1[1]),
            mix(b, self.last.1[2]),
            a,
        ]);
    }
}

/// Blends every labelled pixel of rows `rows` (`words` holds those rows), reading the labels
/// in the same walk as the grey levels.
fn fill_labels(
    words: &mut [u32],
    labels: LabelLayer,
    shape: [usize; 3],
    walk: &Walk,
    width: usize,
    rows: Range<usize>,
    mut blend: LabelBlend,
) {
    let first = rows.start;
    match labels {
        LabelLayer::Volume(l) if l.shape == shape => {
            let (slope, inter) = l.scaling.unwrap_or((1.0, 0.0));
            let plain = slope == 1.0 && inter == 0.0;
            let (slope, inter) = (slope as f32, inter as f32);
            crate::with_voxels!(&l.data, v => {
                for y in rows.clone() {
                    let row = &mut words[(y - first) * width..(y - first + 1) * width];
                    for_row(v, walk, y, width, |x, t| {
                        let l = label_of(t.to_f32(), plain, slope, inter);
                        if l != 0 {
                            blend.apply(&mut row[x], l);
                        }
                    });
                }
            });
        }
        LabelLayer::Mask(m) if m.len() == shape.iter().product::<usize>() => {
            for y in rows {
                let row = &mut words[(y - first) * width..(y - first + 1) * width];
                for_row(m, walk, y, width, |x, t| {
                    if t != 0 {
                        blend.apply(&mut row[x], t);
                    }
                });
            }
        }
        _ => {}
    }
}

/// Blends each label's edge pixels (a pixel whose 4-neighbour has another value, or on the
/// image border).
fn draw_outlines(
    words: &mut [u32],
    values: &[u16],
    width: usize,
    height: usize,
    mut blend: LabelBlend,
) {
    for y in 0..height {
        for x in 0..width {
            let l = values[y * width + x];
            if l == 0 {
                continue;
            }
            let differs = |nx: usize, ny: usize| values[ny * width + nx] != l;
            let edge = x == 0
                || y == 0
                || x + 1 == width
                || y + 1 == height
                || differs(x - 1, y)
                || differs(x + 1, y)
                || differs(x, y - 1)
                || differs(x, y + 1);
            if edge {
                blend.apply(&mut words[y * width + x], l);
            }
        }
    }
}

fn draw_plan(rgba: &mut [u8], frame: &DisplayFrame, slice: usize, plan: &PlanMarks) {
    let (width, height) = (frame.width(), frame.height());
    let in_risky = |s: usize| plan.risky.iter().any(|&(a, b)| a <= s && s <= b);
    let mut row = |y: usize, color: [u8; 3], alpha: f32| {
        for px in rgba[y * width * 4..(y + 1) * width * 4].chunks_exact_mut(4) {
            blend(px, color, alpha);
        }
    };
    if plan.axis == frame.down.voxel_axis {
        for y in 0..height {
            let s = frame.down.voxel(y);
            if in_risky(s) {
                row(y, RISKY, 0.18);
            }
        }
        for &s in plan.slices.iter().filter(|&&s| s < height) {
            row(frame.down.screen(s), PLANNED, 0.75);
        }
        return;
    }
    let mut col = |x: usize, color: [u8; 3], alpha: f32| {
        for y in 0..height {
            let i = (y * width + x) * 4;
            blend(&mut rgba[i..i + 3], color, alpha);
        }
    };
    if plan.axis == frame.across.voxel_axis {
        for x in 0..width {
            if in_risky(frame.across.voxel(x)) {
                col(x, RISKY, 0.18);
            }
        }
        for &s in plan.slices.iter().filter(|&&s| s < width) {
            col(frame.across.screen(s), PLANNED, 0.75);
        }
        return;
    }
    // The view shows the plan's own slices: a border on a planned one, orange in a risky gap.
    let color = if plan.slices.contains(&slice) {
        Some(PLANNED)
    } else if in_risky(slice) {
        Some(RISKY)
    } else {
        None
    };
    if let Some(color) = color {
        let t = 2.min(height).min(width);
        for y in 0..height {
            for x in 0..width {
                if x < t || y < t || x + t >= width || y + t >= height {
                    let i = (y * width + x) * 4;
                    rgba[i..i + 3].copy_from_slice(&color);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::geometry::IDENTITY;
    use crate::io::{Plane, VoxelData};

    /// A 6×5×4 RAS volume whose value is 100·i + 10·j + k, and labels 1 where i ≥ 3.
    fn volume() -> (Volume, Volume) {
        let shape = [6, 5, 4];
        let mut data = Vec::new();
        let mut labels = Vec::new();
        for k in 0..4 {
            for j in 0..5 {
                for i in 0..6 {
                    data.push((100 * i + 10 * j + k) as i16);
                    labels.push(u8::from(i >= 3));
                }
            }
        }
        let image = Volume::new(shape, [1.0; 3], IDENTITY, VoxelData::I16(data));
        let labels = image.derived(VoxelData::U8(labels));
        (image, labels)
    }

    fn options() -> RenderOptions {
        RenderOptions {
            window: Window::from_range(0.0, 1000.0),
            label_opacity: 0.0,
            outline: false,
        }
    }

    #[test]
    fn pixels_show_the_voxels_of_the_frame() {
        let (image, _) = volume();
        for plane in Plane::ALL {
            let f = DisplayFrame::new(&image.world_from_voxel, image.shape, [1.0; 3], plane);
            let img = render_slice(
                &image,
                LabelLayer::None,
                &f,
                2,
                &options(),
                &PlanMarks::default(),
            );
            assert_eq!(img.rgba().len(), f.width() * f.height() * 4);
            for y in 0..f.height() {
                for x in 0..f.width() {
                    let [i, j, k] = f.voxel(2, x, y);
                    let v = (100 * i + 10 * j + k) as f32;
                    assert_eq!(
                        img.pixel(x, y)[0],
                        options().window.grey(v),
                        "{plane:?} {x} {y}"
                    );
                }
            }
        }
    }

    #[test]
    fn labels_fill_or_outline_and_the_plan_is_drawn() {
        let (image, labels) = volume();
        let f = DisplayFrame::new(&image.world_from_voxel, image.shape, [1.0; 3], Plane::Axial);
        let plain = render_slice(
            &image,
            LabelLayer::None,
            &f,
            1,
            &options(),
            &PlanMarks::default(),
        );
        let filled = render_slice(
            &image,
            LabelLayer::Volume(&labels),
            &f,
            1,
            &RenderOptions {
                label_opacity: 0.5,
                ..options()
            },
            &PlanMarks::default(),
        );
        let outlined = render_slice(
            &image,
            LabelLayer::Volume(&labels),
            &f,
            1,
            &RenderOptions {
                label_opacity: 0.5,
                outline: true,
                ..options()
            },
            &PlanMarks::default(),
        );
        // Axial: screen x runs toward the patient's left, so voxels i ≥ 3 are on the left.
        for y in 0..f.height() {
            for x in 0..f.width() {
                let labelled = f.voxel(1, x, y)[0] >= 3;
                assert_eq!(filled.pixel(x, y) != plain.pixel(x, y), labelled, "{x} {y}");
                // Inside the label (not on its edge or the image border) the outline leaves
                // the grey alone.
                let interior = labelled && x == 1 && (1..f.height() - 1).contains(&y);
                if interior {
                    assert_eq!(outlined.pixel(x, y), plain.pixel(x, y));
                }
            }
        }
        // Planned axial slices are rows on the coronal view (superior at the top).
        let c = DisplayFrame::new(
            &image.world_from_voxel,
            image.shape,
            [1.0; 3],
            Plane::Coronal,
        );
        let marks = PlanMarks {
            axis: 2,
            slices: &[1],
            risky: &[],
        };
        let img = render_slice(&image, LabelLayer::None, &c, 0, &options(), &marks);
        let plain = render_slice(
            &image,
            LabelLayer::None,
            &c,
            0,
            &options(),
            &PlanMarks::default(),
        );
        for y in 0..c.height() {
            let marked = img.pixel(0, y) != plain.pixel(0, y);
            assert_eq!(marked, c.down.voxel(y) == 1, "row {y}");
        }
        // On the axial view, a planned slice gets a border.
        let a = render_slice(&image, LabelLayer::None, &f, 1, &options(), &marks);
        assert_eq!(&a.pixel(0, 0)[..3], &PLANNED);
        let b = render_slice(&image, LabelLayer::None, &f, 2, &options(), &marks);
        assert_ne!(&b.pixel(0, 0)[..3], &PLANNED);
    }
}
