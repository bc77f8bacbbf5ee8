//! Scalar charts drawn off the UI thread: a worker builds each chart's series (x axis,
//! log scale, TensorBoard smoothing), reduces them to what the pixels can show (min and
//! max per pixel column), and rasterises the lines into an image (vello_cpu, the
//! rasteriser egui itself uses for glyphs). The UI shows the image in a plot, so a
//! frame costs the same whether a chart holds a hundred points or a million.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, TryRecvError};

use egui::{Color32, ColorImage};
use egui_plot::PlotPoint;
use vello_cpu::kurbo::{BezPath, Stroke};

use super::theme;
use crate::tensorboard::ScalarPoint;

/// What the x axis shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum XAxis {
    /// The training step the point was logged at.
    Step,
    /// Seconds since the run's first point.
    Relative,
    /// The time of day it was logged.
    Wall,
}

/// A run's points of one tag, as immutable chunks shared with the worker (appending
/// never copies what is already there).
#[derive(Debug, Clone, Default)]
pub struct Series {
    chunks: Vec<Arc<Vec<ScalarPoint>>>,
    tail: Vec<ScalarPoint>,
    len: usize,
}

impl Series {
    /// Adds points at the end.
    pub fn extend(&mut self, points: Vec<ScalarPoint>) {
        self.len += points.len();
        if self.tail.is_empty() {
            self.tail = points;
        } else {
            self.tail.extend(points);
        }
    }

    /// Number of points.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True without points.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Every point, in order.
    pub fn iter(&self) -> impl Iterator<Item = &ScalarPoint> {
        self.chunks.iter().flat_map(|c| c.iter()).chain(&self.tail)
    }

    /// The points as shared chunks, for the worker (the tail becomes a chunk; many
    /// small chunks are merged now and then).
    pub fn snapshot(&mut self) -> Vec<Arc<Vec<ScalarPoint>>> {
        if !self.tail.is_empty() {
            // The tail moves into the chunk: no point is copied.
            self.chunks.push(Arc::new(std::mem::take(&mut self.tail)));
        }
        if self.chunks.len() > 32 {
            let all: Vec<ScalarPoint> =
                self.chunks.iter().flat_map(|c| c.iter().copied()).collect();
            self.chunks = vec![Arc::new(all)];
        }
        self.chunks.clone()
    }
}

/// The view a chart shows: the plot bounds, or `None` to fit the data.
pub type View = Option<[f64; 4]>;

/// What a chart is drawn from; a new image is made when it changes.
#[derive(Debug, Clone, PartialEq)]
pub struct ChartKey {
    /// Points of the shown runs of the tag (they only grow), and which runs are shown.
    pub points: usize,
    /// Changes when the shown runs or their colours change.
    pub runs_revision: u64,
    /// Smoothing weight, as bits.
    pub smoothing: u32,
    /// What the x axis measures.
    pub x_axis: XAxis,
    /// Whether y is on a log scale.
    pub log_y: bool,
    /// Image size in pixels.
    pub size: [usize; 2],
    /// Zoomed view, if not fitting the data.
    pub view: View,
}

/// One shown run's points of a chart's tag.
pub struct RunPoints {
    /// The run's name (its folder under the log dir).
    pub name: String,
    /// Its colour's index in the palette (stable per run).
    pub color: usize,
    /// Its points, shared with the tab (not copied) in chunks.
    pub chunks: Vec<Arc<Vec<ScalarPoint>>>,
}

/// A run's line as drawn (reduced), for the hover read-out.
pub struct HoverLine {
    /// The run's name.
    pub run: String,
    /// Its points, by x.
    pub points: Vec<PlotPoint>,
}

/// A request for one chart's image.
pub struct ChartRequest {
    /// The tag (the chart).
    pub tag: String,
    /// What it is drawn from.
    pub key: ChartKey,
    /// The runs drawn, each with its points.
    pub runs: Vec<RunPoints>,
    /// Smoothing weight (0 = raw).
    pub smoothing: f32,
    /// Draw the faint raw lines under the smoothed ones.
    pub draw_raw: bool,
}

/// A chart drawn off the UI thread, ready to upload as a texture.
pub struct ChartImage {
    /// The tag it charts.
    pub tag: String,
    /// What it was drawn from.
    pub key: ChartKey,
    /// The lines, rasterised.
    pub image: ColorImage,
    /// The plot area the image covers: `[min x, min y, max x, max y]`.
    pub bounds: [f64; 4],
    /// Each run's reduced smoothed line, for the hover read-out.
    pub hover: Vec<HoverLine>,
}

