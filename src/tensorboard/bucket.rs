//! A log dir in a bucket (`gs://…`, `s3://…`), read as a tail: each refresh lists the
//! prefix once and reads only the bytes appended to each event file since the last read
//! (ranged reads from the last offset). Unchanged objects cost no read; a record cut
//! short at the end waits for the next refresh, as for local files.

use std::collections::BTreeMap;

use futures_util::{StreamExt, TryStreamExt};
use object_store::ObjectStoreExt;
use object_store::path::Path as ObjectPath;

use super::{ReadProblems, Run, decode_records, is_event_file};
use crate::buckets::{Bucket, BucketError, explain};

/// Bytes asked for in one ranged read (a larger record asks again for more).
const CHUNK: u64 = 32 << 20;
/// Event files read at once.
const PARALLEL_READS: usize = 8;

/// Where the next unread record of one object starts.
#[derive(Debug)]
struct Tail {
    run: String,
    offset: u64,
    /// The object's size when last read: a record cut short at the end is read again only
    /// once the object grew.
    seen_size: u64,
    broken: bool,
}

/// Requests a bucket log dir made so far, for the user and for benchmarks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RequestStats {
    /// List requests (a page of up to 1 000 objects each).
    pub lists: u64,
    /// Ranged object reads.
    pub reads: u64,
    /// Bytes those reads returned.
    pub bytes: u64,
}

/// A log dir in a bucket: its runs, kept up to date by [`BucketLogDir::refresh`].
#[derive(Debug)]
pub struct BucketLogDir {
    bucket: Bucket,
    runs: BTreeMap<String, Run>,
    objects: BTreeMap<String, Tail>,
    problems: ReadProblems,
    stats: RequestStats,
    /// Why some event files could not be read at the last refresh, while others were.
    partial: Option<BucketError>,
}

/// What reading one object brought.
type ObjectRead = (
    String,
    u64,
    Result<(u64, super::Decoded, ReadProblems), BucketError>,
    u64,
);

impl BucketLogDir {
    /// A log dir at the bucket's prefix, not read yet.
    pub fn new(bucket: Bucket) -> BucketLogDir {
        BucketLogDir {
            bucket,
            runs: BTreeMap::new(),
            objects: BTreeMap::new(),
            problems: ReadProblems::default(),
            stats: RequestStats::default(),
            partial: None,
        }
    }

    /// Lists the prefix and reads what is new. Returns the number of scalars added. An
    /// object that fails to read is skipped this time (the runs that load still show);
    /// its error is returned only when nothing could be read.
    pub async fn refresh(&mut self) -> Result<u64, BucketError> {
        let prefix = self.bucket.url.prefix.clone();
        let listed = self.list(&prefix).await?;
        let mut work = Vec::new();
        for (name, size) in listed {
            let run = run_name(&prefix, &name);
            let tail = self.objects.entry(name.clone()).or_insert_with(|| Tail {
                run: run.clone(),
                offset: 0,
                seen_size: 0,
                broken: false,
            });
            self.runs.entry(run).or_default();
            if !tail.broken && size > tail.seen_size {
                work.push((name, tail.offset, size));
            }
        }
        let bucket = self.bucket.clone();
        let reads: Vec<ObjectRead> = futures_util::stream::iter(work)
            .map(|(name, offset, size)| {
                let bucket = bucket.clone();
                async move {
                    let mut requests = 0;
                    let read = read_tail(&bucket, &name, offset, size, &mut requests).await;
                    (name, size, read, requests)
                }
            })
            .buffer_unordered(PARALLEL_READS)
            .collect()
            .await;
        let mut added = 0;
        let mut first_error = None;
        let mut failed = 0;
        let mut any_read = reads.is_empty();
        for (name, size, read, requests) in reads {
            self.stats.reads += requests;
            let (bytes, decoded, problems) = match read {
                Ok(read) => read,
                Err(e) => {
                    failed += 1;
                    first_error.get_or_insert(e);
                    continue;
                }
            };
            any_read = true;
            self.stats.bytes += bytes;
            self.problems.corrupt_records += problems.corrupt_records;
            self.problems.broken_files += problems.broken_files;
            let Some(tail) = self.objects.get_mut(&name) else {
                continue;
            };
            tail.offset += decoded.consumed as u64;
            tail.seen_size = size;
            tail.broken = decoded.broken;
            let Some(run) = self.runs.get_mut(&tail.run) else {
                continue;
            };
            for (tag, points) in decoded.by_tag {
                added += points.len() as u64;
                super::append(&mut run.tags, tag, points);
            }
        }
        match first_error {
            Some(e) if !any_read => Err(e),
            Some(e) => {
                self.partial = Some(BucketError(format!(
                    "{failed} event file(s) could not be read (the runs shown are the rest): {e}"
                )));
                Ok(added)
            }
            None => {
                self.partial = None;
                Ok(added)
            }
        }
    }

