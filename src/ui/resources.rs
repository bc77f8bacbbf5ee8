//! The Resources tab: CPU and memory of the selected job over time, live, and of other
//! jobs overlaid to compare them.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use egui::{Color32, RichText, Ui};
use egui_plot::{HoverPosition, Legend, Line, LineStyle, Plot, PlotPoint, PlotPoints, VLine};

use super::format;
use super::log_buffer::LogBuffer;
use super::nav::Nav;
use super::state::Snapshots;
use super::state::jobs::JobList;
use super::theme;
use crate::backend::{Backend, Request, Update};
use crate::domain::{JobKey, ReplicaSeries, ResourceSample};

/// A job's samples, ready to plot (x = seconds since its first sample).
#[derive(Default)]
struct Series {
    origin: Option<DateTime<Utc>>,
    cpu: Vec<PlotPoint>,
    memory: Vec<PlotPoint>,
    /// GPU use and memory, for samples that report them.
    gpu: Vec<PlotPoint>,
    gpu_memory: Vec<PlotPoint>,
    /// The highest CPU, memory, GPU and GPU memory so far (kept as samples come, so the
    /// summary line costs nothing per frame however long the job runs).
    peaks: [f64; 4],
}

impl Series {
    /// Appends samples, measuring time from `origin` (else the first sample).
    fn extend(&mut self, samples: &[ResourceSample], origin: Option<DateTime<Utc>>) {
        for s in samples {
            let origin = *self.origin.get_or_insert(origin.unwrap_or(s.time));
            let x = (s.time - origin).num_milliseconds() as f64 / 1000.0;
            self.cpu.push(PlotPoint::new(x, s.cpu_percent));
            self.memory.push(PlotPoint::new(x, s.memory_bytes as f64));
            if let Some(gpu) = s.gpu_percent {
                self.gpu.push(PlotPoint::new(x, gpu));
            }
            if let Some(memory) = s.gpu_memory_bytes {
                self.gpu_memory.push(PlotPoint::new(x, memory as f64));
            }
            let values = [
                s.cpu_percent,
                s.memory_bytes as f64,
                s.gpu_percent.unwrap_or(0.0),
                s.gpu_memory_bytes.unwrap_or(0) as f64,
            ];
            for (peak, value) in self.peaks.iter_mut().zip(values) {
                *peak = peak.max(value);
            }
        }
    }
}

/// The Resources tab's state.
#[derive(Default)]
pub struct ResourcesTab {
    series: HashMap<JobKey, Series>,
    /// Per replica, for jobs on several machines.
    replicas: HashMap<JobKey, BTreeMap<String, Series>>,
    /// Each GPU a job holds (its totals), for the GPU charts.
    devices: HashMap<JobKey, BTreeMap<String, Series>>,
    /// What the platform says about a job's samples (e.g. no Ray workers).
    notes: HashMap<JobKey, String>,
    /// Jobs overlaid besides the selected one.
    compare: BTreeSet<JobKey>,
    compare_search: String,
    /// Jobs matching `compare_search`, cached with the (list revision, search) they are for.
    candidates: Vec<JobKey>,
    candidates_for: Option<(u64, String)>,
    /// The jobs whose samples the backend is fetching.
    fetching: Vec<JobKey>,
    /// Counts the sets sent; samples of an older set are dropped.
    generation: u64,
    /// A time marked on the charts.
    mark: Option<DateTime<Utc>>,
    /// The time under the pointer on a chart in this frame.
    hovered: Option<DateTime<Utc>>,
    /// The last time the pointer was over a chart (the log strip keeps showing it).
    hovered_last: Option<DateTime<Utc>>,
}

/// Most jobs offered in the compare list at once.
const MAX_CANDIDATES: usize = 500;

impl ResourcesTab {
    /// Adds samples of a job.
    pub fn add_samples(&mut self, job: &JobKey, samples: &[ResourceSample]) {
        let series = self.series.entry(job.clone()).or_default();
        series.extend(samples, None);
    }

