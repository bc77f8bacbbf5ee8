//! Reading and writing buckets (`gs://`, `s3://`) through `object_store`: one place that
//! opens a store for a [`BucketUrl`] with the right credentials and emulator settings, and
//! turns its errors into what the user should do.
//!
//! Credentials: for `gs://`, a connection's token when one is given (a Vertex AI job's
//! dir), else Application Default Credentials; for `s3://`, the AWS environment and
//! shared credentials/config files. `STORAGE_EMULATOR_HOST` (GCS) and `AWS_ENDPOINT_URL`
//! (S3) point them at an emulator or MinIO instead.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use object_store::aws::AmazonS3Builder;
use object_store::gcp::{GcpCredential, GoogleCloudStorageBuilder};
use object_store::{ClientOptions, CredentialProvider, ObjectStore, RetryConfig};

pub use crate::domain::bucket::{BucketKind, BucketUrl, Location};

mod aws_profile;
mod transfer;

pub use transfer::{download_prefix, read_object, write_object};

/// A source of bearer tokens for Cloud Storage (a connection's credentials).
#[async_trait]
pub trait BucketToken: Send + Sync {
    /// A token for `Authorization: Bearer …`, or why there is none.
    async fn bearer(&self) -> Result<String, String>;
}

/// How to reach buckets: credentials and emulator endpoints.
#[derive(Clone, Default)]
pub struct BucketAccess {
    /// Tokens for `gs://` (else Application Default Credentials).
    pub gcs_token: Option<Arc<dyn BucketToken>>,
    /// A GCS emulator's base URL (`STORAGE_EMULATOR_HOST`) instead of Google's.
    pub gcs_emulator: Option<String>,
    /// An S3-compatible endpoint (`AWS_ENDPOINT_URL_S3`, `AWS_ENDPOINT_URL`) instead of AWS.
    pub s3_endpoint: Option<String>,
}

impl BucketAccess {
    /// No token; the emulator endpoints the environment names.
    pub fn from_env() -> BucketAccess {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        BucketAccess {
            gcs_token: None,
            gcs_emulator: var("STORAGE_EMULATOR_HOST").map(|host| {
                let host = host.trim().trim_end_matches('/');
                if host.contains("://") {
                    host.to_owned()
                } else {
                    format!("http://{host}")
                }
            }),
            s3_endpoint: var("AWS_ENDPOINT_URL_S3").or_else(|| var("AWS_ENDPOINT_URL")),
        }
    }

    /// The same endpoints, with `token` for `gs://`.
    pub fn with_gcs_token(&self, token: Option<Arc<dyn BucketToken>>) -> BucketAccess {
        BucketAccess {
            gcs_token: token,
            ..self.clone()
        }
    }
}

impl fmt::Debug for BucketAccess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BucketAccess")
            .field("gcs_token", &self.gcs_token.is_some())
            .field("gcs_emulator", &self.gcs_emulator)
            .field("s3_endpoint", &self.s3_endpoint)
            .finish()
    }
}

/// A bucket could not be opened or read; the message says what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BucketError(pub String);

/// An open store and the prefix inside it.
#[derive(Clone)]
pub struct Bucket {
    /// Where it is.
    pub url: BucketUrl,
    /// The bucket's store (paths relative to the bucket's root).
    pub store: Arc<dyn ObjectStore>,
}

impl fmt::Debug for Bucket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Bucket({})", self.url)
    }
}

/// Requests that fail for a transient reason are retried this often, within this long.
const RETRIES: usize = 3;
const RETRY_WITHIN: Duration = Duration::from_secs(20);
/// One request may take this long (a 32 MiB ranged read on a slow link included).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Opens the bucket of `url` (no request is made yet).
pub fn open(url: &BucketUrl, access: &BucketAccess) -> Result<Bucket, BucketError> {
    let retry = RetryConfig {
        max_retries: RETRIES,
        retry_timeout: RETRY_WITHIN,
        ..RetryConfig::default()
    };
    let mut options = ClientOptions::new()
        .with_timeout(REQUEST_TIMEOUT)
        .with_connect_timeout(CONNECT_TIMEOUT);
    let store: Arc<dyn ObjectStore> = match url.kind {
        BucketKind::Gcs => {
            let mut builder = GoogleCloudStorageBuilder::from_env()
                .with_bucket_name(&url.bucket)
                .with_retry(retry);
            let emulator = &access.gcs_emulator;
            if let Some(base) = emulator {
                options = options.with_allow_http(base.starts_with("http://"));
                builder = builder.with_base_url(base);
            }
            if let Some(token) = &access.gcs_token {
                builder = builder.with_credentials(Arc::new(TokenProvider(token.clone())));
            } else if emulator.is_some() {
                // Emulators take any request; asking Google for a token would fail.
                builder = builder
                    .with_credentials(Arc::new(object_store::StaticCredentialProvider::new(
                        GcpCredential {
                            bearer: String::new(),
                        },
                    )))
                    .with_skip_signature(true);
            }
            Arc::new(
                builder
                    .with_client_options(options)
                    .build()
                    .map_err(|e| credentials_error(url, &e))?,
            )
        }
        BucketKind::S3 => {
            let mut builder = AmazonS3Builder::from_env()
                .with_bucket_name(&url.bucket)
                .with_retry(retry);
            if let Some(endpoint) = &access.s3_endpoint {
                options = options.with_allow_http(endpoint.starts_with("http://"));
                builder = builder
                    .with_endpoint(endpoint)
                    .with_virtual_hosted_style_request(false);
            }
            builder = aws_profile::apply(builder);
            Arc::new(
                builder
                    .with_client_options(options)
                    .build()
                    .map_err(|e| credentials_error(url, &e))?,
            )
        }
    };
    Ok(Bucket {
        url: url.clone(),
        store,
    })
}

