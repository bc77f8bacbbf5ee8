//! Replays the fuzzers' kept inputs on every test run: the seeds in `fuzz/corpus/` and
//! every input a fuzzer crashed on or the hardening issue reported, in
//! `fuzz/regressions/` (see `fuzz/README.md`). Each must pass through its parser
//! without a panic or a stack overflow.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)] // tests: a broken expectation panics

use std::path::Path;

use mlconsole::fuzzing;

/// Every kept input of `target`, as (file name, bytes).
fn kept(target: &str) -> Vec<(String, Vec<u8>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut inputs = Vec::new();
    for kind in ["corpus", "regressions"] {
        let Ok(dir) = std::fs::read_dir(root.join(kind).join(target)) else {
            continue;
        };
        for entry in dir {
            let path = entry.unwrap().path();
            inputs.push((path.display().to_string(), std::fs::read(&path).unwrap()));
        }
    }
    assert!(!inputs.is_empty(), "no kept inputs for {target}");
    inputs
}

/// Runs `each` over the kept inputs on a thread with a small stack (256 KiB, an eighth
/// of a tokio worker's): recursion the limits should have stopped overflows it.
fn replay(target: &str, each: fn(&[u8])) {
    let inputs = kept(target);
    let count = inputs.len();
    let target = target.to_owned();
    std::thread::Builder::new()
        .name("replay".into())
        .stack_size(256 << 10)
        .spawn(move || {
            for (name, bytes) in inputs {
                eprintln!("{target}: {name}");
                each(&bytes);
            }
        })
        .unwrap()
        .join()
        .unwrap_or_else(|_| panic!("a kept input panicked"));
    assert!(count >= 2, "{count} inputs");
}

#[test]
fn filter_inputs_pass() {
    replay("filter", fuzzing::filter_one);
}

#[test]
fn fields_inputs_pass() {
    replay("fields", fuzzing::fields_one);
}

#[test]
fn tfrecord_inputs_pass() {
    replay("tfrecord", fuzzing::tfrecord_one);
}

#[test]
fn instances_inputs_pass() {
    replay("instances", fuzzing::instances_one);
}