    /// Adds samples of each replica of a job on several machines, drawn beside its total.
    pub fn add_replica_samples(&mut self, job: &JobKey, replicas: &[ReplicaSeries]) {
        let origin = self.series.get(job).and_then(|s| s.origin);
        extend_lines(&mut self.replicas, job, replicas, origin);
    }

    /// Adds the samples of each GPU a job holds, drawn beside its own GPU use.
    pub fn add_device_samples(&mut self, job: &JobKey, devices: &[ReplicaSeries]) {
        let origin = self.series.get(job).and_then(|s| s.origin);
        extend_lines(&mut self.devices, job, devices, origin);
        // Devices report GPU use only: no CPU or memory line for them.
        for series in self
            .devices
            .get_mut(job)
            .into_iter()
            .flat_map(|d| d.values_mut())
        {
            series.cpu.clear();
            series.memory.clear();
        }
    }

    /// Marks a time on the charts (a log line's, a failure card's), or none.
    pub fn mark(&mut self, time: Option<DateTime<Utc>>) {
        self.mark = time;
    }

    /// The time under the pointer on a chart this frame, if any.
    pub fn hovered_time(&self) -> Option<DateTime<Utc>> {
        self.hovered
    }

    /// Keeps (or clears) what the platform says about a job's samples.
    pub fn set_note(&mut self, job: &JobKey, note: Option<String>) {
        match note {
            Some(text) => self.notes.insert(job.clone(), text),
            None => self.notes.remove(job),
        };
    }

    /// Takes the samples of the set of jobs last asked for.
    pub fn on_update(&mut self, update: &Update) {
        if let Update::Metrics {
            generation,
            job,
            samples,
            replicas,
            devices,
            note,
        } = update
            && *generation == self.generation
        {
            self.add_samples(job, samples);
            self.add_replica_samples(job, replicas);
            self.add_device_samples(job, devices);
            self.set_note(job, note.clone());
        }
    }

    /// Tells the backend which jobs' samples to fetch, when that set changed (or always
    /// with `force`, e.g. after reconnecting); samples then start over from the first.
    pub fn fetch(&mut self, selected: Option<&JobKey>, backend: &Backend, force: bool) {
        let watched = self.watched(selected);
        if !force && watched == self.fetching {
            return;
        }
        self.clear_samples();
        self.fetching = watched.clone();
        self.generation += 1;
        backend.send(Request::WatchMetrics {
            jobs: watched,
            generation: self.generation,
        });
    }

    /// The jobs whose samples are shown: the selected one first, then those compared.
    pub fn watched(&self, selected: Option<&JobKey>) -> Vec<JobKey> {
        let mut jobs: Vec<JobKey> = selected.cloned().into_iter().collect();
        jobs.extend(
            self.compare
                .iter()
                .filter(|key| Some(*key) != selected)
                .cloned(),
        );
        jobs
    }

    /// Drops every sample: the backend sends each watched job's samples from the start
    /// whenever the watched set is sent again.
    pub fn clear_samples(&mut self) {
        self.series.clear();
        self.replicas.clear();
        self.devices.clear();
        self.notes.clear();
    }

    /// Number of samples held for a job.
    fn sample_count(&self, job: &JobKey) -> usize {
        self.series.get(job).map_or(0, |s| s.cpu.len())
    }

