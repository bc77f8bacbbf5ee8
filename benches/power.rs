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
use mlconsole::engine::joblog;
use mlconsole::engine::log_search::{Needle, search_page};
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
    if wants("search") {
        search();
    }
    if wants("failure") {
        failure();
    }
}

/// 1 000 job logs of 10k lines each, written once and reused (as the engine lays them
/// out: the job's output files and its index), with one planted line in job 617.
fn search_fixture() -> Vec<(String, std::path::PathBuf)> {
    let root = std::env::temp_dir().join("mlconsole-search-1000x10k");
    let dirs: Vec<(String, std::path::PathBuf)> = (0..1000)
        .rev()
        .map(|j| (format!("train_{j:04}"), root.join(format!("train_{j:04}"))))
        .collect();
    if root.join("complete").exists() {
        return dirs;
    }
    let started = Instant::now();
    for (j, (_, dir)) in dirs.iter().rev().enumerate() {
        std::fs::create_dir_all(dir).unwrap();
        let mut text = String::with_capacity(10_000 * 72);
        for i in 0..10_000 {
            if j == 617 && i == 7_321 {
                text.push_str("checkpoint corrupted: CRC mismatch in shard 3\n");
            } else {
                use std::fmt::Write;
                let _ = writeln!(
                    text,
                    "INFO step {i} loss={:.5} accuracy={:.4} lr=0.00{} throughput={} ex/s",
                    1.0 / (i + 1) as f64,
                    0.5 + i as f64 / 20_000.0,
                    j % 10,
                    9000 + (i * 7) % 1000
                );
            }
        }
        std::fs::write(dir.join(joblog::STDOUT_FILE), text).unwrap();
        let mut log = joblog::JobLog::open(dir).unwrap();
        log.ingest(true).unwrap();
    }
    std::fs::write(root.join("complete"), "").unwrap();
    println!(
        "wrote 1000 job logs × 10k lines in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    dirs
}

fn search() {
    let dirs = search_fixture();
    let bytes: u64 = dirs
        .iter()
        .filter_map(|(_, d)| std::fs::metadata(d.join(joblog::STDOUT_FILE)).ok())
        .map(|m| m.len())
        .sum();
    for (query, case) in [("crc mismatch", "any case"), ("CRC mismatch", "exact case")] {
        let needle = Needle::new(query).unwrap();
        let mut first = Vec::new();
        let mut whole = Vec::new();
        for round in 0..6 {
            let started = Instant::now();
            let mut start = 0;
            let mut first_at = None;
            let mut found = Vec::new();
            while start < dirs.len() {
                let page = search_page(&dirs, start, &needle, 200, 2, Duration::from_millis(200));
                if !page.jobs.is_empty() && first_at.is_none() {
                    first_at = Some(started.elapsed());
                }
                found.extend(page.jobs);
                start = page.next;
            }
            let took = started.elapsed();
            assert_eq!(found.len(), 1);
            assert_eq!(found[0].job_id, "train_0617");
            if round > 0 {
                first.push(first_at.unwrap());
                whole.push(took);
            }
        }
        first.sort();
        whole.sort();
        println!(
            "search, {query:?} ({case}) over 1000 jobs × 10k lines ({:.0} MiB): first results \
             median {:.0} ms (min {:.0}, max {:.0}); whole search median {:.0} ms",
            bytes as f64 / (1 << 20) as f64,
            percentile(&first, 0.5).as_secs_f64() * 1e3,
            first[0].as_secs_f64() * 1e3,
            first.last().unwrap().as_secs_f64() * 1e3,
            percentile(&whole, 0.5).as_secs_f64() * 1e3,
        );
    }
    // A common word: the first page fills from the newest jobs and answers at once.
    let needle = Needle::new("step 5000 ").unwrap();
    let mut times = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        let page = search_page(&dirs, 0, &needle, 200, 2, Duration::from_millis(200));
        times.push(started.elapsed());
        assert!(!page.jobs.is_empty());
    }
    times.sort();
    println!(
        "search, a line in every job: first page (200 matches) median {:.0} ms",
        percentile(&times, 0.5).as_secs_f64() * 1e3
    );
}

/// The backend's work for a failure card: a 1M-line log fed as it streams, then the card.
fn failure() {
    use chrono::DateTime;
    use mlconsole::domain::failure::FailureScan;
    use mlconsole::domain::{LogEntry, LogStream, Severity};
    let pages: Vec<Vec<LogEntry>> = (0..100)
        .map(|p| {
            (0..10_000)
                .map(|i| {
                    let seq = p * 10_000 + i;
                    LogEntry {
                        seq,
                        timestamp: DateTime::from_timestamp(1_700_000_000 + seq as i64, 0).unwrap(),
                        severity: Severity::Info,
                        stream: LogStream::Stdout,
                        text: format!("step {seq} loss={:.5} accuracy=0.9", 1.0 / (seq + 1) as f64),
                    }
                })
                .collect()
        })
        .collect();
    let mut times = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        let mut scan = FailureScan::default();
        for page in &pages {
            scan.feed(page);
        }
        let card = scan.card(Some("The job exited with code 1."), &[]);
        times.push(started.elapsed());
        assert_eq!(card.last_lines.len(), 12);
    }
    times.sort();
    println!(
        "failure card of a 1M-line log (on the backend, as the log streams): median {:.0} ms \
         ({:.2} µs per line)",
        percentile(&times, 0.5).as_secs_f64() * 1e3,
        percentile(&times, 0.5).as_secs_f64() * 1e6 / 1e6
    );
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
