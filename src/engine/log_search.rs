//! Search across the logs of many jobs: each job's output files are read whole and
//! scanned with a SIMD substring search (`memchr::memmem`, or a case-insensitive
//! literal regex), on every core, a batch of jobs at a time; only the lines found are
//! looked up in the jobs' indexes. A page stops at its match budget or time budget, so
//! the first results come back while the rest are still to search.

use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use memchr::memmem;
use regex::bytes::{Regex, RegexBuilder};

use super::joblog;
use crate::domain::LogStream;
use crate::domain::log_search::{JobMatches, LogMatch};

/// Matches shown per job (the rest are counted).
pub const SHOWN_PER_JOB: usize = 50;
/// Jobs searched between two looks at the budgets.
const BATCH: usize = 64;

/// What a search looks for.
pub enum Needle {
    /// Exactly these bytes (the query has a capital letter).
    Exact(Box<memmem::Finder<'static>>),
    /// These letters in any case.
    AnyCase(Regex),
}

impl Needle {
    /// The needle for a query: smart case, as editors search.
    pub fn new(query: &str) -> Result<Needle, String> {
        crate::domain::log_search::check_query(query)?;
        if query.chars().any(char::is_uppercase) {
            return Ok(Needle::Exact(Box::new(
                memmem::Finder::new(query.as_bytes()).into_owned(),
            )));
        }
        RegexBuilder::new(&regex::escape(query))
            .case_insensitive(true)
            .build()
            .map(Needle::AnyCase)
            .map_err(|e| format!("query: {e}"))
    }

