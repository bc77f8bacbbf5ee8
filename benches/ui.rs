//! UI benchmark: `cargo bench --bench ui`.
//!
//! CPU time per frame (layout + tessellation, as eframe does before the GPU) of the real
//! console `App` with 100k jobs in the Jobs table and 1M lines in the Logs tab, idle and
//! while scrolling or following; 3 connections × 30k jobs; peak memory with that data;
//! and whether an idle console asks for any repaint at all.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)] // a benchmark may stop on a broken assumption; it reuses the tests' fakes

use std::time::{Duration, Instant};

use chrono::Utc;
use egui::{Event, RawInput, Rect, ViewportId, pos2, vec2};
use mlconsole::backend::{Backend, ConnectionStatus, Update};
use mlconsole::domain::{
    Capabilities, ConnectionConfig, ConnectionId, ConnectionKind, Goal, HyperparameterMetric,
    HyperparameterOutput, HyperparameterSpec, Job, JobKey, JobState, LogEntry, LogStream,
    ParameterSpec, ParameterType, Severity, TRIAL_LABEL, TrainingInput, TrainingOutput,
};
use mlconsole::tensorboard::ScalarPoint;
use mlconsole::ui::{App, Nav, Tab};

const JOBS: usize = 100_000;
const LINES: usize = 1_000_000;

