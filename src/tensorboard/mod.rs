//! Reads TensorBoard event files (`*tfevents*`): TFRecord framing with every CRC checked,
//! `Event`/`Summary` decoded with prost, scalars from TF1 `simple_value` and TF2 scalar
//! tensors. Every folder holding event files is a run, so several jobs can share a log
//! dir. Files still being written are read on from where the last read stopped.

pub mod bucket;
pub mod proto;
pub mod record;
pub mod scan;
pub mod source;
pub mod writer;

pub use source::AnyLogDir;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use self::record::{Framed, read_record};

/// One scalar value of a tag.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScalarPoint {
    /// The global step it was logged at.
    pub step: i64,
    /// Seconds since the epoch.
    pub wall_time: f64,
    /// The value, as `f64` (TF1 `simple_value` or a TF2 one-element tensor).
    pub value: f64,
}

/// New points of several runs: by run, then by tag, in order.
pub type ScalarsByRun = Vec<(String, Vec<(String, Vec<ScalarPoint>)>)>;

/// What reading found wrong, for the user to see.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReadProblems {
    /// Records skipped: a payload CRC mismatch or an undecodable event.
    pub corrupt_records: u64,
    /// Files whose framing broke (a length CRC mismatch): read up to that point.
    pub broken_files: u64,
}

/// Reads one event file incrementally.
#[derive(Debug)]
struct EventFile {
    path: PathBuf,
    /// Where the next unread record starts.
    offset: u64,
    broken: bool,
}

impl EventFile {
    /// Reads every whole record after `offset`; returns the scalars by tag.
    fn read_new(
        &mut self,
        problems: &mut ReadProblems,
    ) -> io::Result<Vec<(String, Vec<ScalarPoint>)>> {
        if self.broken {
            return Ok(Vec::new());
        }
        let mut file = File::open(&self.path)?;
        let len = file.metadata()?.len();
        if len <= self.offset {
            return Ok(Vec::new());
        }
        file.seek(SeekFrom::Start(self.offset))?;
        let mut buf = Vec::with_capacity((len - self.offset) as usize);
        file.read_to_end(&mut buf)?;
        let decoded = decode_records(&buf, problems);
        self.broken = decoded.broken;
        self.offset += decoded.consumed as u64;
        Ok(decoded.by_tag)
    }
}

/// What [`decode_records`] found in a buffer of TFRecord-framed events.
#[derive(Debug, Default)]
pub struct Decoded {
    /// Scalars by tag, in the order written.
    pub by_tag: Vec<(String, Vec<ScalarPoint>)>,
    /// Bytes of whole records read; a record cut short at the end is left unread.
    pub consumed: usize,
    /// The framing broke (a length CRC mismatch, or a length past the limit): nothing
    /// after it can be read.
    pub broken: bool,
}

/// Decodes the events of `buf` (the unread tail of an event file), counting damaged
/// records in `problems`. Hostile input only ever costs time linear in its size.
pub fn decode_records(buf: &[u8], problems: &mut ReadProblems) -> Decoded {
    let mut decoded = Decoded::default();
    let by_tag = &mut decoded.by_tag;
    let mut out = |tag: &str, point: ScalarPoint| {
        // Few tags per file, written in turn: a linear scan beats hashing.
        match by_tag.iter_mut().find(|(t, _)| t == tag) {
            Some((_, points)) => points.push(point),
            None => by_tag.push((tag.to_owned(), vec![point])),
        }
    };
    let mut at = 0;
    loop {
        match read_record(buf, at) {
            Framed::Record { data, next } => {
                let scanned = scan::event(data).and_then(|event| {
                    scan::for_each_value(&event, |tag, value| {
                        out(
                            &String::from_utf8_lossy(tag),
                            ScalarPoint {
                                step: event.step,
                                wall_time: event.wall_time,
                                value,
                            },
                        );
                    })
                });
                if scanned.is_err() {
                    problems.corrupt_records += 1;
                }
                at = next;
            }
            Framed::BadData { next } => {
                problems.corrupt_records += 1;
                at = next;
            }
            Framed::BadLength => {
                problems.broken_files += 1;
                decoded.broken = true;
                break;
            }
            Framed::Incomplete => break,
        }
    }
    decoded.consumed = at;
    decoded
}

/// Every scalar of one run, by tag, in the order written.
#[derive(Debug, Default)]
pub struct Run {
    files: BTreeMap<PathBuf, EventFile>,
    /// Scalars by tag.
    pub tags: BTreeMap<String, Vec<ScalarPoint>>,
}