    /// Every event file under `prefix`, with its size.
    async fn list(&mut self, prefix: &str) -> Result<Vec<(String, u64)>, BucketError> {
        let path = ObjectPath::from(prefix);
        let mut stream = self
            .bucket
            .store
            .list((!prefix.is_empty()).then_some(&path));
        let mut found = Vec::new();
        let mut seen = 0u64;
        self.stats.lists += 1;
        while let Some(meta) = stream
            .try_next()
            .await
            .map_err(|e| explain(&self.bucket.url, &e))?
        {
            seen += 1;
            if seen.is_multiple_of(1000) {
                self.stats.lists += 1; // the next page
            }
            let name = meta.location.as_ref();
            if is_event_file(name.rsplit('/').next().unwrap_or(name)) {
                found.push((name.to_owned(), meta.size));
            }
        }
        Ok(found)
    }

    /// The runs, by name (`.` for event files directly under the prefix).
    pub fn runs(&self) -> &BTreeMap<String, Run> {
        &self.runs
    }

    /// What was skipped so far.
    pub fn problems(&self) -> ReadProblems {
        self.problems
    }

    /// Why some files were skipped at the last refresh, when others loaded.
    pub fn partial_failure(&self) -> Option<&BucketError> {
        self.partial.as_ref()
    }

    /// The requests made so far.
    pub fn stats(&self) -> RequestStats {
        self.stats
    }
}

/// The run an object belongs to: its folder below the prefix, `.` directly in it.
fn run_name(prefix: &str, name: &str) -> String {
    let below = name
        .strip_prefix(prefix)
        .unwrap_or(name)
        .trim_start_matches('/');
    match below.rsplit_once('/') {
        Some((dir, _)) if !dir.is_empty() => dir.to_owned(),
        _ => ".".to_owned(),
    }
}

/// Reads `name` from `offset` to `size` in chunks and decodes the whole records; returns
/// the bytes read, what was decoded and the damage found.
async fn read_tail(
    bucket: &Bucket,
    name: &str,
    mut offset: u64,
    size: u64,
    requests: &mut u64,
) -> Result<(u64, super::Decoded, ReadProblems), BucketError> {
    let path = ObjectPath::from(name);
    let mut out = super::Decoded::default();
    let mut bytes_read = 0;
    let mut want = CHUNK;
    let mut problems = ReadProblems::default();
    while offset < size {
        let start = offset;
        let end = size.min(start + want);
        *requests += 1;
        let data = match bucket.store.get_range(&path, start..end).await {
            Ok(data) => data,
            // Removed since the listing: nothing to read.
            Err(object_store::Error::NotFound { .. }) => break,
            Err(e) => {
                let url = crate::buckets::BucketUrl {
                    prefix: name.to_owned(),
                    ..bucket.url.clone()
                };
                return Err(explain(&url, &e));
            }
        };
        bytes_read += data.len() as u64;
        let len = data.len() as u64;
        let decoded = tokio::task::spawn_blocking(move || {
            let mut problems = ReadProblems::default();
            let decoded = decode_records(&data, &mut problems);
            (decoded, problems)
        })
        .await
        .map_err(|e| BucketError(format!("reading {name} stopped: {e}")))?;
        let (decoded, found) = decoded;
        problems.corrupt_records += found.corrupt_records;
        problems.broken_files += found.broken_files;
        offset += decoded.consumed as u64;
        out.consumed += decoded.consumed;
        merge(&mut out.by_tag, decoded.by_tag);
        if decoded.broken {
            out.broken = true;
            break;
        }
        if end == size || len < end - start {
            break; // read to the end: what is left is a record cut short, for next time
        }
        if decoded.consumed == 0 {
            if want > super::record::MAX_RECORD {
                break;
            }
            want *= 2; // one record longer than the chunk
        }
    }
    Ok((bytes_read, out, problems))
}

fn merge(
    into: &mut Vec<(String, Vec<super::ScalarPoint>)>,
    from: Vec<(String, Vec<super::ScalarPoint>)>,
) {
    for (tag, points) in from {
        match into.iter_mut().find(|(t, _)| *t == tag) {
            Some((_, existing)) => existing.extend(points),
            None => into.push((tag, points)),
        }
    }
}
