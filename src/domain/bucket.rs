//! Places that may be a local folder or a bucket prefix (`gs://bucket/prefix`,
//! `s3://bucket/prefix`): log dirs, version artifacts, batch prediction files.

use std::fmt;
use std::path::PathBuf;

/// Which object store a bucket lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BucketKind {
    /// Google Cloud Storage (`gs://`).
    Gcs,
    /// Amazon S3 or an S3-compatible store (`s3://`).
    S3,
}

impl BucketKind {
    /// The URL scheme, with `://`.
    pub fn scheme(self) -> &'static str {
        match self {
            BucketKind::Gcs => "gs://",
            BucketKind::S3 => "s3://",
        }
    }
}

/// A bucket and a prefix inside it, parsed from `gs://…` or `s3://…`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BucketUrl {
    /// The store.
    pub kind: BucketKind,
    /// The bucket's name.
    pub bucket: String,
    /// The object-name prefix, without leading or trailing `/` (empty: the whole bucket).
    pub prefix: String,
}

/// Why text is not a bucket URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidBucketUrl(String);

/// Longest accepted URL: S3 keys and GCS names stop at 1 024 bytes.
const MAX_URL_LEN: usize = 1100;

impl BucketUrl {
    /// True when `text` names a bucket (starts with `gs://` or `s3://`).
    pub fn is_bucket(text: &str) -> bool {
        let text = text.trim_start();
        text.starts_with("gs://") || text.starts_with("s3://")
    }

    /// Parses `gs://bucket[/prefix]` or `s3://bucket[/prefix]`.
    pub fn parse(text: &str) -> Result<BucketUrl, InvalidBucketUrl> {
        let text = text.trim();
        if text.len() > MAX_URL_LEN {
            return Err(InvalidBucketUrl(format!(
                "a bucket URL is at most {MAX_URL_LEN} characters"
            )));
        }
        let (kind, rest) = if let Some(rest) = text.strip_prefix("gs://") {
            (BucketKind::Gcs, rest)
        } else if let Some(rest) = text.strip_prefix("s3://") {
            (BucketKind::S3, rest)
        } else {
            return Err(InvalidBucketUrl(format!(
                "{text:?} is not a bucket URL: write gs://bucket/prefix or s3://bucket/prefix"
            )));
        };
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let valid_bucket = (3..=222).contains(&bucket.len())
            && bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.".contains(&b))
            && bucket
                .bytes()
                .next()
                .is_some_and(|b| b.is_ascii_alphanumeric());
        if !valid_bucket {
            return Err(InvalidBucketUrl(format!(
                "{bucket:?} is not a bucket name: 3 to 222 lowercase letters, digits, '-', '_' and '.', starting with a letter or digit"
            )));
        }
        let prefix = prefix.trim_matches('/');
        if prefix.split('/').any(|part| part == "." || part == "..")
            || prefix.contains("//")
            || prefix.chars().any(char::is_control)
        {
            return Err(InvalidBucketUrl(format!(
                "{prefix:?} is not an object prefix: no empty, '.' or '..' parts and no control characters"
            )));
        }
        Ok(BucketUrl {
            kind,
            bucket: bucket.to_owned(),
            prefix: prefix.to_owned(),
        })
    }

    /// The URL of `name` (relative to this prefix) in the same bucket.
    pub fn join(&self, name: &str) -> BucketUrl {
        let name = name.trim_matches('/');
        let prefix = match (self.prefix.is_empty(), name.is_empty()) {
            (_, true) => self.prefix.clone(),
            (true, false) => name.to_owned(),
            (false, false) => format!("{}/{name}", self.prefix),
        };
        BucketUrl {
            prefix,
            ..self.clone()
        }
    }
}

impl fmt::Display for BucketUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.kind.scheme(), self.bucket)?;
        if !self.prefix.is_empty() {
            write!(f, "/{}", self.prefix)?;
        }
        Ok(())
    }
}

/// A folder on this machine or a prefix in a bucket.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Location {
    /// A local folder.
    Local(PathBuf),
    /// A bucket prefix.
    Bucket(BucketUrl),
}

impl Location {
    /// A bucket when `text` starts with `gs://` or `s3://`, else a local path.
    pub fn parse(text: &str) -> Result<Location, InvalidBucketUrl> {
        if BucketUrl::is_bucket(text) {
            BucketUrl::parse(text).map(Location::Bucket)
        } else {
            Ok(Location::Local(PathBuf::from(text.trim())))
        }
    }
}

impl From<PathBuf> for Location {
    fn from(path: PathBuf) -> Location {
        Location::Local(path)
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Local(path) => write!(f, "{}", path.display()),
            Location::Bucket(url) => url.fmt(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_buckets_and_prefixes() {
        let url = BucketUrl::parse("gs://my-bucket/jobs/run1/").unwrap();
        assert_eq!(url.kind, BucketKind::Gcs);
        assert_eq!(url.bucket, "my-bucket");
        assert_eq!(url.prefix, "jobs/run1");
        assert_eq!(url.to_string(), "gs://my-bucket/jobs/run1");
        let url = BucketUrl::parse("s3://logs").unwrap();
        assert_eq!((url.kind, url.prefix.as_str()), (BucketKind::S3, ""));
        assert_eq!(url.join("a/b").to_string(), "s3://logs/a/b");
        assert_eq!(
            Location::parse("/tmp/x").unwrap(),
            Location::Local("/tmp/x".into())
        );
    }

    #[test]
    fn refuses_what_is_not_a_bucket() {
        for bad in [
            "gs://",
            "gs://AB",
            "gs://ok-bucket/../etc",
            "s3://b\u{0}x/y",
            "gs://bucket/a//b",
            "http://x/y",
        ] {
            assert!(BucketUrl::parse(bad).is_err(), "{bad}");
        }
        assert!(BucketUrl::parse(&format!("gs://bkt/{}", "a".repeat(2000))).is_err());
    }
}
