//! Where a Vertex AI connection's access tokens come from: Application Default
//! Credentials and key files through `google-cloud-auth` (which refreshes them), or the
//! account gcloud is signed in with (`gcloud auth print-access-token`).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use google_cloud_auth::credentials::{CacheableResource, Credentials};
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use tokio::sync::Mutex;

use crate::platform::PlatformError;

/// How long a token printed by gcloud is reused (gcloud's tokens live an hour).
const GCLOUD_TOKEN_REUSE: Duration = Duration::from_secs(30 * 60);

/// A source of `Authorization` headers for Google APIs.
pub enum TokenSource {
    /// Credentials `google-cloud-auth` refreshes by itself; `what` names them for messages.
    Google {
        /// The service account key or user credentials signing in.
        credentials: Credentials,
        /// E.g. "the service account ci@p.iam.gserviceaccount.com".
        what: String,
    },
    /// Tokens printed by `gcloud auth print-access-token`, reused for half an hour.
    Gcloud {
        /// The `gcloud` to ask for tokens.
        program: PathBuf,
        /// The last token and when it was printed.
        cached: Mutex<Option<(String, Instant)>>,
    },
}

impl TokenSource {
    /// Credentials from the JSON of a key file (`service_account`) or of gcloud's
    /// `application_default_credentials.json` (`authorized_user`).
    pub fn from_key_json(json: &str) -> Result<TokenSource, String> {
        let value: serde_json::Value = serde_json::from_str(json).map_err(|e| {
            format!("the key is not JSON ({e}); pick the .json key file Google gave you")
        })?;
        let kind = value
            .get("type")
            .and_then(|t| t.as_str())
            .unwrap_or_default();
        let (credentials, what) = match kind {
            "service_account" => {
                let email = value
                    .get("client_email")
                    .and_then(|e| e.as_str())
                    .unwrap_or("(no client_email)")
                    .to_owned();
                let credentials =
                    google_cloud_auth::credentials::service_account::Builder::new(value)
                        .build()
                        .map_err(|e| format!("the service-account key cannot be used: {e}"))?;
                (credentials, format!("the service account {email}"))
            }
            "authorized_user" => {
                let account = value
                    .get("account")
                    .and_then(|e| e.as_str())
                    .filter(|a| !a.is_empty())
                    .map_or_else(
                        || "your user account".to_owned(),
                        |a| format!("the account {a}"),
                    );
                let credentials = google_cloud_auth::credentials::user_account::Builder::new(value)
                    .build()
                    .map_err(|e| format!("the user credentials cannot be used: {e}"))?;
                (credentials, account)
            }
            "" => return Err(
                "the key file has no \"type\"; pick a service-account key (type service_account)"
                    .into(),
            ),
            other => {
                return Err(format!(
                    "credentials of type {other:?} are used through GOOGLE_APPLICATION_CREDENTIALS; pick Application Default Credentials and set it to the file"
                ));
            }
        };
        Ok(TokenSource::Google { credentials, what })
    }

    /// Application Default Credentials: `GOOGLE_APPLICATION_CREDENTIALS`, then gcloud's
    /// `application_default_credentials.json` (in `$CLOUDSDK_CONFIG` when set), then the
    /// metadata server when this machine runs on Google Cloud.
    pub fn application_default() -> Result<TokenSource, String> {
        if let Some(path) = std::env::var_os("GOOGLE_APPLICATION_CREDENTIALS") {
            let path = PathBuf::from(path);
            let json = std::fs::read_to_string(&path).map_err(|e| {
                format!(
                    "GOOGLE_APPLICATION_CREDENTIALS names {}, which cannot be read ({e})",
                    path.display()
                )
            })?;
            return TokenSource::from_key_json(&json)
                .map_err(|e| format!("{}: {e}", path.display()));
        }
        if let Some(path) = gcloud_adc_file()
            && let Ok(json) = std::fs::read_to_string(&path)
        {
            return TokenSource::from_key_json(&json)
                .map_err(|e| format!("{}: {e}", path.display()));
        }
        if std::env::var_os("GCE_METADATA_HOST").is_some() || on_google_cloud() {
            let credentials = google_cloud_auth::credentials::Builder::default()
                .build()
                .map_err(|e| format!("the metadata server's credentials cannot be used: {e}"))?;
            return Ok(TokenSource::Google {
                credentials,
                what: "this machine's service account".into(),
            });
        }
        Err("no Application Default Credentials on this machine: run `gcloud auth application-default login` (or pick a key file for the connection)".into())
    }

    /// gcloud's current account, through `program` (`gcloud` on the PATH by default).
    pub fn gcloud(program: Option<PathBuf>) -> TokenSource {
        TokenSource::Gcloud {
            program: program.unwrap_or_else(|| PathBuf::from("gcloud")),
            cached: Mutex::new(None),
        }
    }

