//! One query over the logs of many jobs: what is asked, and the matches grouped by job
//! with their context lines. The local engine answers it from its log files
//! (`POST /v1/projects/local/jobs:searchLogs`), a page of jobs at a time.

use std::collections::VecDeque;

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

/// Most jobs one search names.
pub const MAX_JOB_IDS: usize = 100_000;

impl LogSearchRequest {
    /// Refuses what no platform searches: an empty or too long query, one with a line
    /// break, too much context, too many matches or jobs.
    pub fn check(&self) -> Result<(), String> {
        check_query(&self.query)?;
        if self.context_lines > MAX_CONTEXT {
            return Err(format!(
                "contextLines must be from 0 to {MAX_CONTEXT}, not {}",
                self.context_lines
            ));
        }
        if self.max_matches > MAX_MATCHES {
            return Err(format!(
                "maxMatches must be from 1 to {MAX_MATCHES}, not {}",
                self.max_matches
            ));
        }
        if self.job_ids.len() > MAX_JOB_IDS {
            return Err(format!(
                "jobIds names {} jobs; at most {MAX_JOB_IDS}",
                self.job_ids.len()
            ));
        }
        Ok(())
    }
}

/// Refuses a query no line can hold: empty, longer than [`MAX_QUERY`], or with a line
/// break.
pub fn check_query(query: &str) -> Result<(), String> {
    if query.is_empty() {
        return Err("query: give the text to find".into());
    }
    if query.len() > MAX_QUERY {
        return Err(format!(
            "query is {} bytes; at most {MAX_QUERY}",
            query.len()
        ));
    }
    if query.contains('\n') {
        return Err("query: a line holds no line break; give one line of text".into());
    }
    Ok(())
}

/// Jobs a platform without a log index searches per page (their logs are read whole).
pub const JOBS_PER_PAGE: usize = 10;
/// Jobs such a platform searches at most when none are named (the newest).
pub const MAX_UNINDEXED_JOBS: usize = 100;

/// Finds `query` in a log fed a page at a time (smart case: lower case matches any
/// case), each match with up to `context` entries either side and at most `limit` kept.
/// Only the last `context` entries are held between pages, however long the log.
pub struct LogFinder {
    query: String,
    needle: String,
    exact: bool,
    context: usize,
    limit: usize,
    recent: VecDeque<LogEntry>,
    /// The line being scanned, lower-cased (one buffer for the whole log).
    lower: String,
    /// Matches still taking their `after` lines, oldest first (indices into `found`).
    open: VecDeque<usize>,
    found: Vec<LogMatch>,
    total: u64,
}

impl LogFinder {
    /// A finder of `query` with `context` lines either side, keeping `limit` matches.
    pub fn new(query: &str, context: usize, limit: usize) -> LogFinder {
        LogFinder {
            query: query.to_owned(),
            needle: query.to_lowercase(),
            exact: query.chars().any(char::is_uppercase),
            context,
            limit,
            recent: VecDeque::with_capacity(context + 1),
            lower: String::new(),
            open: VecDeque::new(),
            found: Vec::new(),
            total: 0,
        }
    }

    fn holds(&mut self, text: &str) -> bool {
        if self.query.is_empty() {
            false
        } else if self.exact {
            text.contains(&self.query)
        } else {
            self.lower.clear();
            self.lower.extend(text.chars().flat_map(char::to_lowercase));
            self.lower.contains(&self.needle)
        }
    }

    /// Scans the next entries of the log.
    pub fn feed(&mut self, entries: &[LogEntry]) {
        for entry in entries {
            for &i in &self.open {
                self.found[i].after.push(entry.clone());
            }
            while let Some(&i) = self.open.front()
                && self.found[i].after.len() >= self.context
            {
                self.open.pop_front();
            }
            if self.holds(&entry.text) {
                self.total += 1;
                if self.found.len() < self.limit {
                    self.found.push(LogMatch {
                        entry: entry.clone(),
                        before: self.recent.iter().cloned().collect(),
                        after: Vec::new(),
                    });
                    if self.context > 0 {
                        self.open.push_back(self.found.len() - 1);
                    }
                }
            }
            if self.context > 0 {
                if self.recent.len() == self.context {
                    self.recent.pop_front();
                }
                self.recent.push_back(entry.clone());
            }
        }
    }

    /// The matches kept, in log order, and how many lines matched in all.
    pub fn finish(self) -> (Vec<LogMatch>, u64) {
        (self.found, self.total)
    }
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

#[cfg(test)]
mod tests;
