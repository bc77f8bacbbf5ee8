//! Tests of `ui/logs`.

use super::*;
use crate::domain::LogEntry;
use chrono::Utc;

fn entry(seq: u64, severity: Severity, text: &str) -> LogEntry {
    LogEntry {
        seq,
        timestamp: Utc::now(),
        severity,
        stream: LogStream::Stdout,
        text: text.into(),
    }
}

#[test]
fn a_line_that_says_its_level_is_not_tagged_twice() {
    assert!(carries_level("INFO:sample_train:epoch 1"));
    assert!(carries_level("WARNING something"));
    assert!(carries_level("[ERROR] failed"));
    assert!(!carries_level("INFORMATION wants to be free"));
    assert!(!carries_level("epoch 1 INFO"));
    assert!(!carries_level("INFO"));
}

#[test]
fn filter_and_search_index_grow_with_new_lines() {
    let mut tab = LogsTab::default();
    tab.reset(Some(JobKey::new(
        &crate::domain::ConnectionId::local(),
        "j",
    )));
    tab.buffer.append(&[
        entry(1, Severity::Info, "loss 0.5"),
        entry(2, Severity::Error, "NaN LOSS"),
    ]);
    tab.set_search("loss");
    assert_eq!(tab.visible_count(), 2);
    assert_eq!(tab.match_count(), 2);
    tab.buffer.append(&[
        entry(3, Severity::Warning, "slow step"),
        entry(4, Severity::Info, "loss 0.4"),
    ]);
    assert_eq!(tab.visible_count(), 4);
    assert_eq!(tab.match_count(), 3);
    tab.min_severity = Severity::Warning;
    assert_eq!(tab.visible_count(), 2);
    assert_eq!(tab.match_count(), 1);
}

#[test]
fn wrapped_rows_split_by_characters() {
    assert_eq!(char_slice("héllo wörld", 0, 5), "héllo");
    assert_eq!(char_slice("héllo wörld", 6, 5), "wörld");
    assert_eq!(char_slice("abc", 3, 5), "");
    let mut tab = LogsTab::default();
    tab.reset(Some(JobKey::new(
        &crate::domain::ConnectionId::local(),
        "j",
    )));
    tab.buffer.append(&[
        entry(1, Severity::Info, &"x".repeat(45)),
        entry(2, Severity::Info, ""),
    ]);
    tab.refresh_index();
    tab.refresh_wrap(20);
    assert_eq!(tab.wrap_starts, [0, 3]);
    assert_eq!(tab.wrap_rows, 4);
}
