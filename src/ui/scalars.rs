//! The Scalars tab: TensorBoard summaries that jobs write to their job dirs, as charts —
//! one per tag, a line per run, TensorBoard's smoothing, step/relative/wall-time axes,
//! log scale, hover read-out, CSV export, live refresh. Every point is kept; drawing
//! reduces each series to min/max per bucket so charts stay fast.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use egui::{RichText, Ui};

pub use super::chart_render::XAxis;
use super::chart_render::{
    ChartImage, ChartKey, ChartRequest, ChartWorker, HoverLine, RunPoints, Series,
};
use super::log_buffer::LogBuffer;
use super::nav::Nav;
use super::state::Snapshots;
use super::theme;
use crate::backend::{Backend, LogDirSource, PickTarget, Request, Update};
use crate::domain::bucket::{BucketUrl, Location};
use crate::tensorboard::ScalarsByRun;

mod chart;
mod trials;

/// What the Scalars tab asks the app to do.
#[derive(Debug, Clone, PartialEq)]
enum ScalarsAction {
    /// Read this log dir (and keep reading it).
    Watch(LogDirSource),
    /// Let the user pick a folder.
    Pick,
    /// Start TensorBoard on the log dir.
    OpenTensorBoard(Location),
    /// Save this CSV text.
    Save {
        /// Suggested file name.
        file_name: String,
        text: String,
    },
}

#[derive(Default)]
struct RunSeries {
    shown: bool,
    color: usize,
    tags: BTreeMap<String, Series>,
}

/// A chart's image as last drawn, and what it was drawn from.
struct Chart {
    key: ChartKey,
    texture: egui::TextureHandle,
    bounds: [f64; 4],
    /// Each run's reduced smoothed line, for the hover read-out.
    hover: Vec<HoverLine>,
}

/// The Scalars tab's state.
pub struct ScalarsTab {
    dir_text: String,
    /// Why the typed log dir cannot be read (shown next to the box).
    dir_text_error: Option<String>,
    dir: Option<Location>,
    runs: BTreeMap<String, RunSeries>,
    error: Option<String>,
    corrupt_records: u64,
    run_filter: String,
    /// `run_filter` compiled when it changes (never per frame); `None` when empty.
    run_regex: Result<Option<regex::Regex>, String>,
    smoothing: f32,
    x_axis: XAxis,
    log_y: bool,
    /// Shown runs and their tags; `None` when they must be worked out again.
    layout: Option<(Vec<String>, Vec<String>)>,
    /// Changes when the shown runs do (their charts are drawn again).
    runs_revision: u64,
    /// Each tag's chart, as last drawn.
    charts: HashMap<String, Chart>,
    /// Charts asked of the worker and not yet back.
    requested: HashMap<String, ChartKey>,
    /// Charts the user zoomed or panned: the bounds shown.
    views: HashMap<String, [f64; 4]>,
    /// Draws charts off the UI thread; started with the tab's first frame.
    worker: Option<ChartWorker>,
    /// A study's runs named by trial and values.
    trial_names: trials::TrialNames,
    /// The point clicked on a chart: (run, tag, x on the chart's axis).
    clicked_point: Option<(String, String, f64)>,
    /// The point under the pointer this frame, the same way.
    hovered_point: Option<(String, String, f64)>,
    /// When the point last hovered was written: the log strip shows the lines of then.
    hovered_time: Option<chrono::DateTime<chrono::Utc>>,
}

impl Default for ScalarsTab {
    fn default() -> Self {
        ScalarsTab {
            dir_text: String::new(),
            dir_text_error: None,
            dir: None,
            runs: BTreeMap::new(),
            error: None,
            corrupt_records: 0,
            run_filter: String::new(),
            run_regex: Ok(None),
            smoothing: 0.6,
            x_axis: XAxis::Step,
            log_y: false,
            layout: None,
            runs_revision: 0,
            charts: HashMap::new(),
            requested: HashMap::new(),
            views: HashMap::new(),
            worker: None,
            trial_names: trials::TrialNames::default(),
            clicked_point: None,
            hovered_point: None,
            hovered_time: None,
        }
    }
}

impl ScalarsTab {
    /// Starts showing `dir` (its scalars arrive through [`ScalarsTab::add`]).
    pub fn set_dir(&mut self, dir: Location) {
        self.dir_text = dir.to_string();
        self.dir_text_error = None;
        self.dir = Some(dir);
        self.hovered_time = None;
        self.runs.clear();
        self.charts.clear();
        self.requested.clear();
        self.views.clear();
        self.layout_changed();
        self.error = None;
        self.corrupt_records = 0;
    }

