//! Batch prediction over files in buckets: the engine runs the job's predictor under
//! `mlconsole bucket-stage`, which fetches the `gs://`/`s3://` inputs into the job's state
//! dir, runs the predictor on the local copies, and uploads what it wrote to the output
//! bucket prefix — so every predictor (ONNX in the engine, the frameworks' own) reads
//! and writes plain files.

use std::path::{Path, PathBuf};

use anyhow::Context;
use futures_util::TryStreamExt;
use object_store::path::Path as ObjectPath;

use crate::buckets::{self, BucketAccess, BucketUrl};

/// Largest input fetched for one batch job, all files together.
const MAX_INPUT_BYTES: u64 = 16 << 30;

/// The local stand-ins for a batch job's bucket paths.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct StagePlan {
    /// `(bucket URL or glob, local folder)`: fetched before the predictor starts.
    pub fetch: Vec<(String, PathBuf)>,
    /// `(local folder, bucket URL)`: uploaded once the predictor is done.
    pub upload: Option<(PathBuf, String)>,
}

impl StagePlan {
    /// The plan for `inputs` and `output` under `state_dir`, and the paths the predictor
    /// is given instead (local paths are kept as they are).
    pub fn new(
        inputs: &[String],
        output: &str,
        state_dir: &Path,
    ) -> (StagePlan, Vec<String>, String) {
        let mut plan = StagePlan::default();
        let local_inputs = inputs
            .iter()
            .enumerate()
            .map(|(i, input)| {
                if !BucketUrl::is_bucket(input) {
                    return input.clone();
                }
                let dir = state_dir.join("bucket-inputs").join(i.to_string());
                let glob = dir.join("*").display().to_string();
                plan.fetch.push((input.clone(), dir));
                glob
            })
            .collect();
        let local_output = if BucketUrl::is_bucket(output) {
            let dir = state_dir.join("bucket-output");
            plan.upload = Some((dir.clone(), output.to_owned()));
            dir.display().to_string()
        } else {
            output.to_owned()
        };
        (plan, local_inputs, local_output)
    }

    /// True when nothing is in a bucket.
    pub fn is_empty(&self) -> bool {
        self.fetch.is_empty() && self.upload.is_none()
    }

    /// The `bucket-stage` arguments that carry this plan (before `--` and the argv).
    pub fn args(&self) -> Vec<String> {
        let mut args = vec!["bucket-stage".to_owned()];
        for (url, dir) in &self.fetch {
            args.extend(["--fetch".into(), url.clone(), dir.display().to_string()]);
        }
        if let Some((dir, url)) = &self.upload {
            args.extend(["--upload".into(), dir.display().to_string(), url.clone()]);
        }
        args
    }
}

/// Fetches, runs `argv`, uploads; answers the predictor's exit code.
pub fn run(plan: &StagePlan, argv: &[String]) -> anyhow::Result<i32> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let access = BucketAccess::from_env();
    for (url, dir) in &plan.fetch {
        let files = runtime.block_on(fetch(url, dir, &access))?;
        println!("Fetched {files} file(s) of {url}");
    }
    let (program, args) = argv.split_first().context("no predictor to run")?;
    let status = std::process::Command::new(program)
        .args(args)
        .status()
        .with_context(|| format!("cannot start {program}"))?;
    if let Some((dir, url)) = &plan.upload {
        let files = runtime.block_on(upload(dir, url, &access))?;
        println!("Uploaded {files} file(s) to {url}");
    }
    Ok(status.code().unwrap_or(1))
}

/// Fetches the objects `pattern` names (a prefix, an object, or a glob such as
/// `gs://b/in/*.jsonl`) into `dir`, flattened and numbered in listing order.
async fn fetch(pattern: &str, dir: &Path, access: &BucketAccess) -> anyhow::Result<usize> {
    let wildcard = pattern.find(['*', '?', '[']);
    let Some(at) = wildcard else {
        let url = BucketUrl::parse(pattern)?;
        let bucket = buckets::open(&url, access)?;
        return Ok(buckets::download_prefix(&bucket, dir, MAX_INPUT_BYTES).await?);
    };
    // List the folder before the first wildcard, keep the names the glob matches.
    let folder = pattern[..at].rsplit_once('/').map_or(pattern, |(f, _)| f);
    let url = BucketUrl::parse(folder)?;
    let bucket = buckets::open(&url, access)?;
    let glob = glob::Pattern::new(pattern.split_once("://").map_or(pattern, |(_, p)| p))
        .with_context(|| format!("{pattern:?} is not a valid glob"))?;
    let listed: Vec<object_store::ObjectMeta> = bucket
        .store
        .list(Some(&ObjectPath::from(url.prefix.as_str())))
        .try_collect()
        .await
        .map_err(|e| buckets::explain(&url, &e))?;
    let matched: Vec<_> = listed
        .into_iter()
        .filter(|m| glob.matches(&format!("{}/{}", url.bucket, m.location)))
        .collect();
    anyhow::ensure!(!matched.is_empty(), "{pattern} matches no objects");
    let total: u64 = matched.iter().map(|m| m.size).sum();
    anyhow::ensure!(
        total <= MAX_INPUT_BYTES,
        "{pattern} matches {total} bytes, over the {MAX_INPUT_BYTES}-byte limit"
    );
    tokio::fs::create_dir_all(dir).await?;
    for (i, meta) in matched.iter().enumerate() {
        let name = meta.location.filename().unwrap_or("object");
        let object = BucketUrl {
            prefix: meta.location.to_string(),
            ..url.clone()
        };
        let data = buckets::read_object(&buckets::open(&object, access)?, MAX_INPUT_BYTES).await?;
        tokio::fs::write(dir.join(format!("{i:05}-{name}")), &data).await?;
    }
    Ok(matched.len())
}

/// Uploads every file of `dir` to `url/<name>`.
async fn upload(dir: &Path, url: &str, access: &BucketAccess) -> anyhow::Result<usize> {
    let url = BucketUrl::parse(url)?;
    let mut count = 0;
    let mut entries = tokio::fs::read_dir(dir)
        .await
        .with_context(|| format!("the predictor wrote nothing to {}", dir.display()))?;
    while let Some(entry) = entries.next_entry().await? {
        if !entry.file_type().await?.is_file() {
            continue;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        let data = tokio::fs::read(entry.path()).await?;
        let bucket = buckets::open(&url.join(&name), access)?;
        buckets::write_object(&bucket, data).await?;
        count += 1;
    }
    Ok(count)
}