    /// A job's samples in words: now and peak of each, how many over how long, and its
    /// replicas when it runs on several machines.
    fn summary(&self, job: &JobKey) -> Option<String> {
        let series = self.series.get(job)?;
        let (cpu, memory) = (series.cpu.last()?, series.memory.last()?);
        let [cpu_peak, memory_peak, gpu_peak, gpu_memory_peak] = series.peaks;
        let span = cpu.x - series.cpu.first().map_or(cpu.x, |p| p.x);
        let mut text = format!(
            "{}: CPU {:.0} % (peak {:.0} %), memory {} (peak {}); {} samples over {}",
            job.job_id,
            cpu.y,
            cpu_peak,
            format::bytes(memory.y),
            format::bytes(memory_peak),
            series.cpu.len(),
            format::clock_seconds(span),
        );
        if let Some(gpu) = series.gpu.last() {
            text.push_str(&format!("; GPU {:.0} % (peak {:.0} %)", gpu.y, gpu_peak));
        }
        if let Some(gpu_memory) = series.gpu_memory.last() {
            text.push_str(&format!(
                ", GPU memory {} (peak {})",
                format::bytes(gpu_memory.y),
                format::bytes(gpu_memory_peak),
            ));
        }
        if let Some(devices) = self.devices.get(job).filter(|d| !d.is_empty()) {
            let now: Vec<String> = devices
                .iter()
                .filter_map(|(name, s)| {
                    let (percent, memory) = (s.gpu.last()?, s.gpu_memory.last()?);
                    Some(format!(
                        "{name} {:.0} % {}",
                        percent.y,
                        format::bytes(memory.y)
                    ))
                })
                .collect();
            text.push_str(&format!("; devices {}", now.join(", ")));
        }
        if let Some(replicas) = self.replicas.get(job).filter(|r| !r.is_empty()) {
            let names: Vec<&str> = replicas.keys().map(String::as_str).collect();
            text.push_str(&format!("; replicas {}", names.join(", ")));
        }
        Some(text)
    }

    /// Draws the tab, and asks for the samples of the jobs shown when they change.
    pub fn ui(
        &mut self,
        ui: &mut Ui,
        state: &Snapshots,
        backend: &Backend,
        log: &LogBuffer,
    ) -> Vec<Nav> {
        let no_samples = |key: &JobKey| {
            state
                .connections
                .capabilities(&key.connection)
                .resource_samples
                .why_not()
        };
        let mut navs = Vec::new();
        let selected = state.selected.as_ref();
        let sampled = selected
            .and_then(|k| self.series.get(k))
            .is_some_and(|s| s.origin.is_some());
        if sampled && selected.is_some() && log.job() == selected {
            egui::Panel::bottom("log_at_time")
                .resizable(true)
                .default_size(150.0)
                // Room for the lines from the start: the charts do not jump when a hover fills it.
                .min_size(120.0)
                .show(ui, |ui| self.log_strip(ui, log, &mut navs));
        }
        self.hovered = None;
        let clicked = self.draw(ui, &state.jobs, selected, no_samples);
        if clicked.0 {
            self.fetch(selected, backend, false);
        }
        if let Some(time) = clicked.1 {
            let (from, to) = self.span_around(selected, time);
            navs.push(Nav::LogsAt(from, to));
        }
        navs
    }

    /// The span of log lines a point of the charts stands for: half a sampling interval
    /// either side of it.
    fn span_around(
        &self,
        selected: Option<&JobKey>,
        time: DateTime<Utc>,
    ) -> (DateTime<Utc>, DateTime<Utc>) {
        let points = selected.and_then(|k| self.series.get(k)).map(|s| &s.cpu);
        let interval = points.filter(|p| p.len() >= 2).map_or(2.0, |p| {
            let span = p[p.len() - 1].x - p[0].x;
            (span / (p.len() - 1) as f64).clamp(0.2, 60.0)
        });
        let half = chrono::Duration::milliseconds((interval * 500.0) as i64);
        (time - half, time + half)
    }

    /// The selected job's log lines written around the time under the pointer (or the
    /// marked time).
    fn log_strip(&self, ui: &mut Ui, log: &LogBuffer, navs: &mut Vec<Nav>) {
        let at = self.hovered_last.or(self.mark).map(|time| {
            let (from, to) = self.span_around(log.job(), time);
            super::log_strip::Moment { time, from, to }
        });
        super::log_strip::show(
            ui,
            log,
            at,
            "Hover a chart to read the log lines written then; click to open them in Logs.",
            navs,
        );
    }