    fn find(&self, haystack: &[u8], from: usize) -> Option<usize> {
        let rest = haystack.get(from..)?;
        match self {
            Needle::Exact(f) => f.find(rest).map(|i| from + i),
            Needle::AnyCase(r) => r.find(rest).map(|m| from + m.start()),
        }
    }
}

/// One job's hits: the first line starts found per stream, and how many lines match.
struct Found {
    starts: Vec<(LogStream, u64)>,
    total: u64,
}

/// Bytes read from a log file at a time: a search holds at most this (plus the line it
/// ends in) per thread, however large the file.
const CHUNK: usize = 8 << 20;
/// A line longer than this is searched in pieces (the engine's index splits such lines).
const LONGEST_LINE: usize = 1 << 20;

/// Scans one job's output files for lines holding the needle, a chunk at a time.
fn scan_job(dir: &Path, needle: &Needle, buf: &mut Vec<u8>) -> io::Result<Found> {
    let mut found = Found {
        starts: Vec::new(),
        total: 0,
    };
    for (stream, path) in joblog::stream_files(dir) {
        let mut file = match std::fs::File::open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        buf.clear();
        // File offset of buf[0]; buf holds whole lines plus the start of the next.
        let mut base = 0u64;
        loop {
            let before = buf.len();
            let read = (&mut file).take(CHUNK as u64).read_to_end(buf)?;
            let at_end = read == 0;
            // Search up to the last line break (all of it at the end of the file, or
            // when a single line has grown past LONGEST_LINE).
            let whole = match memchr::memrchr(b'\n', &buf[before.min(buf.len())..]) {
                _ if at_end => buf.len(),
                Some(i) => before + i + 1,
                None if buf.len() > LONGEST_LINE => buf.len(),
                None => continue,
            };
            scan_lines(&buf[..whole], base, stream, needle, &mut found);
            buf.drain(..whole);
            base += whole as u64;
            if at_end {
                break;
            }
        }
    }
    Ok(found)
}

/// Counts the lines of `text` (whole lines, starting at file offset `base`) holding the
/// needle and keeps the first ones' starts.
fn scan_lines(text: &[u8], base: u64, stream: LogStream, needle: &Needle, found: &mut Found) {
    let mut from = 0;
    while let Some(at) = needle.find(text, from) {
        let start = memchr::memrchr(b'\n', &text[..at]).map_or(0, |i| i + 1);
        let end = memchr::memchr(b'\n', &text[at..]).map_or(text.len(), |i| at + i);
        found.total += 1;
        if found.starts.len() < SHOWN_PER_JOB {
            found.starts.push((stream, base + start as u64));
        }
        from = end + 1;
    }
}

/// What one page of a search found, and the position of the first job not searched.
pub struct Page {
    /// Jobs with matches, in the order of `dirs`.
    pub jobs: Vec<JobMatches>,
    /// Index in `dirs` of the next job to search (`dirs.len()` when done).
    pub next: usize,
}

/// Searches `dirs` (each a job id and its log's folder) from `start`, on every core,
/// until `max_matches` lines were found or `budget` passed (after one batch at least).
pub fn search_page(
    dirs: &[(String, PathBuf)],
    start: usize,
    needle: &Needle,
    max_matches: usize,
    context: usize,
    budget: Duration,
) -> Page {
    let began = Instant::now();
    let threads = std::thread::available_parallelism()
        .map_or(1, std::num::NonZeroUsize::get)
        .clamp(1, 8);
    let mut jobs = Vec::new();
    let mut matched = 0usize;
    let mut next = start.min(dirs.len());
    while next < dirs.len() {
        let batch = &dirs[next..(next + BATCH * threads).min(dirs.len())];
        let per_thread = batch.len().div_ceil(threads);
        let results: Vec<(usize, Found)> = std::thread::scope(|scope| {
            let handles: Vec<_> = batch
                .chunks(per_thread)
                .enumerate()
                .map(|(chunk, part)| {
                    scope.spawn(move || {
                        let mut buf = Vec::with_capacity(1 << 20);
                        part.iter()
                            .enumerate()
                            .filter_map(|(i, (_, dir))| {
                                let found = scan_job(dir, needle, &mut buf).ok()?;
                                (found.total > 0).then_some((chunk * per_thread + i, found))
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap_or_default())
                .collect()
        });
        for (i, found) in results {
            let (id, dir) = &batch[i];
            let matches = with_context(dir, &found.starts, context);
            matched += matches.len();
            jobs.push(JobMatches {
                job_id: id.clone(),
                matches,
                total: found.total,
            });
        }
        next += batch.len();
        if matched >= max_matches || began.elapsed() >= budget {
            break;
        }
    }
    Page { jobs, next }
}

/// The entries starting at `starts` with `context` entries either side.
fn with_context(dir: &Path, starts: &[(LogStream, u64)], context: usize) -> Vec<LogMatch> {
    let Ok(seqs) = joblog::seqs_at(dir, starts) else {
        return Vec::new();
    };
    seqs.into_iter()
        .filter_map(|seq| {
            let first = seq.saturating_sub(context as u64 + 1);
            let entries = joblog::read_entries(dir, first, 2 * context + 1).ok()?;
            let at = entries.iter().position(|e| e.seq == seq)?;
            let (before, rest) = entries.split_at(at);
            let (entry, after) = rest.split_first()?;
            Some(LogMatch {
                entry: entry.clone(),
                before: before.to_vec(),
                after: after.to_vec(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Severity;
    use crate::engine::joblog::JobLog;

    fn texts(matches: &[LogMatch]) -> Vec<&str> {
        matches.iter().map(|m| m.entry.text.as_str()).collect()
    }

    fn job_with(dir: &Path, lines: &[&str]) {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join(joblog::STDOUT_FILE), lines.join("\n") + "\n").unwrap();
        let mut log = JobLog::open(dir).unwrap();
        log.append_engine(Severity::Info, "Job started.").unwrap();
        log.ingest(true).unwrap();
    }

    #[test]
    fn finds_lines_across_jobs_with_context_in_order_smart_case() {
        let root = tempfile::tempdir().unwrap();
        let mut dirs = Vec::new();
        for j in 0..5 {
            let dir = root.path().join(format!("job{j}"));
            let lines: Vec<String> = (0..100)
                .map(|i| match (j, i) {
                    (3, 40) => "ERROR CUDA out of memory".to_owned(),
                    (3, 70) => "warning: cuda is slow".to_owned(),
                    _ => format!("step {i} loss=0.{i}"),
                })
                .collect();
            let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
            job_with(&dir, &refs);
            dirs.push((format!("job{j}"), dir));
        }
        let needle = Needle::new("cuda").unwrap();
        let page = search_page(&dirs, 0, &needle, 100, 2, Duration::from_secs(5));
        assert_eq!(page.next, 5);
        assert_eq!(page.jobs.len(), 1);
        let job = &page.jobs[0];
        assert_eq!(job.job_id, "job3");
        assert_eq!(job.total, 2);
        assert_eq!(
            texts(&job.matches),
            ["ERROR CUDA out of memory", "warning: cuda is slow"]
        );
        let m = &job.matches[0];
        assert_eq!(
            m.before.iter().map(|e| e.text.as_str()).collect::<Vec<_>>(),
            ["step 38 loss=0.38", "step 39 loss=0.39"]
        );
        assert_eq!(m.after.len(), 2);
        assert_eq!(m.after[0].seq, m.entry.seq + 1);

        let exact = Needle::new("CUDA").unwrap();
        let page = search_page(&dirs, 0, &exact, 100, 0, Duration::from_secs(5));
        assert_eq!(texts(&page.jobs[0].matches), ["ERROR CUDA out of memory"]);

        // The engine's notes are searched too.
        let page = search_page(
            &dirs,
            0,
            &Needle::new("job started").unwrap(),
            100,
            0,
            Duration::from_secs(5),
        );
        assert_eq!(page.jobs.len(), 5);
        assert_eq!(texts(&page.jobs[0].matches), ["Job started."]);
    }

    #[test]
    fn a_log_larger_than_a_chunk_is_searched_across_chunk_boundaries() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("big");
        // ~20 MiB: three chunks; the planted lines sit on both sides of the boundaries.
        let filler = "x".repeat(99);
        let mut lines: Vec<String> = (0..200_000).map(|i| format!("{i:06} {filler}")).collect();
        for at in [0, 83_885, 83_886, 167_772, 199_999] {
            lines[at] = format!("planted needle at {at}");
        }
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        job_with(&dir, &refs);
        let dirs = vec![("big".to_owned(), dir)];
        let page = search_page(
            &dirs,
            0,
            &Needle::new("needle").unwrap(),
            100,
            0,
            Duration::from_secs(10),
        );
        assert_eq!(page.jobs[0].total, 5);
        assert_eq!(
            texts(&page.jobs[0].matches),
            [
                "planted needle at 0",
                "planted needle at 83885",
                "planted needle at 83886",
                "planted needle at 167772",
                "planted needle at 199999"
            ]
        );
    }

    #[test]
    fn a_line_matching_twice_counts_once_and_bad_queries_are_refused() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("j");
        job_with(&dir, &["nan nan nan", "ok", "NaN"]);
        let dirs = vec![("j".to_owned(), dir)];
        let page = search_page(
            &dirs,
            0,
            &Needle::new("nan").unwrap(),
            10,
            0,
            Duration::from_secs(1),
        );
        assert_eq!(page.jobs[0].total, 2);
        assert!(Needle::new("").is_err());
        assert!(Needle::new("a\nb").is_err());
    }
}