fn main() {
    let before = memory_kib("VmRSS");
    let ctx = egui::Context::default();
    let mut app = App::new(Backend::disconnected());
    let local = ConnectionId::local();
    connect(&mut app, &[ConnectionConfig::local_default()]);
    let started = Instant::now();
    app.apply(Update::JobsReplaced {
        connection: local.clone(),
        jobs: (0..JOBS).map(job).collect(),
    });
    println!(
        "applied {JOBS} jobs in {:.0} ms",
        started.elapsed().as_secs_f64() * 1e3
    );
    let target = JobKey::new(&local, &job(JOBS / 2).job_id);
    app.navigate(Nav::Select(Some(target.clone())));
    let started = Instant::now();
    for chunk in 0..LINES / 10_000 {
        let entries = (chunk * 10_000..(chunk + 1) * 10_000).map(line).collect();
        app.apply(Update::Logs {
            job: target.clone(),
            entries,
            complete: false,
        });
    }
    println!(
        "applied {LINES} log lines in {:.0} ms",
        started.elapsed().as_secs_f64() * 1e3
    );
    let after = memory_kib("VmRSS");
    println!(
        "memory: {:.0} MiB resident with the data (+{:.0} MiB for {JOBS} jobs and {LINES} lines)",
        after as f64 / 1024.0,
        (after - before) as f64 / 1024.0
    );

    let mut frame = Frame::new(ctx);
    frame.settle(&mut app);
    report(
        "Jobs tab, 100k jobs, idle",
        frame.measure(&mut app, 300, |_, _| Vec::new()),
    );
    report(
        "Jobs tab, 100k jobs, scrolling",
        frame.measure(&mut app, 300, |_, i| {
            vec![scroll(if i % 100 < 50 { -60.0 } else { 60.0 })]
        }),
    );
    report(
        "Jobs tab, filter typed (view rebuilt once)",
        frame.measure(&mut app, 5, |app, i| {
            app.navigate(Nav::FilterJobs(
                if i % 2 == 0 {
                    "labels.team=vision"
                } else {
                    "state=FAILED"
                }
                .into(),
            ));
            Vec::new()
        }),
    );
    app.navigate(Nav::FilterJobs("".into()));
    several_connections();
    app.navigate(Nav::Show(Tab::Logs));
    frame.settle(&mut app);
    report(
        "Logs tab, 1M lines, idle",
        frame.measure(&mut app, 300, |_, _| Vec::new()),
    );
    report(
        "Logs tab, 1M lines, scrolling",
        frame.measure(&mut app, 300, |_, i| {
            vec![scroll(if i % 100 < 50 { 80.0 } else { -80.0 })]
        }),
    );
    let mut next = LINES;
    report(
        "Logs tab, following 200 new lines a frame",
        frame.measure(&mut app, 300, |app, _| {
            let entries = (next..next + 200).map(line).collect();
            next += 200;
            app.apply(Update::Logs {
                job: target.clone(),
                entries,
                complete: false,
            });
            Vec::new()
        }),
    );
    app.navigate(Nav::SearchLogs("step 77".into()));
    report(
        "Logs tab, searching 1M lines (first frame rebuilds)",
        frame.measure(&mut app, 3, |_, _| Vec::new()),
    );
    println!(
        "peak memory (VmHWM): {:.0} MiB",
        memory_kib("VmHWM") as f64 / 1024.0
    );

    // Scalars: 100 runs x 10 tags x 10k points.
    let logdir = std::path::PathBuf::from("/bench/logdir");
    app.navigate(Nav::WatchLogDir(logdir.clone().into()));
    let started = Instant::now();
    for r in 0..100 {
        let tags = (0..10)
            .map(|t| {
                let points = (0..10_000)
                    .map(|step| ScalarPoint {
                        step,
                        wall_time: 1.764e9 + step as f64,
                        value: 1.0 / (step + t + r + 1) as f64 + ((step * 7919) % 13) as f64 * 1e-3,
                    })
                    .collect();
                (format!("tag_{t:02}"), points)
            })
            .collect();
        app.apply(Update::Scalars {
            dir: mlconsole::buckets::Location::Local(logdir.clone()),
            runs: vec![(format!("run_{r:03}"), tags)],
            corrupt_records: 0,
        });
    }
    println!(
        "applied 100 runs x 10 tags x 10k scalars in {:.0} ms",
        started.elapsed().as_secs_f64() * 1e3
    );
    report(
        "Scalars tab, 100x10x10k, first frame (asks for the shown charts)",
        frame.measure(&mut app, 1, |_, _| Vec::new()),
    );
    let started = Instant::now();
    frame.until_charts_drawn(&mut app);
    println!(
        "the shown charts were drawn off the UI thread in {:.0} ms",
        started.elapsed().as_secs_f64() * 1e3
    );
    frame.settle(&mut app);
    report(
        "Scalars tab, 100x10x10k, idle",
        frame.measure(&mut app, 300, |_, _| Vec::new()),
    );
    report(
        "Scalars tab, 100x10x10k, scrolling to charts not yet drawn",
        frame.measure(&mut app, 200, |_, i| {
            vec![scroll(if i % 100 < 50 { -120.0 } else { 120.0 })]
        }),
    );
    frame.until_charts_drawn(&mut app);
    // A live run: 1k new points a second on each of its 10 tags, as the log dir watcher
    // delivers them (every 2 s).
    let mut step = 10_000;
    report(
        "Scalars tab, 100x10x10k + a run adding 1k points/s to 10 tags",
        frame.measure(&mut app, 600, |app, i| {
            if i % 120 == 0 {
                let tags = (0..10)
                    .map(|t| {
                        let points = (step..step + 2000)
                            .map(|s| ScalarPoint {
                                step: s,
                                wall_time: 1.764e9 + s as f64,
                                value: 1.0 / (s + t + 1) as f64,
                            })
                            .collect();
                        (format!("tag_{t:02}"), points)
                    })
                    .collect();
                step += 2000;
                app.apply(Update::Scalars {
                    dir: mlconsole::buckets::Location::Local(logdir.clone()),
                    runs: vec![("run_000".into(), tags)],
                    corrupt_records: 0,
                });
            }
            Vec::new()
        }),
    );
    println!(
        "peak memory (VmHWM) with scalars too: {:.0} MiB",
        memory_kib("VmHWM") as f64 / 1024.0
    );

    for tab in Tab::ALL {
        app.navigate(Nav::Show(tab));
        frame.settle(&mut app);
        // Let the pointer come to rest, as it does when the user stops moving it.
        for _ in 0..120 {
            frame.run(&mut app, Vec::new());
        }
        let delay = frame.run(&mut app, Vec::new());
        let frames_in_5s = if delay == Duration::MAX {
            0
        } else {
            (5.0 / delay.as_secs_f64().max(1e-3)).ceil() as u64
        };
        if delay != Duration::MAX {
            println!("  repaint causes: {:?}", frame.ctx.repaint_causes());
        }
        println!(
            "{tab:?} tab idle: next repaint asked for in {delay:?} → {frames_in_5s} frames in 5 s with nothing changing"
        );
    }
    // Last: selecting the study starts another log.
    study_of_a_thousand_trials(&mut app, &mut frame, &local);
}