    /// Who the tokens speak for, for messages.
    pub fn what(&self) -> String {
        match self {
            TokenSource::Google { what, .. } => what.clone(),
            TokenSource::Gcloud { .. } => "gcloud's current account".into(),
        }
    }

    /// What to run to sign in again.
    pub fn sign_in_hint(&self) -> &'static str {
        match self {
            TokenSource::Google { .. } => {
                "run `gcloud auth application-default login` (or give the connection a fresh key file)"
            }
            TokenSource::Gcloud { .. } => "run `gcloud auth login`",
        }
    }

    /// The headers that authenticate a call (`Authorization`, and `x-goog-user-project`
    /// where the credentials name a quota project).
    pub async fn headers(&self) -> Result<HeaderMap, PlatformError> {
        match self {
            TokenSource::Google { credentials, what } => {
                match credentials.headers(http::Extensions::new()).await {
                    Ok(CacheableResource::New { data, .. }) => Ok(data),
                    Ok(CacheableResource::NotModified) => Err(PlatformError::Protocol(
                        "the credentials answered \"not modified\" to a fresh request".into(),
                    )),
                    Err(e) => Err(PlatformError::Unauthenticated(format!(
                        "{what} could not get an access token ({e}); {}",
                        self.sign_in_hint()
                    ))),
                }
            }
            TokenSource::Gcloud { program, cached } => {
                let mut cached = cached.lock().await;
                let token = match &*cached {
                    Some((token, at)) if at.elapsed() < GCLOUD_TOKEN_REUSE => token.clone(),
                    _ => {
                        let token = print_access_token(program).await?;
                        *cached = Some((token.clone(), Instant::now()));
                        token
                    }
                };
                bearer(&token)
            }
        }
    }

    /// Forgets a token the server refused, so the next call gets a new one.
    pub async fn refused(&self) {
        if let TokenSource::Gcloud { cached, .. } = self {
            *cached.lock().await = None;
        }
    }
}

#[async_trait::async_trait]
impl crate::buckets::BucketToken for TokenSource {
    async fn bearer(&self) -> Result<String, String> {
        let headers = self.headers().await.map_err(|e| e.to_string())?;
        headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::to_owned)
            .ok_or_else(|| format!("{} gave no bearer token", self.what()))
    }
}

fn bearer(token: &str) -> Result<HeaderMap, PlatformError> {
    let value = HeaderValue::from_str(&format!("Bearer {token}"))
        .map_err(|_| PlatformError::Unauthenticated("the access token is not valid text".into()))?;
    let mut headers = HeaderMap::new();
    headers.insert(AUTHORIZATION, value);
    Ok(headers)
}

async fn print_access_token(program: &PathBuf) -> Result<String, PlatformError> {
    let output = tokio::process::Command::new(program)
        .args(["auth", "print-access-token", "--quiet"])
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(60), output)
        .await
        .map_err(|_| {
            PlatformError::Unauthenticated("`gcloud auth print-access-token` took over 60 s".into())
        })?
        .map_err(|e| {
            PlatformError::Unauthenticated(format!(
                "cannot run {} ({e}); install the Google Cloud CLI or pick other credentials",
                program.display()
            ))
        })?;
    let token = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    if !output.status.success() || token.is_empty() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let reason = stderr
            .lines()
            .map(str::trim)
            .find(|l| l.starts_with("ERROR"))
            .or_else(|| stderr.lines().map(str::trim).find(|l| !l.is_empty()))
            .unwrap_or("it printed no token");
        return Err(PlatformError::Unauthenticated(format!(
            "`gcloud auth print-access-token` failed: {reason}"
        )));
    }
    Ok(token)
}

/// gcloud's ADC file: `$CLOUDSDK_CONFIG/application_default_credentials.json`, else the
/// platform's gcloud config folder (`google-cloud-auth` does not read `CLOUDSDK_CONFIG`).
fn gcloud_adc_file() -> Option<PathBuf> {
    let dir = match std::env::var_os("CLOUDSDK_CONFIG") {
        Some(dir) => PathBuf::from(dir),
        None if cfg!(windows) => PathBuf::from(std::env::var_os("APPDATA")?).join("gcloud"),
        None => PathBuf::from(std::env::var_os("HOME")?).join(".config/gcloud"),
    };
    Some(dir.join("application_default_credentials.json"))
}

/// True on a Google Cloud VM (as google-auth decides on Linux), where the metadata
/// server hands out tokens.
fn on_google_cloud() -> bool {
    std::fs::read_to_string("/sys/class/dmi/id/product_name")
        .is_ok_and(|name| name.trim().starts_with("Google"))
}
