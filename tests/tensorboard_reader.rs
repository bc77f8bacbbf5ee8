//! The tfevents reader on files written by TensorBoard's own writer (see

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)] // test helpers: a broken expectation panics
//! `tests/fixtures/tfevents/make_fixtures.py`), damaged files, and a growing file.

use std::path::{Path, PathBuf};
use std::process::Command;

use mlconsole::tensorboard::LogDir;
use mlconsole::tensorboard::record::{Framed, read_record};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tfevents")
}

type Row = (String, String, i64, f64, f64);

/// (run, tag, step, wall_time, value) rows of CSV text with a header line.
fn parse_rows(text: &str) -> Vec<Row> {
    text.lines()
        .skip(1)
        .map(|line| {
            let f: Vec<&str> = line.split(',').collect();
            (
                f[0].into(),
                f[1].into(),
                f[2].parse().unwrap(),
                f[3].parse().unwrap(),
                f[4].parse().unwrap(),
            )
        })
        .collect()
}

/// The rows the fixture script wrote.
fn expected() -> Vec<Row> {
    parse_rows(&std::fs::read_to_string(fixtures().join("expected.csv")).unwrap())
}

/// Every scalar of a log dir as sorted rows.
fn rows(logdir: &LogDir) -> Vec<Row> {
    let mut rows = Vec::new();
    for (run, data) in logdir.runs() {
        for (tag, points) in &data.tags {
            for p in points {
                rows.push((run.clone(), tag.clone(), p.step, p.wall_time, p.value));
            }
        }
    }
    rows.sort_by(|a, b| (&a.0, &a.1, a.2).cmp(&(&b.0, &b.1, b.2)));
    rows
}

fn sorted(mut rows: Vec<Row>) -> Vec<Row> {
    rows.sort_by(|a, b| (&a.0, &a.1, a.2).cmp(&(&b.0, &b.1, b.2)));
    rows
}

/// A copy of the fixture runs in a temp dir, to damage.
fn copy_fixtures() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    for run in ["run_tf1", "run_tf2/train"] {
        let from = fixtures().join(run);
        let to = tmp.path().join(run);
        std::fs::create_dir_all(&to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
    let tf1 = std::fs::read_dir(tmp.path().join("run_tf1"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    (tmp, tf1)
}

#[test]
fn tensorboard_writer_files_decode_to_the_same_values() {
    let mut logdir = LogDir::new(fixtures());
    let added = logdir.refresh().unwrap();
    let want = sorted(expected());
    assert_eq!(added as usize, want.len());
    assert_eq!(
        rows(&logdir),
        want,
        "TF1 simple_value and TF2 float/double/int32/int64 tensors"
    );
    assert_eq!(logdir.problems().corrupt_records, 0);
    let runs: Vec<&String> = logdir.runs().keys().collect();
    assert_eq!(
        runs,
        ["run_tf1", "run_tf2/train"],
        "several runs share one log dir"
    );
    assert_eq!(logdir.refresh().unwrap(), 0, "nothing new on a second read");
}

#[test]
fn a_corrupt_record_is_skipped_and_counted() {
    let (tmp, tf1) = copy_fixtures();
    let mut bytes = std::fs::read(&tf1).unwrap();
    // Damage a payload byte of the 11th record (each record after the first holds one scalar).
    let mut at = 0;
    for _ in 0..10 {
        let Framed::Record { next, .. } = read_record(&bytes, at) else {
            panic!("the fixture frames cleanly");
        };
        at = next;
    }
    bytes[at + 14] ^= 0x55;
    std::fs::write(&tf1, &bytes).unwrap();
    let mut logdir = LogDir::new(tmp.path());
    let added = logdir.refresh().unwrap() as usize;
    assert_eq!(logdir.problems().corrupt_records, 1);
    assert_eq!(logdir.problems().broken_files, 0);
    assert_eq!(
        added,
        expected().len() - 1,
        "only the damaged record is lost"
    );
}

#[test]
fn a_damaged_length_stops_that_file_only() {
    let (tmp, tf1) = copy_fixtures();
    let mut bytes = std::fs::read(&tf1).unwrap();
    bytes[0] ^= 1; // the first record's length
    std::fs::write(&tf1, &bytes).unwrap();
    let mut logdir = LogDir::new(tmp.path());
    logdir.refresh().unwrap();
    assert_eq!(logdir.problems().broken_files, 1);
    assert!(logdir.runs()["run_tf1"].tags.is_empty());
    assert_eq!(
        logdir.runs()["run_tf2/train"].tags.len(),
        4,
        "the other run reads whole"
    );
}

#[test]
fn a_growing_file_is_read_on_from_where_it_stopped() {
    let (tmp, tf1) = copy_fixtures();
    let full = std::fs::read(&tf1).unwrap();
    // The writer has got half-way through a record.
    let cut = full.len() - 20;
    std::fs::write(&tf1, &full[..cut]).unwrap();
    let mut logdir = LogDir::new(tmp.path());
    let first = logdir.refresh().unwrap();
    assert_eq!(
        logdir.problems().corrupt_records,
        0,
        "an unfinished record is not corrupt"
    );
    std::fs::write(&tf1, &full).unwrap();
    let second = logdir.refresh().unwrap();
    assert_eq!(second, 1, "the record finished since is read, once");
    assert_eq!(first + second, expected().len() as u64);
    assert_eq!(rows(&logdir), sorted(expected()));
}

#[test]
fn the_scalars_command_prints_every_value() {
    let out = Command::new(env!("CARGO_BIN_EXE_mlconsole"))
        .args(["scalars", "--csv"])
        .arg(fixtures())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let printed = sorted(parse_rows(&text));
    assert_eq!(printed, sorted(expected()));
    assert!(text.starts_with("run,tag,step,wall_time,value\n"));

    let missing = Command::new(env!("CARGO_BIN_EXE_mlconsole"))
        .args(["scalars", "/no/such/logdir"])
        .output()
        .unwrap();
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("is not a folder"));
}
