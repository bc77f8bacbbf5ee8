//! The Scalars tab: TensorBoard summaries that jobs write to their job dirs, as charts —
//! one per tag, a line per run, TensorBoard's smoothing, step/relative/wall-time axes,
//! log scale, hover read-out, CSV export, live refresh. Every point is kept; drawing
//! reduces each series to min/max per bucket so charts stay fast.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;

use egui::{RichText, Ui};
use egui_plot::{HoverPosition, Line, Plot, PlotPoint, PlotPoints};

use super::format;
use super::theme;
use crate::tensorboard::{ScalarPoint, ScalarsByRun};

/// What the x axis shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum XAxis {
    /// The training step.
    Step,
    /// Seconds since the run's first point.
    Relative,
    /// The wall clock.
    Wall,
}

/// What the Scalars tab asks the app to do.
#[derive(Debug, Clone, PartialEq)]
pub enum ScalarsAction {
    /// Read this log dir (and keep reading it).
    Watch(PathBuf),
    /// Let the user pick a folder.
    Pick,
    /// Start TensorBoard on the log dir.
    OpenTensorBoard(PathBuf),
    /// Save this CSV text.
    Save {
        /// Suggested file name.
        file_name: String,
        /// The CSV.
        text: String,
    },
}

/// What a drawn series was built from: points, smoothing bits, x axis, log y, buckets.
type DrawnKey = (usize, u32, XAxis, bool, usize);

#[derive(Default)]
struct RunSeries {
    shown: bool,
    color: usize,
    tags: BTreeMap<String, Vec<ScalarPoint>>,
}

/// A series ready to draw, and what it was built from.
struct Drawn {
    built_for: DrawnKey,
    raw: Vec<PlotPoint>,
    smoothed: Vec<PlotPoint>,
}

/// The Scalars tab's state.
pub struct ScalarsTab {
    dir_text: String,
    dir: Option<PathBuf>,
    runs: BTreeMap<String, RunSeries>,
    error: Option<String>,
    corrupt_records: u64,
    run_filter: String,
    smoothing: f32,
    x_axis: XAxis,
    log_y: bool,
    /// Drawn series by run, then tag.
    drawn: HashMap<String, HashMap<String, Drawn>>,
    /// Shown runs and their tags; `None` when they must be worked out again.
    layout: Option<(Vec<String>, Vec<String>)>,
}

impl Default for ScalarsTab {
    fn default() -> Self {
        ScalarsTab {
            dir_text: String::new(),
            dir: None,
            runs: BTreeMap::new(),
            error: None,
            corrupt_records: 0,
            run_filter: String::new(),
            smoothing: 0.6,
            x_axis: XAxis::Step,
            log_y: false,
            drawn: HashMap::new(),
            layout: None,
        }
    }
}

impl ScalarsTab {
    /// Starts showing `dir` (its scalars arrive through [`ScalarsTab::add`]).
    pub fn set_dir(&mut self, dir: PathBuf) {
        self.dir_text = dir.display().to_string();
        self.dir = Some(dir);
        self.runs.clear();
        self.drawn.clear();
        self.layout = None;
        self.error = None;
        self.corrupt_records = 0;
    }

    /// The log dir shown.
    pub fn dir(&self) -> Option<&PathBuf> {
        self.dir.as_ref()
    }

    /// Adds new points read from `dir`.
    pub fn add(&mut self, dir: &PathBuf, runs: ScalarsByRun, corrupt_records: u64) {
        if self.dir.as_ref() != Some(dir) {
            return;
        }
        self.error = None;
        self.corrupt_records = corrupt_records;
        self.layout = None;
        for (run, tags) in runs {
            let next_color = self.runs.len();
            let series = self.runs.entry(run).or_insert_with(|| RunSeries {
                shown: true,
                color: next_color,
                tags: BTreeMap::new(),
            });
            for (tag, points) in tags {
                series.tags.entry(tag).or_default().extend(points);
            }
        }
    }

    /// Shows why reading `dir` failed.
    pub fn failed(&mut self, dir: &PathBuf, message: String) {
        if self.dir.as_ref() == Some(dir) {
            self.error = Some(message);
        }
    }

    /// Number of runs read.
    pub fn run_count(&self) -> usize {
        self.runs.len()
    }