/// The Jobs tab with 3 connections of 30k jobs each, in a console of its own.
fn several_connections() {
    const PER: usize = 30_000;
    let mut app = App::new(Backend::disconnected());
    let mut list = vec![ConnectionConfig::local_default()];
    for (i, name) in ["ray-lab", "vertex-prod"].into_iter().enumerate() {
        list.push(ConnectionConfig {
            id: ConnectionId::new(name),
            name: name.into(),
            color: [200, 100 + 50 * i as u8, 30],
            read_only: i == 1,
            enabled: true,
            kind: ConnectionKind::Ray {
                dashboard_url: format!("http://10.0.0.{i}:8265"),
                serve_url: None,
            },
        });
    }
    connect(&mut app, &list);
    let started = Instant::now();
    for config in &list {
        app.apply(Update::JobsReplaced {
            connection: config.id.clone(),
            jobs: (0..PER).map(job).collect(),
        });
    }
    println!(
        "applied 3 connections x {PER} jobs in {:.0} ms",
        started.elapsed().as_secs_f64() * 1e3
    );
    let mut frame = Frame::new(egui::Context::default());
    frame.settle(&mut app);
    report(
        "Jobs tab, 3 connections x 30k jobs, idle",
        frame.measure(&mut app, 300, |_, _| Vec::new()),
    );
    report(
        "Jobs tab, 3 connections x 30k jobs, scrolling",
        frame.measure(&mut app, 300, |_, i| {
            vec![scroll(if i % 100 < 50 { -60.0 } else { 60.0 })]
        }),
    );
    report(
        "Jobs tab, 3 x 30k, connection=ray-lab typed",
        frame.measure(&mut app, 5, |app, i| {
            app.navigate(Nav::FilterJobs(
                if i % 2 == 0 {
                    "connection=ray-lab"
                } else {
                    "connection=ray-lab AND state=FAILED"
                }
                .into(),
            ));
            Vec::new()
        }),
    );
    let mut n = PER;
    report(
        "Jobs tab, 3 x 30k, one connection's sync a frame",
        frame.measure(&mut app, 100, |app, _| {
            n += 1;
            app.apply(Update::JobsChanged {
                connection: ConnectionId::new("ray-lab"),
                jobs: vec![job(n)],
            });
            Vec::new()
        }),
    );
}

/// Tells the console about `list`, every one connected.
fn connect(app: &mut App, list: &[ConnectionConfig]) {
    app.apply(Update::Connections {
        list: list.to_vec(),
        secrets_in: "benchmark".into(),
        secret_places: Default::default(),
    });
    for config in list {
        app.apply(Update::Connection {
            connection: config.id.clone(),
            status: ConnectionStatus::Connected {
                description: "benchmark data".into(),
                note: None,
                capabilities: Capabilities::ALL,
            },
        });
    }
}

struct Frame {
    ctx: egui::Context,
    time: f64,
}

impl Frame {
    fn new(ctx: egui::Context) -> Frame {
        Frame { ctx, time: 0.0 }
    }

    /// Runs one frame with `events`; returns the repaint delay egui asks for.
    fn run(&mut self, app: &mut App, events: Vec<Event>) -> Duration {
        self.run_full(app, events)
            .viewport_output
            .get(&ViewportId::ROOT)
            .map_or(Duration::MAX, |v| v.repaint_delay)
    }

