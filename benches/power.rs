//! The power-user layer's speed: `cargo bench --bench power [-- palette|search|failure]`.
//!
//! - palette: time to rank 100k jobs (plus the actions) per keystroke while queries are
//!   typed character by character, and to build the entries when the palette opens;
//! - search: a query over the logs of 1 000 jobs × 10k lines on the local engine, time to
//!   the first results and to the end;
//! - failure: reading a 1M-line log for its failure card (the backend's work).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)] // a benchmark may stop on a broken assumption

use std::time::{Duration, Instant};

use mlconsole::domain::{ConnectionId, Job, JobState};
use mlconsole::ui::palette::Palette;
use mlconsole::ui::state::Snapshots;

fn main() {
    let which: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let wants = |name: &str| which.is_empty() || which.iter().any(|w| w == name);
    if wants("palette") {
        palette();
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn palette() {
    const JOBS: usize = 100_000;
    let teams = ["vision", "nlp", "speech", "ranking"];
    let kinds = ["train", "eval", "tune"];
    let jobs: Vec<Job> = (0..JOBS)
        .map(|i| Job {
            job_id: format!(
                "{}_{}_202612{:02}_{i:06}",
                kinds[i % 3],
                teams[(i / 3) % 4],
                1 + i % 28
            ),
            state: JobState::Succeeded,
            ..Job::default()
        })
        .collect();
    let mut state = Snapshots::default();
    state.jobs.replace(&ConnectionId::local(), jobs);
    let mut palette = Palette::default();
    let started = Instant::now();
    palette.open();
    palette.refresh(&state, &[]);
    let build = started.elapsed();

    let queries = [
        "nlp_20261207",
        "042817",
        "tune_vis",
        "cancel",
        "go to res",
        "ranking_eval_0999",
        "trvis99",
    ];
    let mut times = Vec::new();
    let mut first_keys = Vec::new();
    for round in 0..5 {
        for query in queries {
            palette.set_query("");
            for end in 1..=query.len() {
                let started = Instant::now();
                palette.set_query(&query[..end]);
                let took = started.elapsed();
                if round > 0 {
                    times.push(took);
                    if end == 1 {
                        first_keys.push(took);
                    }
                }
            }
        }
    }
    palette.set_query("042817");
    assert!(
        palette
            .shown()
            .first()
            .is_some_and(|l| l.ends_with("_042817"))
    );
    times.sort();
    first_keys.sort();
    println!(
        "palette, {JOBS} jobs: per keystroke median {:.3} ms, p90 {:.3} ms, max {:.3} ms \
         (first key of a query: median {:.3} ms, max {:.3} ms); entries built in {:.1} ms",
        percentile(&times, 0.5).as_secs_f64() * 1e3,
        percentile(&times, 0.9).as_secs_f64() * 1e3,
        times.last().unwrap().as_secs_f64() * 1e3,
        percentile(&first_keys, 0.5).as_secs_f64() * 1e3,
        first_keys.last().unwrap().as_secs_f64() * 1e3,
        build.as_secs_f64() * 1e3
    );
}
