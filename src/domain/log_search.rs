//! One query over the logs of many jobs: what is asked, and the matches grouped by job
//! with their context lines. The local engine answers it from its log files
//! (`POST /v1/projects/local/jobs:searchLogs`), a page of jobs at a time.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::LogEntry;

/// Longest query, in bytes.
pub const MAX_QUERY: usize = 1000;
/// Most context lines before and after a match.
pub const MAX_CONTEXT: u32 = 5;
/// Most matches one page answers (and the default).
pub const MAX_MATCHES: u32 = 1000;

/// What to look for, and where.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LogSearchRequest {
    /// The text to find in a line. Lower case matches any case; a capital letter makes
    /// the search match case exactly.
    pub query: String,
    /// The jobs to search, newest first; empty searches every job.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub job_ids: Vec<String>,
    /// Lines shown before and after each match (at most 5).
    #[serde(default)]
    pub context_lines: u32,
    /// Stop the page once this many matches are found (at most 1000; 0: 200).
    #[serde(default)]
    pub max_matches: u32,
    /// Where the previous page stopped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_token: Option<String>,
}

/// Jobs a platform without a log index searches per page (their logs are read whole).
pub const JOBS_PER_PAGE: usize = 10;
/// Jobs such a platform searches at most when none are named (the newest).
pub const MAX_UNINDEXED_JOBS: usize = 100;

/// The lines of `entries` that hold `query` (smart case: lower case matches any case),
/// each with `context` entries either side, at most `limit` of them; and how many match.
pub fn find_in_entries(
    entries: &[LogEntry],
    query: &str,
    context: usize,
    limit: usize,
) -> (Vec<LogMatch>, u64) {
    let exact = query.chars().any(char::is_uppercase);
    let needle = query.to_lowercase();
    let holds = |text: &str| {
        if exact {
            text.contains(query)
        } else {
            text.to_lowercase().contains(&needle)
        }
    };
    let mut found = Vec::new();
    let mut total = 0;
    for (i, entry) in entries.iter().enumerate() {
        if query.is_empty() || !holds(&entry.text) {
            continue;
        }
        total += 1;
        if found.len() < limit {
            found.push(LogMatch {
                entry: entry.clone(),
                before: entries[i.saturating_sub(context)..i].to_vec(),
                after: entries[i + 1..(i + 1 + context).min(entries.len())].to_vec(),
            });
        }
    }
    (found, total)
}

/// One matching line and the lines around it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LogMatch {
    /// The matching entry.
    pub entry: LogEntry,
    /// Entries just before it, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub before: Vec<LogEntry>,
    /// Entries just after it, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub after: Vec<LogEntry>,
}

/// The matches in one job's log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobMatches {
    /// The job.
    pub job_id: String,
    /// Its matching lines, in log order (the first ones, when it has more).
    pub matches: Vec<LogMatch>,
    /// How many lines of its log match in all.
    pub total: u64,
}

/// A page of results: the jobs scanned in it that matched.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LogSearchPage {
    /// Jobs with matches, in the order searched.
    pub jobs: Vec<JobMatches>,
    /// Jobs searched so far (this page and those before).
    pub searched_jobs: u64,
    /// Jobs to search in all.
    pub total_jobs: u64,
    /// Where to go on; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
}
