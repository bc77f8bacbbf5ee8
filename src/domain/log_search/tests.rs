//! The finder gives the same matches however the log is split into pages.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a broken expectation panics

use super::*;

use crate::domain::logs::test_log as log;

fn find(
    entries: &[LogEntry],
    query: &str,
    context: usize,
    limit: usize,
    page: usize,
) -> (Vec<LogMatch>, u64) {
    let mut finder = LogFinder::new(query, context, limit);
    for chunk in entries.chunks(page) {
        finder.feed(chunk);
    }
    finder.finish()
}

fn texts(entries: &[LogEntry]) -> Vec<&str> {
    entries.iter().map(|e| e.text.as_str()).collect()
}

#[test]
fn matches_and_their_context_do_not_depend_on_the_pages() {
    let entries = log(&[
        "start", "loss 0.9", "Loss 0.5", "eval", "loss 0.3", "done", "bye",
    ]);
    let (whole, total) = find(&entries, "loss", 2, 10, entries.len());
    assert_eq!(total, 3, "lower case matches any case");
    assert_eq!(texts(&whole[0].before), ["start"]);
    assert_eq!(
        texts(&whole[0].after),
        ["Loss 0.5", "eval"],
        "a match is context too"
    );
    assert_eq!(texts(&whole[1].before), ["start", "loss 0.9"]);
    assert_eq!(texts(&whole[2].before), ["Loss 0.5", "eval"]);
    assert_eq!(texts(&whole[2].after), ["done", "bye"]);
    for page in [1, 2, 3, 5] {
        assert_eq!(
            find(&entries, "loss", 2, 10, page),
            (whole.clone(), 3),
            "pages of {page}"
        );
    }
}

#[test]
fn a_capital_matches_case_exactly_and_the_limit_keeps_the_first_but_counts_all() {
    let entries = log(&["Loss 1", "loss 2", "Loss 3", "Loss 4"]);
    let (found, total) = find(&entries, "Loss", 0, 2, 3);
    assert_eq!(total, 3);
    assert_eq!(found.len(), 2);
    assert_eq!(found[1].entry.text, "Loss 3");
    assert!(
        found
            .iter()
            .all(|m| m.before.is_empty() && m.after.is_empty())
    );
    assert_eq!(
        find(&entries, "", 1, 10, 4).1,
        0,
        "an empty query finds nothing"
    );
}

#[test]
fn only_the_context_is_held_between_pages() {
    let lines: Vec<String> = (0..10_000).map(|i| format!("step {i}")).collect();
    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    let entries = log(&refs);
    let mut finder = LogFinder::new("step 5000", 3, 50);
    for chunk in entries.chunks(1000) {
        finder.feed(chunk);
        assert!(finder.recent.len() <= 3);
        assert!(finder.open.len() <= 1);
    }
    let (found, total) = finder.finish();
    assert_eq!(total, 1);
    assert_eq!(
        texts(&found[0].before),
        ["step 4997", "step 4998", "step 4999"]
    );
    assert_eq!(
        texts(&found[0].after),
        ["step 5001", "step 5002", "step 5003"]
    );
}

#[test]
fn every_platform_refuses_what_no_search_can_answer() {
    let ok = LogSearchRequest {
        query: "loss".into(),
        context_lines: MAX_CONTEXT,
        ..LogSearchRequest::default()
    };
    assert_eq!(ok.check(), Ok(()));
    for (bad, why) in [
        (String::new(), "give the text to find"),
        ("x".repeat(MAX_QUERY + 1), "at most 1000"),
        ("a\nb".to_owned(), "no line break"),
    ] {
        let request = LogSearchRequest {
            query: bad,
            ..ok.clone()
        };
        assert!(request.check().unwrap_err().contains(why), "{why}");
    }
    let deep = LogSearchRequest {
        context_lines: 9,
        ..ok.clone()
    };
    assert!(deep.check().unwrap_err().contains("contextLines"));
    let many = LogSearchRequest {
        job_ids: vec!["j".into(); MAX_JOB_IDS + 1],
        ..ok
    };
    assert!(many.check().unwrap_err().contains("jobIds"));
}