    /// Draws the tab; `no_samples` says, for a job whose platform takes none, why.
    /// Returns true when the set of watched jobs changed.
    fn draw(
        &mut self,
        ui: &mut Ui,
        list: &JobList,
        selected: Option<&JobKey>,
        no_samples: impl Fn(&JobKey) -> Option<&'static str>,
    ) -> (bool, Option<DateTime<Utc>>) {
        let mut changed = false;
        egui::Panel::right("compare_jobs")
            .resizable(true)
            .default_size(240.0)
            .show(ui, |ui| changed = self.compare_picker(ui, list, selected));
        let watched = self.watched(selected);
        if watched.is_empty() {
            ui.add_space(40.0);
            ui.vertical_centered(|ui| {
                ui.label("Select a job in the Jobs tab, or tick jobs on the right to compare.")
            });
            return (changed, None);
        }
        for key in &watched {
            if let Some(why) = no_samples(key) {
                ui.label(format!("{}: {why}", key.job_id));
            }
            if let Some(note) = self.notes.get(key) {
                ui.label(RichText::new(format!("{}: {note}", key.job_id)).weak());
            }
        }
        let missing: Vec<&JobKey> = watched
            .iter()
            .filter(|key| self.sample_count(key) == 0 && no_samples(key).is_none())
            .collect();
        if !missing.is_empty() {
            let names = missing
                .iter()
                .map(|k| k.job_id.as_str())
                .collect::<Vec<_>>()
                .join(", ");
            let state_of = |key: &&JobKey| list.find(key).map(|j| j.state);
            let still_running = missing
                .iter()
                .any(|key| state_of(key).is_some_and(|s| !s.is_finished()));
            // A queued job (e.g. waiting for a GPU) has no process to sample yet.
            let all_queued = missing
                .iter()
                .all(|key| state_of(key) == Some(crate::domain::JobState::Queued));
            ui.horizontal(|ui| {
                if all_queued {
                    ui.label(format!("{names} has not started yet (QUEUED; its log says what it waits for): samples begin when it runs."));
                } else if still_running {
                    // A spinner animates (and repaints) only while samples can still come.
                    ui.spinner();
                    ui.label(format!("Waiting for samples of {names}: running jobs are sampled every few seconds."));
                } else {
                    ui.label(format!("No samples for {names}: it ran for less than a sampling interval, or before sampling began."));
                }
            });
        }
        for key in &watched {
            if let Some(text) = self.summary(key) {
                ui.label(RichText::new(text).weak());
            }
            // A job on GPUs whose platform reports no GPU use: say so, not a blank.
            let reported = self
                .series
                .get(key)
                .is_some_and(|s| !s.gpu.is_empty() || !s.gpu_memory.is_empty());
            if let Some(asked) = list.find(key).and_then(|j| j.accelerators())
                && !reported
                && self.sample_count(key) > 0
            {
                ui.label(
                    RichText::new(format!(
                        "{}: asked for {} × {}, but no GPU use is reported for it (the platform samples none for this job, or the machine has no GPU driver)",
                        key.job_id, asked.count, asked.kind
                    ))
                    .weak(),
                );
            }
        }
        // The charts scroll rather than spill over the log strip below them.
        let available = ui.available_height();
        let clicked = egui::ScrollArea::vertical()
            .id_salt("resource_charts")
            .auto_shrink([false, false])
            .show(ui, |ui| self.charts(ui, &watched, available))
            .inner;
        (changed, clicked)
    }