/// A log dir: its runs, kept up to date by [`LogDir::refresh`].
#[derive(Debug)]
pub struct LogDir {
    root: PathBuf,
    runs: BTreeMap<String, Run>,
    problems: ReadProblems,
}

impl LogDir {
    /// A log dir at `root`, not read yet.
    pub fn new(root: impl Into<PathBuf>) -> LogDir {
        LogDir {
            root: root.into(),
            runs: BTreeMap::new(),
            problems: ReadProblems::default(),
        }
    }

    /// Reads everything new: new runs, new files, new records. Returns the number of
    /// scalars added.
    pub fn refresh(&mut self) -> io::Result<u64> {
        if !self.root.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("{} is not a folder", self.root.display()),
            ));
        }
        let mut found = Vec::new();
        find_event_files(&self.root, &mut found)?;
        let mut added = 0;
        for path in found {
            let run_dir = path.parent().unwrap_or(&self.root);
            let name = match run_dir.strip_prefix(&self.root) {
                Ok(rel) if !rel.as_os_str().is_empty() => rel.to_string_lossy().into_owned(),
                _ => ".".to_owned(),
            };
            let run = self.runs.entry(name).or_default();
            run.files.entry(path.clone()).or_insert_with(|| EventFile {
                path,
                offset: 0,
                broken: false,
            });
        }
        // Files are read in parallel, a share per core, then merged in order.
        let mut work: Vec<(&String, &mut EventFile)> = self
            .runs
            .iter_mut()
            .flat_map(|(name, run)| run.files.values_mut().map(move |f| (name, f)))
            .collect();
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(work.len().max(1));
        let share = work.len().div_ceil(threads).max(1);
        type FileResult = (
            String,
            io::Result<Vec<(String, Vec<ScalarPoint>)>>,
            ReadProblems,
        );
        let results: Vec<FileResult> = std::thread::scope(|scope| {
            let handles: Vec<_> = work
                .chunks_mut(share)
                .map(|chunk| {
                    scope.spawn(move || {
                        chunk
                            .iter_mut()
                            .map(|(name, file)| {
                                let mut problems = ReadProblems::default();
                                let read = file.read_new(&mut problems);
                                ((*name).clone(), read, problems)
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
        for (name, read, problems) in results {
            self.problems.corrupt_records += problems.corrupt_records;
            self.problems.broken_files += problems.broken_files;
            let by_tag = match read {
                Ok(by_tag) => by_tag,
                // A file removed between listing and reading is simply gone.
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            let Some(run) = self.runs.get_mut(&name) else {
                continue;
            };
            for (tag, points) in by_tag {
                added += points.len() as u64;
                append(&mut run.tags, tag, points);
            }
        }
        Ok(added)
    }

    /// Takes the scalars read so far out of every run, keeping where each file was
    /// read to: a reader that only wants what is new holds none of the old points.
    pub fn drain(&mut self) -> ScalarsByRun {
        self.runs
            .iter_mut()
            .map(|(name, run)| {
                let tags = std::mem::take(&mut run.tags).into_iter().collect();
                (name.clone(), tags)
            })
            .collect()
    }

    /// The folder read.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The runs, by name (`.` for event files directly in the root).
    pub fn runs(&self) -> &BTreeMap<String, Run> {
        &self.runs
    }

    /// What was skipped so far.
    pub fn problems(&self) -> ReadProblems {
        self.problems
    }
}

/// Adds `points` to a tag's series (moved in whole when the tag is new: a first load
/// copies nothing).
pub(crate) fn append(
    tags: &mut BTreeMap<String, Vec<ScalarPoint>>,
    tag: String,
    points: Vec<ScalarPoint>,
) {
    match tags.entry(tag) {
        std::collections::btree_map::Entry::Vacant(entry) => {
            entry.insert(points);
        }
        std::collections::btree_map::Entry::Occupied(mut entry) => {
            entry.get_mut().extend(points);
        }
    }
}

/// True for TensorBoard event file names (`events.out.tfevents.*`).
pub fn is_event_file(name: &str) -> bool {
    name.contains("tfevents")
}

fn find_event_files(dir: &Path, out: &mut Vec<PathBuf>) -> io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.filter_map(Result::ok).collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            find_event_files(&entry.path(), out)?;
        } else if kind.is_file() && is_event_file(&entry.file_name().to_string_lossy()) {
            out.push(entry.path());
        }
    }
    Ok(())
}