    /// Runs one frame with `events`; returns all egui says about it.
    fn run_full(&mut self, app: &mut App, events: Vec<Event>) -> egui::FullOutput {
        self.time += 1.0 / 60.0;
        let input = RawInput {
            screen_rect: Some(Rect::from_min_size(pos2(0.0, 0.0), vec2(1280.0, 800.0))),
            time: Some(self.time),
            events,
            ..Default::default()
        };
        let ctx = self.ctx.clone();
        let mut output = self.ctx.run_ui(input, |ui| {
            app.logic(&ctx);
            app.show(ui);
        });
        let shapes = std::mem::take(&mut output.shapes);
        let primitives = self.ctx.tessellate(shapes, output.pixels_per_point);
        std::hint::black_box(primitives);
        output
    }

    /// Runs frames (as the worker's repaint requests would) until no "Drawing <tag>…"
    /// placeholder is left, read as a screen reader would (AccessKit, on for this only).
    fn until_charts_drawn(&mut self, app: &mut App) {
        let started = Instant::now();
        self.ctx.enable_accesskit();
        while started.elapsed() < Duration::from_secs(60) {
            std::thread::sleep(Duration::from_millis(2));
            let output = self.run_full(app, Vec::new());
            let drawing = output.platform_output.accesskit_update.is_some_and(|tree| {
                tree.nodes
                    .iter()
                    .any(|(_, node)| node.value().is_some_and(|v| v.starts_with("Drawing ")))
            });
            if !drawing {
                break;
            }
        }
        self.ctx.disable_accesskit();
    }

    fn settle(&mut self, app: &mut App) {
        for _ in 0..10 {
            self.run(app, vec![Event::PointerMoved(pos2(640.0, 400.0))]);
        }
    }

    fn measure(
        &mut self,
        app: &mut App,
        frames: usize,
        mut events: impl FnMut(&mut App, usize) -> Vec<Event>,
    ) -> Vec<Duration> {
        (0..frames)
            .map(|i| {
                let events = events(app, i);
                let t = Instant::now();
                self.run(app, events);
                t.elapsed()
            })
            .collect()
    }
}

fn scroll(dy: f32) -> Event {
    Event::MouseWheel {
        unit: egui::MouseWheelUnit::Point,
        delta: vec2(0.0, dy),
        modifiers: egui::Modifiers::NONE,
        phase: egui::TouchPhase::Move,
        source: egui::MouseWheelSource::Wheel,
    }
}

fn report(what: &str, mut times: Vec<Duration>) {
    times.sort();
    let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize].as_secs_f64() * 1e3;
    println!(
        "{what:<52} median {:>6.3} ms  p99 {:>6.3} ms  max {:>7.3} ms  (n={})",
        at(0.5),
        at(0.99),
        at(1.0),
        times.len()
    );
}