    /// The CPU and memory charts (and GPU ones for jobs on GPUs); answers the time of a
    /// point clicked.
    fn charts(&mut self, ui: &mut Ui, watched: &[JobKey], available: f32) -> Option<DateTime<Utc>> {
        let mut clicked = None;
        let on_gpu = watched.iter().any(|k| {
            self.series
                .get(k)
                .is_some_and(|s| !s.gpu.is_empty() || !s.gpu_memory.is_empty())
        });
        let charts = if on_gpu { 4.0 } else { 2.0 };
        let height = ((available - 20.0 * charts) / charts).max(100.0);
        ui.label(RichText::new("CPU (% of one core)").strong());
        let percent = |y: f64| format!("{y:.1} %");
        let origin = watched
            .first()
            .and_then(|k| self.series.get(k))
            .and_then(|s| s.origin);
        let mut take = |x: Option<(f64, bool)>, this: &mut Self| {
            if let (Some((x, click)), Some(origin)) = (x, origin) {
                let time = origin + chrono::Duration::milliseconds((x * 1000.0) as i64);
                this.hovered = Some(time);
                if click {
                    clicked = Some(time);
                }
            }
        };
        let at = self.plot(ui, "cpu_plot", height, watched, |s| &s.cpu, percent);
        take(at, self);
        ui.label(RichText::new("Memory (resident)").strong());
        let at = self.plot(
            ui,
            "memory_plot",
            height,
            watched,
            |s| &s.memory,
            format::bytes,
        );
        take(at, self);
        if on_gpu {
            ui.label(RichText::new("GPU (% of one device)").strong());
            let at = self.plot(ui, "gpu_plot", height, watched, |s| &s.gpu, percent);
            take(at, self);
            ui.label(
                RichText::new("Dotted: each GPU the job holds, all its processes together.")
                    .weak()
                    .small(),
            );
            ui.label(RichText::new("GPU memory").strong());
            let at = self.plot(
                ui,
                "gpu_memory_plot",
                height,
                watched,
                |s| &s.gpu_memory,
                format::bytes,
            );
            take(at, self);
        }
        if self.hovered.is_some() {
            self.hovered_last = self.hovered;
        }
        clicked
    }

    /// One chart over time of the watched jobs' `values`, x axes linked across charts;
    /// answers the x under the pointer and whether it was clicked.
    fn plot(
        &self,
        ui: &mut Ui,
        id: &str,
        height: f32,
        watched: &[JobKey],
        values: impl Fn(&Series) -> &Vec<PlotPoint>,
        unit: fn(f64) -> String,
    ) -> Option<(f64, bool)> {
        let link = egui::Id::unique("resources_x");
        let origin = watched
            .first()
            .and_then(|k| self.series.get(k))
            .and_then(|s| s.origin);
        let mark = self
            .mark
            .zip(origin)
            .map(|(t, o)| (t - o).num_milliseconds() as f64 / 1000.0);
        let response = Plot::new(id)
            .height(height)
            .legend(Legend::default())
            .link_axis(link, [true, false])
            .link_cursor(link, [true, false])
            .x_axis_formatter(|mark, _| format::clock_seconds(mark.value))
            .y_axis_formatter(move |mark, _| unit(mark.value))
            .label_formatter(move |hover| hover_label(hover, unit))
            .include_y(0.0)
            .show(ui, |plot| {
                for (i, key) in watched.iter().enumerate() {
                    if let Some(series) = self.series.get(key) {
                        let points = PlotPoints::Borrowed(values(series));
                        plot.line(
                            Line::new(key.job_id.clone(), points).color(theme::series_color(i)),
                        );
                    }
                    for (name, series) in self.replicas.get(key).into_iter().flatten() {
                        let points = PlotPoints::Borrowed(values(series));
                        plot.line(
                            Line::new(format!("{} {name}", key.job_id), points)
                                .color(theme::series_color(i))
                                .style(LineStyle::dashed_dense())
                                .width(1.0),
                        );
                    }
                    // Devices have GPU samples only: CPU and memory charts draw none.
                    for (name, series) in self.devices.get(key).into_iter().flatten() {
                        let points = values(series);
                        if points.is_empty() {
                            continue;
                        }
                        plot.line(
                            Line::new(
                                format!("{} {name}", key.job_id),
                                PlotPoints::Borrowed(points),
                            )
                            .color(theme::series_color(i))
                            .style(LineStyle::dotted_dense())
                            .width(1.0),
                        );
                    }
                }
                if let Some(x) = mark {
                    plot.vline(
                        VLine::new("marked", x)
                            .color(Color32::from_rgb(255, 170, 0))
                            .width(1.5),
                    );
                }
                plot.pointer_coordinate().map(|p| p.x)
            });
        // The plot knows the pointer's coordinate wherever it is: only over the chart
        // does it point at a time.
        let x = response.inner.filter(|_| response.response.hovered())?;
        Some((x, response.response.clicked()))
    }