/// The UI's end of the chart worker.
pub struct ChartWorker {
    requests: Sender<ChartRequest>,
    images: Receiver<ChartImage>,
}

impl ChartWorker {
    /// Starts the worker; it asks `ctx` to repaint when an image is ready.
    pub fn spawn(ctx: Option<egui::Context>) -> ChartWorker {
        let (requests, inbox) = std::sync::mpsc::channel::<ChartRequest>();
        let (outbox, images) = std::sync::mpsc::channel();
        let started = std::thread::Builder::new()
            .name("chart-render".into())
            .spawn(move || work(&inbox, &outbox, ctx.as_ref()));
        if let Err(e) = started {
            tracing::error!("cannot start the chart worker: {e}");
        }
        ChartWorker { requests, images }
    }

    /// Asks for a chart (the latest request per tag wins).
    pub fn request(&self, request: ChartRequest) {
        let _ = self.requests.send(request);
    }

    /// A finished chart, if any.
    pub fn try_recv(&self) -> Option<ChartImage> {
        self.images.try_recv().ok()
    }
}

fn work(inbox: &Receiver<ChartRequest>, outbox: &Sender<ChartImage>, ctx: Option<&egui::Context>) {
    while let Ok(first) = inbox.recv() {
        // Only the newest request of each chart counts.
        let mut latest: HashMap<String, ChartRequest> = HashMap::new();
        latest.insert(first.tag.clone(), first);
        loop {
            match inbox.try_recv() {
                Ok(next) => {
                    latest.insert(next.tag.clone(), next);
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => return,
            }
        }
        for (_, request) in latest {
            if outbox.send(draw(&request)).is_err() {
                return;
            }
            if let Some(ctx) = ctx {
                ctx.request_repaint();
            }
        }
    }
}

/// One pass over a series: x for the axis, y (log10 if asked), smoothed.
fn build(
    chunks: &[Arc<Vec<ScalarPoint>>],
    smoothing: f32,
    x_axis: XAxis,
    log_y: bool,
) -> (Vec<PlotPoint>, Vec<PlotPoint>) {
    let first_wall = chunks
        .iter()
        .find_map(|c| c.first())
        .map_or(0.0, |p| p.wall_time);
    let len: usize = chunks.iter().map(|c| c.len()).sum();
    let mut raw = Vec::with_capacity(len);
    let mut smoothed = Vec::with_capacity(len);
    let mut smoother = Smoother::new(f64::from(smoothing));
    let y = |v: f64| if log_y { v.log10() } else { v };
    for p in chunks.iter().flat_map(|c| c.iter()) {
        if log_y && p.value <= 0.0 {
            continue;
        }
        let x = match x_axis {
            XAxis::Step => p.step as f64,
            XAxis::Relative => p.wall_time - first_wall,
            XAxis::Wall => p.wall_time,
        };
        let s = smoother.next(p.value);
        raw.push(PlotPoint::new(x, y(p.value)));
        smoothed.push(PlotPoint::new(x, y(s)));
    }
    (raw, smoothed)
}

/// The data's bounds with a margin (a flat series gets some height).
fn fit(series: &[(Vec<PlotPoint>, Vec<PlotPoint>)]) -> [f64; 4] {
    let mut b = [
        f64::INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NEG_INFINITY,
    ];
    for p in series.iter().flat_map(|(raw, _)| raw) {
        if p.x.is_finite() && p.y.is_finite() {
            b = [b[0].min(p.x), b[1].min(p.y), b[2].max(p.x), b[3].max(p.y)];
        }
    }
    if !b[0].is_finite() {
        return [0.0, 0.0, 1.0, 1.0];
    }
    let (w, h) = ((b[2] - b[0]).max(1e-9), (b[3] - b[1]).max(1e-9));
    let (mx, my) = (
        w * 0.03,
        if b[3] - b[1] > 0.0 {
            h * 0.06
        } else {
            b[1].abs().max(1.0) * 0.1
        },
    );
    [b[0] - mx, b[1] - my, b[2] + mx, b[3] + my]
}

/// Draws one chart.
pub fn draw(request: &ChartRequest) -> ChartImage {
    let key = &request.key;
    let built: Vec<(Vec<PlotPoint>, Vec<PlotPoint>)> = request
        .runs
        .iter()
        .map(|run| build(&run.chunks, request.smoothing, key.x_axis, key.log_y))
        .collect();
    let bounds = key.view.unwrap_or_else(|| fit(&built));
    let [w, h] = key.size.map(|v| v.clamp(1, 4096));
    let columns = w;
    let mut ctx = vello_cpu::RenderContext::new(w as u16, h as u16);
    let to_px = |p: &PlotPoint| {
        let x = (p.x - bounds[0]) / (bounds[2] - bounds[0]) * w as f64;
        let y = (1.0 - (p.y - bounds[1]) / (bounds[3] - bounds[1])) * h as f64;
        (x, y)
    };
    let mut hover = Vec::with_capacity(built.len());
    for ((raw, smoothed), run) in built.iter().zip(&request.runs) {
        let color = theme::series_color(run.color);
        if request.draw_raw {
            let faint = color.gamma_multiply(0.3);
            stroke(
                &mut ctx,
                &reduce_visible(raw, bounds, columns),
                &to_px,
                faint,
                1.0,
            );
        }
        let reduced = reduce_visible(smoothed, bounds, columns);
        stroke(&mut ctx, &reduced, &to_px, color, 1.5);
        hover.push(HoverLine {
            run: run.name.clone(),
            points: reduced,
        });
    }
    let mut pixmap = vello_cpu::Pixmap::new(w as u16, h as u16);
    let mut resources = vello_cpu::Resources::new();
    ctx.render(&mut pixmap, &mut resources);
    let pixels = pixmap
        .data_as_u8_slice()
        .chunks_exact(4)
        .map(|px| Color32::from_rgba_premultiplied(px[0], px[1], px[2], px[3]))
        .collect();
    ChartImage {
        tag: request.tag.clone(),
        key: key.clone(),
        image: ColorImage::new([w, h], pixels),
        bounds,
        hover,
    }
}

fn stroke(
    ctx: &mut vello_cpu::RenderContext,
    points: &[PlotPoint],
    to_px: &impl Fn(&PlotPoint) -> (f64, f64),
    color: Color32,
    width: f64,
) {
    if points.is_empty() {
        return;
    }
    let mut path = BezPath::new();
    let mut drawing = false;
    for p in points {
        if !p.y.is_finite() {
            drawing = false;
            continue;
        }
        let (x, y) = to_px(p);
        if drawing {
            path.line_to((x, y));
        } else {
            path.move_to((x, y));
            drawing = true;
        }
    }
    let [r, g, b, a] = color.to_srgba_unmultiplied();
    ctx.set_paint(vello_cpu::color::AlphaColor::<vello_cpu::color::Srgb>::from_rgba8(r, g, b, a));
    ctx.set_stroke(Stroke::new(width));
    ctx.stroke_path(&path);
}

/// The points inside the x range of `bounds` (plus one on each side), reduced to the
/// min and max of each of `columns` pixel columns.
pub fn reduce_visible(points: &[PlotPoint], bounds: [f64; 4], columns: usize) -> Vec<PlotPoint> {
    let start = points
        .partition_point(|p| p.x < bounds[0])
        .saturating_sub(1);
    let end = (points.partition_point(|p| p.x <= bounds[2]) + 1).min(points.len());
    let visible = &points[start.min(end)..end];
    reduce(visible, columns)
}

/// Reduces a series to the min and max of each of at most `buckets` runs of points (and
/// its last point), so a line of a million points draws like one of a few thousand.
pub fn reduce(points: &[PlotPoint], buckets: usize) -> Vec<PlotPoint> {
    let buckets = buckets.max(1);
    if points.len() <= buckets * 2 {
        return points.to_vec();
    }
    let per = points.len().div_ceil(buckets);
    let mut out = Vec::with_capacity(buckets * 2 + 1);
    for chunk in points.chunks(per) {
        let (mut lo, mut hi) = (chunk[0], chunk[0]);
        for p in chunk {
            if p.y < lo.y {
                lo = *p;
            } else if p.y > hi.y {
                hi = *p;
            }
        }
        if lo.x <= hi.x {
            out.extend([lo, hi]);
        } else {
            out.extend([hi, lo]);
        }
    }
    if let Some(last) = points.last() {
        out.push(*last);
    }
    out
}

/// TensorBoard's smoothing: a debiased exponential moving average (weight 0 = raw).
pub fn smooth(values: &[f64], weight: f64) -> Vec<f64> {
    let mut smoother = Smoother::new(weight);
    values.iter().map(|&y| smoother.next(y)).collect()
}

/// The state of TensorBoard's debiased EMA over a series.
struct Smoother {
    weight: f64,
    last: f64,
    /// weight^n, kept as a running product rather than a power per point.
    weight_pow: f64,
}

impl Smoother {
    fn new(weight: f64) -> Smoother {
        Smoother {
            weight,
            last: 0.0,
            weight_pow: 1.0,
        }
    }

    fn next(&mut self, y: f64) -> f64 {
        if !y.is_finite() {
            return y;
        }
        self.last = self.last * self.weight + (1.0 - self.weight) * y;
        // Past ~1e-16 the debias factor is 1; stopping there also keeps the product
        // out of subnormal floats, which are ~100x slower to multiply.
        self.weight_pow = if self.weight_pow < f64::EPSILON {
            0.0
        } else {
            self.weight_pow * self.weight
        };
        let debias = if self.weight == 1.0 {
            1.0
        } else {
            1.0 - self.weight_pow
        };
        self.last / debias
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smoothing_is_tensorboards_debiased_ema() {
        assert_eq!(smooth(&[1.0, 2.0, 3.0], 0.0), [1.0, 2.0, 3.0]);
        let s = smooth(&[1.0, 3.0], 0.5);
        assert!(
            (s[0] - 1.0).abs() < 1e-12,
            "the first point is not pulled towards 0"
        );
        // last = 0.5*0.5 + 0.5*3 = 1.75; debias 1 - 0.25 = 0.75 -> 2.333…
        assert!((s[1] - 1.75 / 0.75).abs() < 1e-12);
        assert!(smooth(&[f64::NAN, 2.0], 0.6)[0].is_nan());
    }

    #[test]
    fn reduction_keeps_extremes_and_ends() {
        let points: Vec<PlotPoint> = (0..100_000)
            .map(|i| PlotPoint::new(i as f64, if i == 51_234 { 9.0 } else { (i % 7) as f64 }))
            .collect();
        let reduced = reduce(&points, 1000);
        assert!(reduced.len() <= 2001);
        assert!(reduced.iter().any(|p| p.y == 9.0), "the spike survives");
        assert_eq!(reduced.last().map(|p| p.x), Some(99_999.0));
        assert!(
            reduced.windows(2).all(|w| w[0].x <= w[1].x),
            "x stays in order"
        );
        let zoomed = reduce_visible(&points, [50_000.0, 0.0, 50_010.0, 9.0], 600);
        assert!(zoomed.len() <= 13 && zoomed.iter().any(|p| p.y == 0.0));
    }

    #[test]
    fn series_share_chunks_and_keep_every_point() {
        let p = |step| ScalarPoint {
            step,
            wall_time: step as f64,
            value: step as f64,
        };
        let mut series = Series::default();
        series.extend(vec![p(0), p(1)]);
        let first = series.snapshot();
        series.extend(vec![p(2)]);
        let second = series.snapshot();
        assert!(
            Arc::ptr_eq(&first[0], &second[0]),
            "old points are not copied"
        );
        assert_eq!(series.len(), 3);
        assert_eq!(series.iter().map(|p| p.step).collect::<Vec<_>>(), [0, 1, 2]);
    }

    #[test]
    fn a_chart_image_shows_its_lines_where_the_data_is() {
        let points: Arc<Vec<ScalarPoint>> = Arc::new(
            (0..1000)
                .map(|i| ScalarPoint {
                    step: i,
                    wall_time: i as f64,
                    value: i as f64,
                })
                .collect(),
        );
        let request = ChartRequest {
            tag: "loss".into(),
            key: ChartKey {
                points: 1000,
                runs_revision: 0,
                smoothing: 0,
                x_axis: XAxis::Step,
                log_y: false,
                size: [200, 100],
                view: None,
            },
            runs: vec![RunPoints {
                name: "run".into(),
                color: 0,
                chunks: vec![points],
            }],
            smoothing: 0.0,
            draw_raw: false,
        };
        let chart = draw(&request);
        assert_eq!(chart.image.size, [200, 100]);
        let alpha = |x: usize, y: usize| chart.image.pixels[y * 200 + x].a();
        // A rising diagonal: ink near bottom-left and top-right, none top-left.
        assert!((90..100).any(|y| (0..12).any(|x| alpha(x, y) > 0)));
        assert!((0..10).any(|y| (188..200).any(|x| alpha(x, y) > 0)));
        assert!((0..20).all(|y| (0..20).all(|x| alpha(x, y) == 0)));
        assert!(chart.bounds[0] < 0.0 && chart.bounds[2] > 999.0);
    }
}