fn memory_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// A tuning job with 1 000 trials among the 100k jobs: the Jobs tab folded (trials
/// hidden under their study) and unfolded (→ on the selected study).
fn study_of_a_thousand_trials(app: &mut App, frame: &mut Frame, local: &ConnectionId) {
    const TRIALS: usize = 1_000;
    let mut study = job(JOBS);
    study.job_id = "study".into();
    let mut output = TrainingOutput {
        is_hyperparameter_tuning_job: true,
        hyperparameter_metric_tag: "accuracy".into(),
        ..TrainingOutput::default()
    };
    let mut jobs = Vec::with_capacity(TRIALS + 1);
    for n in 1..=TRIALS {
        let mut trial = job(n);
        trial.job_id = format!("study_trial_{n}");
        trial.labels.insert(TRIAL_LABEL.into(), n.to_string());
        output.trials.push(HyperparameterOutput {
            trial_id: n.to_string(),
            hyperparameters: [
                ("lr".to_owned(), format!("0.{n}")),
                ("layers".to_owned(), (n % 6 + 1).to_string()),
                (
                    "act".to_owned(),
                    ["relu", "tanh", "sigmoid"][n % 3].to_owned(),
                ),
            ]
            .into(),
            final_metric: Some(HyperparameterMetric {
                training_step: 100,
                objective_value: (n % 97) as f64 / 97.0,
            }),
            state: trial.state,
            ..HyperparameterOutput::default()
        });
        jobs.push(trial);
    }
    output.sort_trials(Goal::Maximize);
    if let Some(input) = &mut study.training_input {
        // Three parameters: the details draw the trials table, the objective chart and
        // the parallel coordinates with an axis each.
        let param = |name: &str, kind, min, max, values: &[&str]| ParameterSpec {
            parameter_name: name.into(),
            kind,
            min_value: min,
            max_value: max,
            categorical_values: values.iter().map(|v| (*v).to_owned()).collect(),
            ..ParameterSpec::default()
        };
        input.hyperparameters = Some(Box::new(HyperparameterSpec {
            goal: Goal::Maximize,
            max_trials: TRIALS as i32,
            params: vec![
                param("lr", ParameterType::Double, Some(0.0), Some(1.0), &[]),
                param("layers", ParameterType::Integer, Some(1.0), Some(6.0), &[]),
                param(
                    "act",
                    ParameterType::Categorical,
                    None,
                    None,
                    &["relu", "tanh", "sigmoid"],
                ),
            ],
            ..HyperparameterSpec::default()
        }));
    }
    study.training_output = Some(Box::new(output));
    jobs.push(study);
    app.apply(Update::JobsChanged {
        connection: local.clone(),
        jobs,
    });
    app.navigate(Nav::Select(Some(JobKey::new(local, "study"))));
    app.navigate(Nav::Show(Tab::Jobs));
    frame.settle(app);
    report(
        "Jobs tab, a 1000-trial study folded, idle",
        frame.measure(app, 300, |_, _| Vec::new()),
    );
    frame.run(app, vec![key(egui::Key::ArrowRight)]);
    frame.settle(app);
    report(
        "Jobs tab, a 1000-trial study unfolded, idle",
        frame.measure(app, 300, |_, _| Vec::new()),
    );
    report(
        "Jobs tab, a 1000-trial study unfolded, scrolling",
        frame.measure(app, 300, |_, i| {
            vec![scroll(if i % 100 < 50 { -60.0 } else { 60.0 })]
        }),
    );
    frame.run(app, vec![key(egui::Key::ArrowLeft)]);
}

fn key(key: egui::Key) -> Event {
    Event::Key {
        key,
        physical_key: None,
        pressed: true,
        repeat: false,
        modifiers: egui::Modifiers::NONE,
    }
}

fn job(i: usize) -> Job {
    let states = [JobState::Succeeded, JobState::Failed, JobState::Cancelled];
    let created = Utc::now() - chrono::Duration::seconds((JOBS - i) as i64);
    Job {
        job_id: format!("job_{i:06}"),
        labels: [(
            "team".to_owned(),
            ["vision", "nlp", "speech"][i % 3].to_owned(),
        )]
        .into(),
        training_input: Some(TrainingInput {
            python_module: Some("trainer.task".into()),
            args: vec!["--lr".into(), format!("0.{i}")],
            ..Default::default()
        }),
        create_time: Some(created),
        start_time: Some(created + chrono::Duration::seconds(1)),
        end_time: Some(created + chrono::Duration::seconds(90)),
        update_time: Some(created + chrono::Duration::seconds(90)),
        state: states[i % states.len()],
        ..Default::default()
    }
}

fn line(i: usize) -> LogEntry {
    LogEntry {
        seq: i as u64 + 1,
        timestamp: Utc::now(),
        severity: if i.is_multiple_of(50) {
            Severity::Warning
        } else {
            Severity::Info
        },
        stream: LogStream::Stdout,
        text: format!(
            "INFO:root:step {i} loss {:.5} accuracy {:.4}",
            1.0 / (i + 1) as f64,
            1.0 - 1.0 / (i + 2) as f64
        ),
    }
}