    /// Draws the tab; `job_dir` is the selected job's job dir, if it has one.
    pub fn ui(&mut self, ui: &mut Ui, job_dir: Option<&str>) -> Vec<ScalarsAction> {
        let mut actions = Vec::new();
        let dark = ui.visuals().dark_mode;
        ui.horizontal(|ui| {
            let edit = egui::TextEdit::singleline(&mut self.dir_text)
                .hint_text("Log dir: a folder holding event files (drop one here)")
                .desired_width(360.0);
            let response = ui.add(edit);
            response
                .widget_info(|| egui::WidgetInfo::labeled(egui::Role::TextInput, true, "Log dir"));
            let enter = response.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            if (ui.button("Load").clicked() || enter) && !self.dir_text.trim().is_empty() {
                actions.push(ScalarsAction::Watch(PathBuf::from(self.dir_text.trim())));
            }
            if ui.button("📂 Choose…").clicked() {
                actions.push(ScalarsAction::Pick);
            }
            if let Some(job_dir) = job_dir
                && ui
                    .button("Use the job's dir")
                    .on_hover_text(job_dir)
                    .clicked()
            {
                actions.push(ScalarsAction::Watch(PathBuf::from(job_dir)));
            }
            if let Some(dir) = &self.dir {
                if ui.button("Open in TensorBoard").clicked() {
                    actions.push(ScalarsAction::OpenTensorBoard(dir.clone()));
                }
                if ui.button("💾 Export CSV").clicked() {
                    actions.push(ScalarsAction::Save {
                        file_name: "scalars.csv".into(),
                        text: self.csv(),
                    });
                }
            }
        });
        ui.horizontal(|ui| {
            ui.label("Smoothing");
            ui.add(egui::Slider::new(&mut self.smoothing, 0.0..=0.99));
            ui.separator();
            ui.label("X axis");
            ui.radio_value(&mut self.x_axis, XAxis::Step, "Step");
            ui.radio_value(&mut self.x_axis, XAxis::Relative, "Relative");
            ui.radio_value(&mut self.x_axis, XAxis::Wall, "Wall");
            ui.separator();
            ui.checkbox(&mut self.log_y, "Log scale");
        });
        if let Some(error) = &self.error {
            ui.colored_label(theme::error_color(dark), format!("⚠ {error}"));
        }
        if self.corrupt_records > 0 {
            ui.colored_label(
                theme::state_color(crate::domain::JobState::Cancelling, dark),
                format!("{} corrupt records were skipped.", self.corrupt_records),
            );
        }
        if self.dir.is_none() {
            ui.add_space(40.0);
            ui.vertical_centered(|ui| {
                ui.label("Choose a log dir, use the selected job's job dir, or drop a folder here.")
            });
            return actions;
        }
        if self.runs.is_empty() && self.error.is_none() {
            ui.label("No scalars here yet: every folder holding event files is a run; this refreshes by itself.");
            return actions;
        }
        egui::Panel::left("scalar_runs")
            .resizable(true)
            .default_size(200.0)
            .show(ui, |ui| self.run_list(ui));
        self.charts(ui);
        actions
    }

    fn run_list(&mut self, ui: &mut Ui) {
        ui.strong("Runs");
        let response =
            ui.add(egui::TextEdit::singleline(&mut self.run_filter).hint_text("regex filter"));
        response
            .widget_info(|| egui::WidgetInfo::labeled(egui::Role::TextInput, true, "Filter runs"));
        if response.changed() {
            self.layout = None;
        }
        let regex = regex::Regex::new(&self.run_filter);
        if let Err(e) = &regex {
            ui.colored_label(theme::error_color(ui.visuals().dark_mode), e.to_string());
        }
        let mut toggled = false;
        egui::ScrollArea::vertical()
            .id_salt("runs_scroll")
            .show(ui, |ui| {
                for (name, run) in &mut self.runs {
                    if regex.as_ref().is_ok_and(|r| !r.is_match(name)) {
                        continue;
                    }
                    ui.horizontal(|ui| {
                        let (rect, _) =
                            ui.allocate_exact_size(egui::vec2(10.0, 10.0), egui::Sense::hover());
                        ui.painter()
                            .rect_filled(rect, 2.0, theme::series_color(run.color));
                        if ui.checkbox(&mut run.shown, name.as_str()).changed() {
                            toggled = true;
                        }
                    });
                }
            });
        if toggled {
            self.layout = None;
        }
    }

    fn shown_runs(&self) -> Vec<&String> {
        let regex = regex::Regex::new(&self.run_filter).ok();
        self.runs
            .iter()
            .filter(|(name, run)| run.shown && regex.as_ref().is_none_or(|r| r.is_match(name)))
            .map(|(name, _)| name)
            .collect()
    }

