//! A job's log on disk: the job writes `stdout.log` and `stderr.log` itself; the engine
//! writes its own notes to `engine.log` and keeps `log.idx`, a fixed-size record per
//! entry (time, stream, severity, offset and length of the line's text). Memory per line
//! is zero, any page is one seek away, and a restarted engine resumes where it stopped.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use crate::domain::logs::classify;
use crate::domain::{LogEntry, LogStream, Severity};

/// Bytes per index record.
const RECORD: usize = 24;
/// Lines longer than this are split into several entries.
pub const MAX_LINE: usize = 64 * 1024;
/// Bytes read from a stream per step.
const CHUNK: usize = 1 << 20;

/// File names inside a job's state directory.
pub const STDOUT_FILE: &str = "stdout.log";
/// See [`STDOUT_FILE`].
pub const STDERR_FILE: &str = "stderr.log";
const ENGINE_FILE: &str = "engine.log";
const INDEX_FILE: &str = "log.idx";

#[derive(Debug, Clone, Copy, PartialEq)]
struct Record {
    time_us: i64,
    offset: u64,
    len: u32,
    stream: LogStream,
    severity: Severity,
    /// Line-ending bytes after the text (0, 1 or 2).
    skip: u8,
}

impl Record {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.time_us.to_le_bytes());
        out.extend_from_slice(&self.offset.to_le_bytes());
        out.extend_from_slice(&self.len.to_le_bytes());
        out.extend_from_slice(&[self.stream.to_code(), self.severity.to_code(), self.skip, 0]);
    }

    fn decode(bytes: &[u8]) -> Option<Record> {
        let field = |range: std::ops::Range<usize>| bytes.get(range);
        Some(Record {
            time_us: i64::from_le_bytes(field(0..8)?.try_into().ok()?),
            offset: u64::from_le_bytes(field(8..16)?.try_into().ok()?),
            len: u32::from_le_bytes(field(16..20)?.try_into().ok()?),
            stream: LogStream::from_code(*bytes.get(20)?)?,
            severity: Severity::from_code(*bytes.get(21)?),
            skip: *bytes.get(22)?,
        })
    }

    /// Where the next line of the same stream starts.
    fn end(&self) -> u64 {
        self.offset + u64::from(self.len) + u64::from(self.skip)
    }
}

/// Reads new complete lines of one output file.
struct StreamTail {
    stream: LogStream,
    path: PathBuf,
    file: Option<File>,
    /// Start of the first line not yet indexed.
    pos: u64,
    buf: Vec<u8>,
}

impl StreamTail {
    fn new(stream: LogStream, path: PathBuf, pos: u64) -> StreamTail {
        StreamTail {
            stream,
            path,
            file: None,
            pos,
            buf: Vec::new(),
        }
    }

    /// Indexes the complete lines of the next chunk (and, on the final pass, a last line
    /// without a line ending). Returns true if the chunk was full, so more may follow.
    fn step(&mut self, time_us: i64, final_pass: bool, out: &mut Vec<u8>) -> io::Result<bool> {
        if self.file.is_none() {
            match File::open(&self.path) {
                Ok(f) => self.file = Some(f),
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
                Err(e) => return Err(e),
            }
        }
        let Some(file) = &self.file else {
            return Ok(false);
        };
        self.buf.resize(CHUNK, 0);
        let mut filled = 0;
        while filled < CHUNK {
            let n = file.read_at(&mut self.buf[filled..], self.pos + filled as u64)?;
            if n == 0 {
                break;
            }
            filled += n;
        }
        let data = &self.buf[..filled];
        let mut start = 0;
        let mut push = |start: usize, text_end: usize, skip: u8| {
            let text = &data[start..text_end];
            Record {
                time_us,
                offset: self.pos + start as u64,
                len: text.len() as u32,
                stream: self.stream,
                severity: classify(text, self.stream),
                skip,
            }
            .encode(out);
        };
        while start < filled {
            let limit = (start + MAX_LINE).min(filled);
            match memchr::memchr(b'\n', &data[start..limit]) {
                Some(i) => {
                    let newline = start + i;
                    let text_end = if newline > start && data[newline - 1] == b'\r' {
                        newline - 1
                    } else {
                        newline
                    };
                    push(start, text_end, (newline + 1 - text_end) as u8);
                    start = newline + 1;
                }
                None if limit - start == MAX_LINE => {
                    push(start, limit, 0);
                    start = limit;
                }
                None if final_pass && filled < CHUNK => {
                    push(start, filled, 0);
                    start = filled;
                }
                None => break,
            }
        }
        self.pos += start as u64;
        Ok(filled == CHUNK)
    }
}

