//! A log dir wherever it is: a local folder or a bucket prefix, behind one refresh.

use std::collections::BTreeMap;

use super::bucket::{BucketLogDir, RequestStats};
use super::{LogDir, ReadProblems, Run};
use crate::buckets::{self, BucketAccess, Location};

/// A log dir on this machine or in a bucket.
#[derive(Debug)]
pub enum AnyLogDir {
    /// A local folder.
    Local(LogDir),
    /// A `gs://` or `s3://` prefix.
    Bucket(BucketLogDir),
}

impl AnyLogDir {
    /// A reader of `location`, opening its bucket with `auth` (no request is made yet).
    pub fn open(location: &Location, auth: &BucketAccess) -> Result<AnyLogDir, String> {
        Ok(match location {
            Location::Local(path) => AnyLogDir::Local(LogDir::new(path)),
            Location::Bucket(url) => AnyLogDir::Bucket(BucketLogDir::new(
                buckets::open(url, auth).map_err(|e| e.to_string())?,
            )),
        })
    }

    /// Reads what is new (local files on a blocking thread); hands the reader back with
    /// the number of scalars added or why nothing could be read.
    pub async fn refresh(self) -> (AnyLogDir, Result<u64, String>) {
        match self {
            AnyLogDir::Local(mut dir) => {
                let root = dir.root().to_owned();
                let joined = tokio::task::spawn_blocking(move || {
                    let result = dir.refresh().map_err(|e| e.to_string());
                    (dir, result)
                })
                .await;
                match joined {
                    Ok((dir, result)) => (AnyLogDir::Local(dir), result),
                    // The reader panicked on a bug: say so, and read the folder afresh.
                    Err(e) => (
                        AnyLogDir::Local(LogDir::new(root)),
                        Err(format!("reading stopped: {e}")),
                    ),
                }
            }
            AnyLogDir::Bucket(mut dir) => {
                let result = dir.refresh().await.map_err(|e| e.to_string());
                (AnyLogDir::Bucket(dir), result)
            }
        }
    }

    /// The runs, by name.
    pub fn runs(&self) -> &BTreeMap<String, Run> {
        match self {
            AnyLogDir::Local(dir) => dir.runs(),
            AnyLogDir::Bucket(dir) => dir.runs(),
        }
    }

    /// What was skipped so far.
    pub fn problems(&self) -> ReadProblems {
        match self {
            AnyLogDir::Local(dir) => dir.problems(),
            AnyLogDir::Bucket(dir) => dir.problems(),
        }
    }

    /// Why some files were skipped at the last refresh while others loaded (buckets).
    pub fn partial_failure(&self) -> Option<String> {
        match self {
            AnyLogDir::Local(_) => None,
            AnyLogDir::Bucket(dir) => dir.partial_failure().map(ToString::to_string),
        }
    }

    /// Requests made so far (buckets only).
    pub fn requests(&self) -> Option<RequestStats> {
        match self {
            AnyLogDir::Local(_) => None,
            AnyLogDir::Bucket(dir) => Some(dir.stats()),
        }
    }
}