    /// The log dir shown.
    pub fn dir(&self) -> Option<&Location> {
        self.dir.as_ref()
    }

    /// Adds new points read from `dir`.
    /// Takes why the watched dir could not be read (its scalars come by value, to
    /// [`ScalarsTab::add`], as they may be millions of points).
    pub fn on_update(&mut self, update: &Update) {
        if let Update::ScalarsFailed { dir, message } = update {
            self.failed(dir, message.clone());
        }
    }

    /// Adds scalars read from `dir`.
    pub fn add(&mut self, dir: &Location, runs: ScalarsByRun, corrupt_records: u64) {
        if self.dir.as_ref() != Some(dir) {
            return;
        }
        self.error = None;
        self.corrupt_records = corrupt_records;
        self.layout_changed();
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
    pub fn failed(&mut self, dir: &Location, message: String) {
        if self.dir.as_ref() == Some(dir) {
            self.error = Some(message);
        }
    }

    /// The shown runs or their tags changed: work them out again, draw charts anew.
    fn layout_changed(&mut self) {
        self.layout = None;
        self.runs_revision += 1;
    }

    /// Takes the charts the worker has drawn.
    fn receive_charts(&mut self, ctx: &egui::Context) {
        let Some(worker) = &self.worker else {
            return;
        };
        while let Some(ChartImage {
            tag,
            key,
            image,
            bounds,
            hover,
        }) = worker.try_recv()
        {
            if self.requested.get(&tag) == Some(&key) {
                self.requested.remove(&tag);
            }
            let options = egui::TextureOptions::LINEAR;
            match self.charts.get_mut(&tag) {
                Some(chart) => {
                    chart.texture.set(image, options);
                    chart.key = key;
                    chart.bounds = bounds;
                    chart.hover = hover;
                }
                None => {
                    let texture = ctx.load_texture(format!("scalars/{tag}"), image, options);
                    self.charts.insert(
                        tag,
                        Chart {
                            key,
                            texture,
                            bounds,
                            hover,
                        },
                    );
                }
            }
        }
    }

    /// Draws the tab and sends its requests; answers where it leads. Opened with a job
    /// selected and nothing loaded, it shows that job's charts.
    pub fn ui(
        &mut self,
        ui: &mut Ui,
        state: &Snapshots,
        backend: &Backend,
        log: &LogBuffer,
    ) -> Vec<Nav> {
        let job_dir = state.selected.as_ref().and_then(|key| {
            let dir = state
                .jobs
                .find(key)?
                .training_input
                .as_ref()?
                .job_dir
                .clone()?;
            // A bucket dir opens anywhere; a folder only where it is on this machine.
            let readable = BucketUrl::is_bucket(&dir)
                || state
                    .connections
                    .capabilities(&key.connection)
                    .local_job_dirs
                    .yes();
            let location = Location::parse(&dir).ok().filter(|_| readable)?;
            Some(LogDirSource {
                location,
                via: Some(key.connection.clone()),
            })
        });
        self.name_trials(state);
        let mut navs = Vec::new();
        if self.dir.is_none()
            && let Some(dir) = &job_dir
        {
            navs.push(Nav::WatchLogDir(dir.clone()));
        }
        // The charts of the selected job's own dir, whose log is followed: the lines
        // written at the hovered point show under them.
        let linked = job_dir
            .as_ref()
            .is_some_and(|d| self.dir.as_ref() == Some(&d.location))
            && log.job() == state.selected.as_ref();
        if linked {
            let at = self.hovered_time.map(around);
            egui::Panel::bottom("scalars_log_at_time")
                .resizable(true)
                .default_size(150.0)
                // Room for the lines from the start: the charts do not jump when a hover fills it.
                .min_size(120.0)
                .show(ui, |ui| {
                    super::log_strip::show(
                        ui,
                        log,
                        at,
                        "Hover a point to read the log lines written then; click it to open them in Logs.",
                        &mut navs,
                    );
                });
        }
        let before = self.hovered_point.take();
        let actions = self.draw(ui, job_dir.as_ref());
        // Its time is looked up when the pointer reaches another point, not every frame
        // (on the step axis that is a walk through the tag's points).
        if self.hovered_point.is_some()
            && self.hovered_point != before
            && let Some(time) = self
                .hovered_point
                .clone()
                .and_then(|(run, tag, x)| self.wall_time_of(&run, &tag, x))
        {
            self.hovered_time = Some(time);
        }
        if let Some(time) = self
            .clicked_point
            .take()
            .and_then(|(run, tag, x)| self.wall_time_of(&run, &tag, x))
        {
            let moment = around(time);
            navs.push(Nav::LogsAt(moment.from, moment.to));
        }
        for action in actions {
            match action {
                ScalarsAction::Watch(dir) => navs.push(Nav::WatchLogDir(dir)),
                ScalarsAction::Pick => backend.send(Request::PickPath {
                    target: PickTarget::LogDir,
                    folder: true,
                }),
                ScalarsAction::OpenTensorBoard(dir) => {
                    backend.send(Request::OpenTensorBoard(dir));
                }
                ScalarsAction::Save { file_name, text } => {
                    backend.send(Request::SaveText { file_name, text });
                }
            }
        }
        navs
    }

    /// When the point at `x` (on the chart's x axis) of `run`'s `tag` was written.
    fn wall_time_of(&self, run: &str, tag: &str, x: f64) -> Option<chrono::DateTime<chrono::Utc>> {
        let points = self.runs.get(run)?.tags.get(tag)?;
        let seconds = match self.x_axis {
            XAxis::Wall => x,
            XAxis::Relative => points.iter().next()?.wall_time + x,
            XAxis::Step => {
                points
                    .iter()
                    .min_by(|a, b| {
                        let (da, db) = ((a.step as f64 - x).abs(), (b.step as f64 - x).abs());
                        da.total_cmp(&db)
                    })?
                    .wall_time
            }
        };
        chrono::DateTime::from_timestamp_micros((seconds * 1e6) as i64)
    }

    fn draw(&mut self, ui: &mut Ui, job_dir: Option<&LogDirSource>) -> Vec<ScalarsAction> {
        let mut actions = Vec::new();
        let dark = ui.visuals().dark_mode;
        if self.worker.is_none() {
            self.worker = Some(ChartWorker::spawn(Some(ui.ctx().clone())));
        }
        self.receive_charts(ui.ctx());
        ui.horizontal(|ui| {
            let edit = egui::TextEdit::singleline(&mut self.dir_text)
                .hint_text(
                    "Log dir: a folder, gs://bucket/dir or s3://bucket/dir (or drop a folder)",
                )
                .desired_width(360.0);
            let response = ui.add(edit);
            response
                .widget_info(|| egui::WidgetInfo::labeled(egui::Role::TextInput, true, "Log dir"));
            let enter = response.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            if (ui.button("Load").clicked() || enter) && !self.dir_text.trim().is_empty() {
                match Location::parse(&self.dir_text) {
                    Ok(location) => {
                        self.dir_text_error = None;
                        actions.push(ScalarsAction::Watch(location.into()));
                    }
                    Err(e) => self.dir_text_error = Some(e.to_string()),
                }
            }
            if ui.button("📂 Choose…").clicked() {
                actions.push(ScalarsAction::Pick);
            }
            if let Some(job_dir) = job_dir
                && ui
                    .button("Use the job's dir")
                    .on_hover_text(job_dir.location.to_string())
                    .clicked()
            {
                actions.push(ScalarsAction::Watch(job_dir.clone()));
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
        if let Some(error) = &self.dir_text_error {
            ui.colored_label(theme::error_color(dark), format!("⚠ {error}"));
        }
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
            self.run_regex = compile_run_filter(&self.run_filter);
            self.layout_changed();
        }
        if let Err(e) = &self.run_regex {
            ui.colored_label(theme::error_color(ui.visuals().dark_mode), e.as_str());
        }
        let regex = self.run_regex.clone();
        let mut toggled = false;
        egui::ScrollArea::vertical()
            .id_salt("runs_scroll")
            .show(ui, |ui| {
                for (name, run) in &mut self.runs {
                    let label = self.trial_names.label(name);
                    if regex
                        .as_ref()
                        .is_ok_and(|r| r.as_ref().is_some_and(|r| !r.is_match(&label)))
                    {
                        continue;
                    }
                    ui.horizontal(|ui| {
                        let (rect, _) =
                            ui.allocate_exact_size(egui::vec2(10.0, 10.0), egui::Sense::hover());
                        ui.painter()
                            .rect_filled(rect, 2.0, theme::series_color(run.color));
                        if ui.checkbox(&mut run.shown, label.as_ref()).changed() {
                            toggled = true;
                        }
                    });
                }
            });
        if toggled {
            self.layout_changed();
        }
    }

    fn shown_runs(&self) -> Vec<&String> {
        let regex = self.run_regex.as_ref().ok().and_then(Option::as_ref);
        self.runs
            .iter()
            .filter(|(name, run)| run.shown && regex.is_none_or(|r| r.is_match(name)))
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
        let Some((shown, tags)) = self.layout.clone() else {
            return;
        };
        // Two charts a row, two rows a screen; the run list on the left is the legend.
        let width = ((ui.available_width() - 24.0) / 2.0).max(280.0);
        let height = ((ui.available_height() - 60.0) / 2.0).max(220.0);
        let pixels = ui.ctx().pixels_per_point();
        egui::ScrollArea::vertical()
            .id_salt("charts_scroll")
            .auto_shrink([false, false])
            .show_rows(ui, height + 36.0, tags.len().div_ceil(2), |ui, rows| {
                for row in rows {
                    ui.horizontal(|ui| {
                        for tag in tags.iter().skip(row * 2).take(2) {
                            // The plot area, inside the axes, in pixels.
                            let size = [
                                ((width - 60.0).max(50.0) * pixels) as usize,
                                ((height - 30.0).max(50.0) * pixels) as usize,
                            ];
                            self.request_chart(tag, &shown, size);
                            ui.allocate_ui(egui::vec2(width, height + 30.0), |ui| {
                                ui.vertical(|ui| {
                                    ui.label(RichText::new(tag).strong());
                                    self.chart(ui, tag, width, height);
                                });
                            });
                        }
                    });
                }
            });
    }

    /// Asks the worker for `tag`'s chart when what it shows has changed and no such
    /// request is on its way.
    fn request_chart(&mut self, tag: &str, shown: &[String], size: [usize; 2]) {
        let points = shown
            .iter()
            .filter_map(|r| self.runs.get(r)?.tags.get(tag))
            .map(Series::len)
            .sum();
        let key = ChartKey {
            points,
            runs_revision: self.runs_revision,
            smoothing: self.smoothing.to_bits(),
            x_axis: self.x_axis,
            log_y: self.log_y,
            size,
            view: self.views.get(tag).copied(),
        };
        let drawn = self.charts.get(tag).is_some_and(|c| c.key == key);
        if drawn || self.requested.get(tag) == Some(&key) {
            return;
        }
        let Some(worker) = &self.worker else {
            return;
        };
        let mut runs = Vec::with_capacity(shown.len());
        for name in shown {
            if let Some(run) = self.runs.get_mut(name)
                && let Some(series) = run.tags.get_mut(tag)
            {
                runs.push(RunPoints {
                    name: name.clone(),
                    color: run.color,
                    chunks: series.snapshot(),
                });
            }
        }
        worker.request(ChartRequest {
            tag: tag.to_owned(),
            key: key.clone(),
            runs,
            smoothing: self.smoothing,
            // With many runs the faint raw lines only hide the smoothed ones.
            draw_raw: shown.len() <= 20,
        });
        self.requested.insert(tag.to_owned(), key);
    }

    /// Every shown point as CSV: run,tag,step,wall_time,value.
    fn csv(&self) -> String {
        let mut text = String::from("run,tag,step,wall_time,value\n");
        for run in self.shown_runs() {
            let Some(series) = self.runs.get(run) else {
                continue;
            };
            for (tag, points) in &series.tags {
                for p in points.iter() {
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

/// The run filter as a regex (bounded in size: it is typed by the user), `None` when empty.
fn compile_run_filter(text: &str) -> Result<Option<regex::Regex>, String> {
    if text.is_empty() {
        return Ok(None);
    }
    regex::RegexBuilder::new(text)
        .size_limit(1 << 20)
        .build()
        .map(Some)
        .map_err(|e| e.to_string())
}

/// The log lines a scalar point stands for: those written within a second of it (a
/// writer flushes its events a little after the step's lines).
fn around(time: chrono::DateTime<chrono::Utc>) -> super::log_strip::Moment {
    super::log_strip::Moment::around(time, chrono::Duration::seconds(1))
}