    fn compare_picker(&mut self, ui: &mut Ui, list: &JobList, selected: Option<&JobKey>) -> bool {
        let mut changed = false;
        ui.strong("Compare with");
        let search =
            ui.add(egui::TextEdit::singleline(&mut self.compare_search).hint_text("Find jobs"));
        search.widget_info(|| {
            egui::WidgetInfo::labeled(egui::Role::TextInput, true, "Find jobs to compare")
        });
        let key = (list.revision(), self.compare_search.to_ascii_lowercase());
        if self.candidates_for.as_ref() != Some(&key) {
            let mut rows: Vec<(Option<DateTime<Utc>>, &str, usize)> = list
                .all()
                .iter()
                .enumerate()
                .filter(|(_, j)| key.1.is_empty() || j.job_id.to_ascii_lowercase().contains(&key.1))
                .map(|(i, j)| (j.create_time, j.job_id.as_str(), i))
                .collect();
            rows.sort_unstable_by(|a, b| b.cmp(a));
            self.candidates = rows
                .into_iter()
                .take(MAX_CANDIDATES)
                .filter_map(|(_, _, i)| list.key_at(i))
                .collect();
            self.candidates_for = Some(key);
        }
        if !self.compare.is_empty() && ui.small_button("Clear").clicked() {
            self.compare.clear();
            changed = true;
        }
        egui::ScrollArea::vertical()
            .id_salt("compare_list")
            .auto_shrink([false, false])
            .show_rows(ui, 20.0, self.candidates.len(), |ui, rows| {
                for key in &self.candidates[rows] {
                    if Some(key) == selected {
                        ui.label(RichText::new(format!("{} (selected)", key.job_id)).weak());
                        continue;
                    }
                    let mut on = self.compare.contains(key);
                    if ui.checkbox(&mut on, key.job_id.as_str()).changed() {
                        if on {
                            self.compare.insert(key.clone());
                        } else {
                            self.compare.remove(key);
                        }
                        changed = true;
                    }
                }
            });
        changed
    }
}

/// Adds each named series' samples to a job's lines, measured from the job's own time
/// origin so they line up with its total.
fn extend_lines(
    lines: &mut HashMap<JobKey, BTreeMap<String, Series>>,
    job: &JobKey,
    series: &[ReplicaSeries],
    origin: Option<DateTime<Utc>>,
) {
    if series.is_empty() {
        return;
    }
    let lines = lines.entry(job.clone()).or_default();
    for one in series {
        lines
            .entry(one.name.clone())
            .or_default()
            .extend(&one.samples, origin);
    }
}

/// The hover read-out: the series, its time and its value.
fn hover_label(hover: &HoverPosition<'_>, value: impl Fn(f64) -> String) -> Option<String> {
    match hover {
        HoverPosition::NearDataPoint {
            plot_name,
            position,
            ..
        } => Some(format!(
            "{plot_name}\n{} — {}",
            format::clock_seconds(position.x),
            value(position.y)
        )),
        HoverPosition::Elsewhere { .. } => None,
    }
}