fn credentials_error(url: &BucketUrl, e: &object_store::Error) -> BucketError {
    let what = match url.kind {
        BucketKind::Gcs => {
            "sign in with `gcloud auth application-default login`, or set GOOGLE_APPLICATION_CREDENTIALS to a service-account key"
        }
        BucketKind::S3 => {
            "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE) and AWS_REGION"
        }
    };
    BucketError(format!("cannot open {url}: {e}; {what}"))
}

/// What went wrong reading `url`, and what to do about it.
pub fn explain(url: &BucketUrl, e: &object_store::Error) -> BucketError {
    use object_store::Error as E;
    let bucket = format!("{}{}", url.kind.scheme(), url.bucket);
    let text = match e {
        E::NotFound { .. } => format!(
            "{url} was not found: check that the bucket {bucket} exists and the path is right"
        ),
        E::PermissionDenied { .. } => format!(
            "no permission to read {url} (403): grant the account you sign in with read access to {bucket} (roles/storage.objectViewer, or s3:ListBucket and s3:GetObject)"
        ),
        E::Unauthenticated { .. } => format!(
            "{bucket} refused the credentials (401): {}",
            match url.kind {
                BucketKind::Gcs =>
                    "sign in again (`gcloud auth application-default login`) or check the connection's key",
                BucketKind::S3 => "check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or AWS_PROFILE",
            }
        ),
        other => {
            let detail = other.to_string();
            let said = ServerSaid::parse(&detail);
            let code = said.code.unwrap_or_default();
            if code == "NoSuchBucket"
                || said
                    .message
                    .is_some_and(|m| m.starts_with("no bucket named"))
            {
                format!("the bucket {bucket} does not exist: check its name")
            } else if matches!(
                code,
                "InvalidAccessKeyId" | "SignatureDoesNotMatch" | "ExpiredToken"
            ) {
                format!(
                    "{bucket} refused the credentials ({}): check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or AWS_PROFILE",
                    said.summary()
                )
            } else if said.status == Some(403) {
                format!(
                    "no permission to read {url} ({}): grant the account you sign in with read access to {bucket}",
                    said.summary()
                )
            } else if said.status.is_some() {
                format!("could not read {url}: {}", said.summary())
            } else {
                format!("could not read {url}: {detail}")
            }
        }
    };
    BucketError(text)
}

/// The status, error code and message a store answered with, picked out of
/// `object_store`'s error text (its XML or JSON body included).
struct ServerSaid<'a> {
    status: Option<u16>,
    code: Option<&'a str>,
    message: Option<&'a str>,
}

impl<'a> ServerSaid<'a> {
    fn parse(detail: &'a str) -> ServerSaid<'a> {
        let between = |open: &str, close: &str| {
            let start = detail.find(open)? + open.len();
            let len = detail[start..].find(close)?;
            Some(&detail[start..start + len])
        };
        ServerSaid {
            status: between("status code: ", " ").and_then(|s| s.parse().ok()),
            code: between("<Code>", "</Code>"),
            message: between("<Message>", "</Message>"),
        }
    }

    fn summary(&self) -> String {
        let mut parts = Vec::new();
        if let Some(status) = self.status {
            parts.push(status.to_string());
        }
        parts.extend(self.code.map(str::to_owned));
        let head = parts.join(" ");
        match self.message {
            Some(m) if head.is_empty() => m.to_owned(),
            Some(m) => format!("{head}: {m}"),
            None => head,
        }
    }
}

/// Adapts a [`BucketToken`] to `object_store`'s credential provider.
struct TokenProvider(Arc<dyn BucketToken>);

impl fmt::Debug for TokenProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenProvider")
    }
}

#[async_trait]
impl CredentialProvider for TokenProvider {
    type Credential = GcpCredential;

    async fn get_credential(&self) -> object_store::Result<Arc<GcpCredential>> {
        match self.0.bearer().await {
            Ok(bearer) => Ok(Arc::new(GcpCredential { bearer })),
            Err(message) => Err(object_store::Error::Unauthenticated {
                path: String::new(),
                source: message.into(),
            }),
        }
    }
}