    /// The shown runs and the union of their tags, rebuilt only when runs, toggles or
    /// the filter change: nothing per frame grows with the data.
    fn refresh_layout(&mut self) {
        if self.layout.is_none() {
            let shown: Vec<String> = self.shown_runs().into_iter().cloned().collect();
            let tags: BTreeSet<&String> = shown
                .iter()
                .filter_map(|r| self.runs.get(r))
                .flat_map(|r| r.tags.keys())
                .collect();
            let tags = tags.into_iter().cloned().collect();
            self.layout = Some((shown, tags));
        }
    }

    fn charts(&mut self, ui: &mut Ui) {
        self.refresh_layout();
        let Some((shown, tags)) = &self.layout else {
            return;
        };
        // Two charts a row, two rows a screen; the run list on the left is the legend.
        let width = ((ui.available_width() - 24.0) / 2.0).max(280.0);
        let height = ((ui.available_height() - 60.0) / 2.0).max(220.0);
        // About one bucket per pixel column, fewer when many lines overlap: a chart
        // draws at most ~40k points however many runs are shown.
        let lines = shown.len().max(1);
        let buckets = (width as usize).min(20_000 / lines).clamp(50, 2000);
        // With many runs the faint raw lines only hide the smoothed ones.
        let draw_raw = shown.len() <= 20;
        let settings = (self.smoothing, self.x_axis, self.log_y, buckets);
        let (x_axis, log_y) = (self.x_axis, self.log_y);
        let (runs, drawn) = (&self.runs, &mut self.drawn);
        egui::ScrollArea::vertical()
            .id_salt("charts_scroll")
            .auto_shrink([false, false])
            .show_rows(ui, height + 36.0, tags.len().div_ceil(2), |ui, rows| {
                for row in rows {
                    ui.horizontal(|ui| {
                        for tag in tags.iter().skip(row * 2).take(2) {
                            ensure_drawn(runs, drawn, shown, tag, settings);
                            ui.allocate_ui(egui::vec2(width, height + 30.0), |ui| {
                                ui.vertical(|ui| {
                                    ui.label(RichText::new(tag).strong());
                                    Plot::new(("scalar_chart", tag))
                                        .width(width)
                                        .height(height)
                                        .x_axis_formatter(move |mark, _| {
                                            x_label(mark.value, x_axis)
                                        })
                                        .y_axis_formatter(move |mark, _| y_label(mark.value, log_y))
                                        .label_formatter(move |hover| {
                                            hover_label(hover, x_axis, log_y)
                                        })
                                        .show(ui, |plot| {
                                            for run in shown {
                                                let (Some(series), Some(d)) = (
                                                    runs.get(run),
                                                    drawn.get(run).and_then(|t| t.get(tag)),
                                                ) else {
                                                    continue;
                                                };
                                                let color = theme::series_color(series.color);
                                                if draw_raw {
                                                    let raw = Line::new(
                                                        format!("{run} (raw)"),
                                                        PlotPoints::Borrowed(&d.raw),
                                                    );
                                                    plot.line(
                                                        raw.color(color.gamma_multiply(0.3))
                                                            .allow_hover(false),
                                                    );
                                                }
                                                let smoothed = PlotPoints::Borrowed(&d.smoothed);
                                                plot.line(
                                                    Line::new(run.clone(), smoothed).color(color),
                                                );
                                            }
                                        });
                                });
                            });
                        }
                    });
                }
            });
    }

    /// Every shown point as CSV: run,tag,step,wall_time,value.
    fn csv(&self) -> String {
        let mut text = String::from("run,tag,step,wall_time,value\n");
        for run in self.shown_runs() {
            let Some(series) = self.runs.get(run) else {
                continue;
            };
            for (tag, points) in &series.tags {
                for p in points {
                    text.push_str(&format!(
                        "{run},{tag},{},{},{}\n",
                        p.step, p.wall_time, p.value
                    ));
                }
            }
        }
        text
    }
}

