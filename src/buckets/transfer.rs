//! Whole-object reads and writes, and copying a prefix into a local folder (a version's
//! artifact, batch prediction files).

use std::path::{Component, Path};

use bytes::Bytes;
use futures_util::TryStreamExt;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStoreExt, PutPayload};

use super::{Bucket, BucketError, explain};

/// The object at the bucket's prefix, refused when larger than `max_bytes`.
pub async fn read_object(bucket: &Bucket, max_bytes: u64) -> Result<Bytes, BucketError> {
    let path = ObjectPath::from(bucket.url.prefix.as_str());
    let meta = bucket
        .store
        .head(&path)
        .await
        .map_err(|e| explain(&bucket.url, &e))?;
    if meta.size > max_bytes {
        return Err(BucketError(format!(
            "{} is {} bytes, over the {max_bytes}-byte limit",
            bucket.url, meta.size
        )));
    }
    let got = bucket
        .store
        .get(&path)
        .await
        .map_err(|e| explain(&bucket.url, &e))?;
    got.bytes().await.map_err(|e| explain(&bucket.url, &e))
}

/// Writes `data` as the object at the bucket's prefix.
pub async fn write_object(bucket: &Bucket, data: Vec<u8>) -> Result<(), BucketError> {
    let path = ObjectPath::from(bucket.url.prefix.as_str());
    bucket
        .store
        .put(&path, PutPayload::from(data))
        .await
        .map(|_| ())
        .map_err(|e| explain(&bucket.url, &e))
}

/// Copies every object under the bucket's prefix into `dest`, keeping the names below the
/// prefix; a single object named by the prefix itself is copied under its file name.
/// Refuses more than `max_bytes` in all. Returns the number of files copied.
pub async fn download_prefix(
    bucket: &Bucket,
    dest: &Path,
    max_bytes: u64,
) -> Result<usize, BucketError> {
    let prefix = bucket.url.prefix.as_str();
    let mut listed: Vec<object_store::ObjectMeta> = bucket
        .store
        .list(Some(&ObjectPath::from(prefix)))
        .try_collect()
        .await
        .map_err(|e| explain(&bucket.url, &e))?;
    if listed.is_empty() && !prefix.is_empty() {
        // Listing treats the prefix as a folder: it may name one object instead.
        match bucket.store.head(&ObjectPath::from(prefix)).await {
            Ok(meta) => listed.push(meta),
            Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(explain(&bucket.url, &e)),
        }
    }
    let total: u64 = listed.iter().map(|m| m.size).sum();
    if total > max_bytes {
        return Err(BucketError(format!(
            "{} holds {total} bytes, over the {max_bytes}-byte limit",
            bucket.url
        )));
    }
    let mut copied = 0;
    for meta in &listed {
        let name = meta.location.as_ref();
        let relative = match name.strip_prefix(prefix) {
            Some("") => name.rsplit('/').next().unwrap_or(name),
            Some(rest) => rest.trim_start_matches('/'),
            None => continue,
        };
        if relative.is_empty() || name.ends_with('/') {
            continue; // a "folder" placeholder object
        }
        let relative = Path::new(relative);
        if !relative
            .components()
            .all(|c| matches!(c, Component::Normal(_)))
        {
            return Err(BucketError(format!(
                "{} holds an object named {name:?}, which cannot be a file name",
                bucket.url
            )));
        }
        let target = dest.join(relative);
        let got = bucket
            .store
            .get(&meta.location)
            .await
            .map_err(|e| explain(&bucket.url.join(relative_str(relative)), &e))?;
        let data = got.bytes().await.map_err(|e| explain(&bucket.url, &e))?;
        if let Some(parent) = target.parent() {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(|e| BucketError(format!("cannot create {}: {e}", parent.display())))?;
        }
        tokio::fs::write(&target, &data)
            .await
            .map_err(|e| BucketError(format!("cannot write {}: {e}", target.display())))?;
        copied += 1;
    }
    if copied == 0 {
        return Err(BucketError(format!(
            "{} holds no objects: check the path",
            bucket.url
        )));
    }
    Ok(copied)
}

fn relative_str(path: &Path) -> &str {
    path.to_str().unwrap_or_default()
}