/// The writer's side of a job's log.
pub struct JobLog {
    dir: PathBuf,
    count: u64,
    stdout: StreamTail,
    stderr: StreamTail,
    engine_len: u64,
    pending: Vec<u8>,
}

impl JobLog {
    /// Opens the log in `dir`, resuming after the last indexed line of each stream.
    pub fn open(dir: &Path) -> io::Result<JobLog> {
        let index_path = dir.join(INDEX_FILE);
        let (count, stdout_pos, stderr_pos) =
            match OpenOptions::new().write(true).read(true).open(&index_path) {
                Ok(index) => {
                    let len = index.metadata()?.len();
                    let whole = len - len % RECORD as u64;
                    if whole != len {
                        // A record cut short by a crash: drop it; its line is read again.
                        index.set_len(whole)?;
                    }
                    let (out, err) = last_positions(&index, whole)?;
                    (whole / RECORD as u64, out, err)
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => (0, 0, 0),
                Err(e) => return Err(e),
            };
        let engine_len = match std::fs::metadata(dir.join(ENGINE_FILE)) {
            Ok(m) => m.len(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => 0,
            Err(e) => return Err(e),
        };
        Ok(JobLog {
            dir: dir.to_owned(),
            count,
            stdout: StreamTail::new(LogStream::Stdout, dir.join(STDOUT_FILE), stdout_pos),
            stderr: StreamTail::new(LogStream::Stderr, dir.join(STDERR_FILE), stderr_pos),
            engine_len,
            pending: Vec::new(),
        })
    }

    /// Number of entries written.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Adds an entry of the engine's own (cut to [`MAX_LINE`] bytes).
    pub fn append_engine(&mut self, severity: Severity, text: &str) -> io::Result<()> {
        let mut text = text.replace('\n', " ↵ ");
        if text.len() > MAX_LINE {
            let mut cut = MAX_LINE;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text.truncate(cut);
        }
        let path = self.dir.join(ENGINE_FILE);
        let written = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .and_then(|mut engine| engine.write_all(format!("{text}\n").as_bytes()));
        if let Err(e) = written {
            // A full disk may have taken part of the line: the next one starts after it.
            if let Ok(meta) = std::fs::metadata(&path) {
                self.engine_len = meta.len();
            }
            return Err(e);
        }
        let record = Record {
            time_us: Utc::now().timestamp_micros(),
            offset: self.engine_len,
            len: text.len() as u32,
            stream: LogStream::Engine,
            severity,
            skip: 1,
        };
        self.engine_len += text.len() as u64 + 1;
        record.encode(&mut self.pending);
        self.flush()
    }

    /// Indexes every complete line the job has written since the last call; with
    /// `final_pass`, also a last line that has no line ending. Returns lines added.
    pub fn ingest(&mut self, final_pass: bool) -> io::Result<u64> {
        let before = self.count;
        loop {
            let now = Utc::now().timestamp_micros();
            let more_out = self.stdout.step(now, final_pass, &mut self.pending)?;
            let more_err = self.stderr.step(now, final_pass, &mut self.pending)?;
            self.flush()?;
            if !more_out && !more_err {
                break;
            }
        }
        Ok(self.count - before)
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let mut index = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join(INDEX_FILE))?;
        if let Err(e) = index.write_all(&self.pending) {
            // A full disk wrote part of the records: cut the index back to the last whole
            // one and keep the rest pending, so the next flush writes them again.
            let _ = index.set_len(self.count * RECORD as u64);
            return Err(e);
        }
        self.count += (self.pending.len() / RECORD) as u64;
        self.pending.clear();
        Ok(())
    }
}

/// Scans the index backwards for where stdout and stderr continue.
fn last_positions(index: &File, len: u64) -> io::Result<(u64, u64)> {
    let (mut out, mut err) = (None, None);
    let block = (4096 * RECORD) as u64;
    let mut end = len;
    let mut buf = Vec::new();
    while end > 0 && (out.is_none() || err.is_none()) {
        let start = end.saturating_sub(block);
        buf.resize((end - start) as usize, 0);
        index.read_exact_at(&mut buf, start)?;
        for chunk in buf.chunks_exact(RECORD).rev() {
            let Some(record) = Record::decode(chunk) else {
                continue;
            };
            match record.stream {
                LogStream::Stdout if out.is_none() => out = Some(record.end()),
                LogStream::Stderr if err.is_none() => err = Some(record.end()),
                _ => {}
            }
        }
        end = start;
    }
    Ok((out.unwrap_or(0), err.unwrap_or(0)))
}

/// Number of entries in the log in `dir`.
pub fn entry_count(dir: &Path) -> io::Result<u64> {
    match std::fs::metadata(dir.join(INDEX_FILE)) {
        Ok(m) => Ok(m.len() / RECORD as u64),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(0),
        Err(e) => Err(e),
    }
}

/// Reads up to `limit` entries with `seq > after` from the log in `dir`.
pub fn read_entries(dir: &Path, after: u64, limit: usize) -> io::Result<Vec<LogEntry>> {
    let index = match File::open(dir.join(INDEX_FILE)) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let count = index.metadata()?.len() / RECORD as u64;
    if after >= count || limit == 0 {
        return Ok(Vec::new());
    }
    let n = (count - after).min(limit as u64) as usize;
    let mut records = vec![0u8; n * RECORD];
    index.read_exact_at(&mut records, after * RECORD as u64)?;
    let mut sources: [Option<io::Result<File>>; 3] = [None, None, None];
    let names = [STDOUT_FILE, STDERR_FILE, ENGINE_FILE];
    let mut entries = Vec::with_capacity(n);
    for (i, chunk) in records.chunks_exact(RECORD).enumerate() {
        let seq = after + i as u64 + 1;
        let Some(record) = Record::decode(chunk) else {
            continue;
        };
        let code = usize::from(record.stream.to_code());
        let source = sources[code].get_or_insert_with(|| File::open(dir.join(names[code])));
        let text = match source {
            // No line is longer than MAX_LINE: a longer length is damage, not a line to
            // allocate for.
            Ok(_) if record.len as usize > MAX_LINE => format!(
                "[this line's index record is damaged (length {})]",
                record.len
            ),
            Ok(file) => {
                let mut bytes = vec![0u8; record.len as usize];
                match file.read_exact_at(&mut bytes, record.offset) {
                    Ok(()) => String::from_utf8_lossy(&bytes).into_owned(),
                    Err(e) => format!("[this line can no longer be read: {e}]"),
                }
            }
            Err(e) => format!("[this line can no longer be read: {e}]"),
        };
        entries.push(LogEntry {
            seq,
            timestamp: DateTime::from_timestamp_micros(record.time_us).unwrap_or_default(),
            severity: record.severity,
            stream: record.stream,
            text,
        });
    }
    Ok(entries)
}

/// The positions (seq) of the entries that start at `wanted` (stream, byte offset of a
/// line's start in that stream's file), in the order of `wanted` within each stream;
/// offsets not yet indexed are left out. Reads the index only as far as needed.
pub fn seqs_at(dir: &Path, wanted: &[(LogStream, u64)]) -> io::Result<Vec<u64>> {
    let mut index = match File::open(dir.join(INDEX_FILE)) {
        Ok(f) => io::BufReader::with_capacity(1 << 16, f),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    // Per stream, the wanted offsets in order and how many are found.
    let mut per_stream: [Vec<u64>; 3] = Default::default();
    for (stream, offset) in wanted {
        per_stream[usize::from(stream.to_code()).min(2)].push(*offset);
    }
    for offsets in &mut per_stream {
        offsets.sort_unstable();
    }
    let mut next = [0usize; 3];
    let mut left = wanted.len();
    let mut seqs = Vec::with_capacity(wanted.len());
    let mut record = [0u8; RECORD];
    let mut seq = 0u64;
    while left > 0 {
        match io::Read::read_exact(&mut index, &mut record) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => break,
            Err(e) => return Err(e),
        }
        seq += 1;
        let Some(r) = Record::decode(&record) else {
            continue;
        };
        let code = usize::from(r.stream.to_code()).min(2);
        let offsets = &per_stream[code];
        // Skip wanted offsets this record is already past (they start no entry).
        while next[code] < offsets.len() && offsets[next[code]] < r.offset {
            next[code] += 1;
            left -= 1;
        }
        if next[code] < offsets.len() && offsets[next[code]] == r.offset {
            seqs.push(seq);
            next[code] += 1;
            left -= 1;
        }
    }
    seqs.sort_unstable();
    Ok(seqs)
}

/// The files a job's log is read from, with their streams.
pub fn stream_files(dir: &Path) -> [(LogStream, PathBuf); 3] {
    [
        (LogStream::Stdout, dir.join(STDOUT_FILE)),
        (LogStream::Stderr, dir.join(STDERR_FILE)),
        (LogStream::Engine, dir.join(ENGINE_FILE)),
    ]
}

/// The last `max_lines` non-empty lines of a file, for error messages.
pub fn tail_lines(path: &Path, max_lines: usize) -> Vec<String> {
    let Ok(file) = File::open(path) else {
        return Vec::new();
    };
    let Ok(len) = file.metadata().map(|m| m.len()) else {
        return Vec::new();
    };
    let start = len.saturating_sub(8192);
    let mut buf = vec![0u8; (len - start) as usize];
    if file.read_exact_at(&mut buf, start).is_err() {
        return Vec::new();
    }
    let text = String::from_utf8_lossy(&buf);
    let mut lines: Vec<String> = text
        .lines()
        .skip(usize::from(start > 0)) // the first line may be cut
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.chars().take(500).collect())
        .collect();
    let keep = lines.len().saturating_sub(max_lines);
    lines.drain(..keep);
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn append(dir: &Path, name: &str, text: &str) {
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join(name))
            .unwrap();
        f.write_all(text.as_bytes()).unwrap();
    }

    fn texts(dir: &Path) -> Vec<(LogStream, String)> {
        read_entries(dir, 0, 1000)
            .unwrap()
            .into_iter()
            .map(|e| (e.stream, e.text))
            .collect()
    }

    #[test]
    fn indexes_complete_lines_and_resumes_after_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let mut log = JobLog::open(d).unwrap();
        log.append_engine(Severity::Info, "queued").unwrap();
        append(d, STDOUT_FILE, "one\r\ntwo\npart");
        append(d, STDERR_FILE, "WARNING:root:careful\n");
        assert_eq!(log.ingest(false).unwrap(), 3);
        drop(log);

        let mut log = JobLog::open(d).unwrap();
        assert_eq!(log.count(), 4);
        append(d, STDOUT_FILE, "ial\nlast");
        assert_eq!(log.ingest(false).unwrap(), 1);
        assert_eq!(log.ingest(true).unwrap(), 1);
        log.append_engine(Severity::Error, "exited\nwith code 1")
            .unwrap();

        let entries = read_entries(d, 0, 100).unwrap();
        let seqs: Vec<u64> = entries.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, [1, 2, 3, 4, 5, 6, 7]);
        assert_eq!(
            texts(d),
            [
                (LogStream::Engine, "queued".to_owned()),
                (LogStream::Stdout, "one".to_owned()),
                (LogStream::Stdout, "two".to_owned()),
                (LogStream::Stderr, "WARNING:root:careful".to_owned()),
                (LogStream::Stdout, "partial".to_owned()),
                (LogStream::Stdout, "last".to_owned()),
                (LogStream::Engine, "exited ↵ with code 1".to_owned()),
            ]
        );
        assert_eq!(entries[3].severity, Severity::Warning);
        assert_eq!(entries[6].severity, Severity::Error);
        assert_eq!(read_entries(d, 5, 1).unwrap()[0].text, "last");
        assert!(read_entries(d, 7, 10).unwrap().is_empty());
        assert_eq!(entry_count(d).unwrap(), 7);
    }

    /// A log of two indexed stdout lines, and its index opened for writing.
    fn two_lines_indexed() -> (tempfile::TempDir, File) {
        let dir = tempfile::tempdir().unwrap();
        append(dir.path(), STDOUT_FILE, "a\nb\n");
        JobLog::open(dir.path()).unwrap().ingest(false).unwrap();
        let index = OpenOptions::new()
            .write(true)
            .open(dir.path().join(INDEX_FILE))
            .unwrap();
        (dir, index)
    }

    #[test]
    fn a_torn_record_is_dropped_and_its_line_read_again() {
        let (dir, index) = two_lines_indexed();
        let d = dir.path();
        index.set_len((RECORD + 10) as u64).unwrap();
        let mut log = JobLog::open(d).unwrap();
        assert_eq!(log.count(), 1);
        assert_eq!(log.ingest(false).unwrap(), 1);
        assert_eq!(
            texts(d),
            [
                (LogStream::Stdout, "a".into()),
                (LogStream::Stdout, "b".into())
            ]
        );
    }

    #[test]
    fn a_lying_record_length_allocates_nothing() {
        let (dir, index) = two_lines_indexed();
        let d = dir.path();
        // The second record claims a 4 GiB line.
        index
            .write_all_at(&u32::MAX.to_le_bytes(), (RECORD + 16) as u64)
            .unwrap();
        let texts = texts(d);
        assert_eq!(texts[0].1, "a");
        assert!(texts[1].1.contains("damaged"), "{texts:?}");
    }

    #[test]
    fn a_huge_engine_note_is_cut_to_one_line() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = JobLog::open(dir.path()).unwrap();
        log.append_engine(Severity::Info, &"é".repeat(MAX_LINE))
            .unwrap();
        log.append_engine(Severity::Info, "next").unwrap();
        let texts = texts(dir.path());
        assert!(texts[0].1.len() <= MAX_LINE);
        assert_eq!(texts[1].1, "next");
    }

    #[test]
    fn very_long_lines_are_split() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let long = "x".repeat(MAX_LINE * 2 + 5);
        append(d, STDOUT_FILE, &format!("{long}\nshort\n"));
        JobLog::open(d).unwrap().ingest(false).unwrap();
        let lens: Vec<usize> = texts(d).iter().map(|(_, t)| t.len()).collect();
        assert_eq!(lens, [MAX_LINE, MAX_LINE, 5, 5]);
    }

    #[test]
    fn tail_lines_keeps_the_last_non_empty_lines() {
        let dir = tempfile::tempdir().unwrap();
        append(dir.path(), "f", "a\nb\n\nc\nd\n");
        assert_eq!(tail_lines(&dir.path().join("f"), 2), ["c", "d"]);
        assert!(tail_lines(&dir.path().join("missing"), 2).is_empty());
    }
}