/// Builds (or rebuilds, when data or settings changed) the drawn series of `tag` for
/// every shown run.
fn ensure_drawn(
    runs: &BTreeMap<String, RunSeries>,
    drawn: &mut HashMap<String, HashMap<String, Drawn>>,
    shown: &[String],
    tag: &str,
    (smoothing, x_axis, log_y, buckets): (f32, XAxis, bool, usize),
) {
    for run in shown {
        let Some(points) = runs.get(run).and_then(|r| r.tags.get(tag)) else {
            continue;
        };
        let wanted = (points.len(), smoothing.to_bits(), x_axis, log_y, buckets);
        let per_run = drawn.entry(run.clone()).or_default();
        if per_run.get(tag).is_none_or(|d| d.built_for != wanted) {
            per_run.insert(
                tag.to_owned(),
                build(points, smoothing, x_axis, log_y, wanted),
            );
        }
    }
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

/// Reduces a stream of points to the min and max of each run of `per` points (plus the
/// last point), so a line of a million points draws like one of a few thousand.
struct Reducer {
    per: usize,
    count: usize,
    lo: PlotPoint,
    hi: PlotPoint,
    last: Option<PlotPoint>,
    out: Vec<PlotPoint>,
}

impl Reducer {
    /// A reducer for `len` points into at most `buckets` buckets.
    fn new(len: usize, buckets: usize) -> Reducer {
        let per = if len <= buckets * 2 {
            1
        } else {
            len.div_ceil(buckets)
        };
        let origin = PlotPoint::new(0.0, 0.0);
        Reducer {
            per,
            count: 0,
            lo: origin,
            hi: origin,
            last: None,
            out: Vec::with_capacity(len.min(buckets * 2 + 1)),
        }
    }

    fn push(&mut self, p: PlotPoint) {
        self.last = Some(p);
        if self.per == 1 {
            self.out.push(p);
            return;
        }
        if self.count == 0 {
            (self.lo, self.hi) = (p, p);
        } else if p.y < self.lo.y {
            self.lo = p;
        } else if p.y > self.hi.y {
            self.hi = p;
        }
        self.count += 1;
        if self.count == self.per {
            self.flush();
        }
    }

    fn flush(&mut self) {
        if self.count > 0 {
            let (a, b) = if self.lo.x <= self.hi.x {
                (self.lo, self.hi)
            } else {
                (self.hi, self.lo)
            };
            self.out.extend([a, b]);
            self.count = 0;
        }
    }

    fn finish(mut self) -> Vec<PlotPoint> {
        if self.per > 1 {
            self.flush();
            if let Some(last) = self.last {
                self.out.push(last);
            }
        }
        self.out
    }
}

/// Reduces a series to the min and max of each of at most `buckets` runs of points.
pub fn reduce(points: &[PlotPoint], buckets: usize) -> Vec<PlotPoint> {
    let mut reducer = Reducer::new(points.len(), buckets);
    for p in points {
        reducer.push(*p);
    }
    reducer.finish()
}

/// One pass over a series: x for the axis, y (log10 if asked), smoothed, both reduced.
fn build(
    points: &[ScalarPoint],
    smoothing: f32,
    x_axis: XAxis,
    log_y: bool,
    built_for: DrawnKey,
) -> Drawn {
    let first_wall = points.first().map_or(0.0, |p| p.wall_time);
    let mut raw = Reducer::new(points.len(), built_for.4);
    let mut smoothed = Reducer::new(points.len(), built_for.4);
    let mut smoother = Smoother::new(f64::from(smoothing));
    let y = |v: f64| if log_y { v.log10() } else { v };
    for p in points {
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
    Drawn {
        built_for,
        raw: raw.finish(),
        smoothed: smoothed.finish(),
    }
}

fn x_label(x: f64, axis: XAxis) -> String {
    match axis {
        XAxis::Step => format!("{x:.0}"),
        XAxis::Relative => format::clock_seconds(x),
        XAxis::Wall => chrono::DateTime::from_timestamp(x as i64, 0)
            .map(|t| {
                t.with_timezone(&chrono::Local)
                    .format("%H:%M:%S")
                    .to_string()
            })
            .unwrap_or_default(),
    }
}

fn y_label(y: f64, log_y: bool) -> String {
    let v = if log_y { 10f64.powf(y) } else { y };
    if v != 0.0 && (v.abs() >= 1e5 || v.abs() < 1e-3) {
        format!("{v:.2e}")
    } else {
        format!("{v:.4}")
    }
}

fn hover_label(hover: &HoverPosition<'_>, x_axis: XAxis, log_y: bool) -> Option<String> {
    match hover {
        HoverPosition::NearDataPoint {
            plot_name,
            position,
            ..
        } => Some(format!(
            "{plot_name}\n{} {} — {}",
            match x_axis {
                XAxis::Step => "step",
                XAxis::Relative => "after",
                XAxis::Wall => "at",
            },
            x_label(position.x, x_axis),
            y_label(position.y, log_y)
        )),
        HoverPosition::Elsewhere { .. } => None,
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
    }
}
