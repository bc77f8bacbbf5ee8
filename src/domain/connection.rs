//! Connections: named, coloured platform accounts the console drives at once (the local
//! engine, Ray clusters, Vertex AI projects). These are the non-secret settings; secrets
//! live in the OS keyring.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// A connection's stable id: chosen once from its first name, never shown to change.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ConnectionId(Arc<str>);

impl ConnectionId {
    /// The id of the built-in local engine connection.
    pub const LOCAL: &'static str = "local";

    /// An id from its text.
    pub fn new(id: &str) -> ConnectionId {
        ConnectionId(Arc::from(id))
    }

    /// The built-in local engine connection.
    pub fn local() -> ConnectionId {
        ConnectionId::new(ConnectionId::LOCAL)
    }

    /// The id's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ConnectionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A job as the console knows it: the connection it runs on and its id there.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct JobKey {
    /// Where the job runs.
    pub connection: ConnectionId,
    /// The job's id on that connection's platform.
    pub job_id: String,
}

impl JobKey {
    /// The key of `job_id` on `connection`.
    pub fn new(connection: &ConnectionId, job_id: &str) -> JobKey {
        JobKey {
            connection: connection.clone(),
            job_id: job_id.to_owned(),
        }
    }
}

/// A job with the name of its connection, as the console's filter sees it: every job
/// field, plus `connection`.
pub struct ListedJob<'a> {
    /// The connection's name.
    pub connection: &'a str,
    /// The job, borrowed from the list.
    pub job: &'a crate::domain::Job,
}

impl crate::domain::Filterable for ListedJob<'_> {
    fn field_kind(key: &str) -> Option<crate::domain::FieldKind> {
        match key {
            "connection" => Some(crate::domain::FieldKind::Text),
            _ => <crate::domain::Job as crate::domain::Filterable>::field_kind(key),
        }
    }

    fn known_fields() -> Vec<&'static str> {
        let mut fields = vec!["connection"];
        fields.extend(<crate::domain::Job as crate::domain::Filterable>::known_fields());
        fields
    }

    fn field(&self, key: &str) -> crate::domain::FieldValue<'_> {
        match key {
            "connection" => {
                crate::domain::FieldValue::Text(std::borrow::Cow::Borrowed(self.connection))
            }
            _ => self.job.field(key),
        }
    }
}

/// Where a Vertex AI connection gets its credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum VertexCredentials {
    /// Application Default Credentials: `GOOGLE_APPLICATION_CREDENTIALS`, gcloud's
    /// `application_default_credentials.json`, or the metadata server.
    ApplicationDefault,
    /// A service-account key file, copied into the keyring when picked.
    ServiceAccountKey,
    /// The account gcloud is signed in with (`gcloud auth print-access-token`).
    Gcloud,
}

impl VertexCredentials {
    /// Every source, in the order the form offers them.
    pub const ALL: [VertexCredentials; 3] = [
        VertexCredentials::ApplicationDefault,
        VertexCredentials::ServiceAccountKey,
        VertexCredentials::Gcloud,
    ];

    /// How the form names it.
    pub fn label(self) -> &'static str {
        match self {
            VertexCredentials::ApplicationDefault => "Application Default Credentials",
            VertexCredentials::ServiceAccountKey => "Service-account key file",
            VertexCredentials::Gcloud => "gcloud's current account",
        }
    }
}

/// What a connection connects to, with the settings of that kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum ConnectionKind {
    /// An mlconsole engine on this machine, found through its data dir (`engine.json`
    /// says where it listens, `token` holds its bearer token).
    #[serde(rename_all = "camelCase")]
    Local {
        /// The engine's data dir; `None` is the platform's default.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        data_dir: Option<PathBuf>,
    },
    /// A Ray cluster: its dashboard (Jobs API) and Serve HTTP proxy. An optional token
    /// is kept in the keyring.
    #[serde(rename_all = "camelCase")]
    Ray {
        /// E.g. `http://127.0.0.1:8265`.
        dashboard_url: String,
        /// E.g. `http://127.0.0.1:8000`; `None` is the dashboard's host on port 8000.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        serve_url: Option<String>,
    },
    /// A Google Cloud project's Vertex AI in one region.
    #[serde(rename_all = "camelCase")]
    Vertex {
        /// The Google Cloud project id (not its number).
        project: String,
        /// E.g. `us-central1`.
        region: String,
        /// Where credentials come from.
        credentials: VertexCredentials,
        /// One address for Vertex AI, Cloud Logging and Cloud Monitoring instead of
        /// Google's (`https://{region}-aiplatform.googleapis.com` and the global hosts),
        /// e.g. a Private Service Connect endpoint or an emulator.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        api_endpoint: Option<String>,
    },
}

/// Where a platform's jobs find their files: paths on this machine, or Cloud Storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobPaths {
    /// Absolute paths on this machine (the local engine; Ray uploads them).
    Local,
    /// `gs://` URIs (Vertex AI).
    CloudStorage,
}

impl JobPaths {
    /// Checks a folder a job reads or writes; the message says what to give.
    pub fn check_dir(self, text: &str) -> Result<(), String> {
        match self {
            JobPaths::CloudStorage if !text.starts_with("gs://") => {
                Err("Vertex AI jobs write to Cloud Storage: give a gs:// prefix".into())
            }
            JobPaths::Local if !std::path::Path::new(text).is_absolute() => {
                Err("must be an absolute path".into())
            }
            _ => Ok(()),
        }
    }

    /// Checks a Python package a module job installs.
    pub fn check_package(self, package: &str) -> Result<(), String> {
        match self {
            JobPaths::CloudStorage if !package.starts_with("gs://") => Err(format!(
                "{package:?}: give the gs:// URI of a built package (sdist or wheel)"
            )),
            JobPaths::Local if !std::path::Path::new(package).is_absolute() => {
                Err(format!("{package:?} must be an absolute path"))
            }
            _ => Ok(()),
        }
    }
}

impl ConnectionKind {
    /// Where this platform's jobs find their files.
    pub fn job_paths(&self) -> JobPaths {
        match self {
            ConnectionKind::Vertex { .. } => JobPaths::CloudStorage,
            ConnectionKind::Local { .. } | ConnectionKind::Ray { .. } => JobPaths::Local,
        }
    }

    /// The first address of this connection that is plain `http://` to another machine:
    /// its token (or Google credentials) would cross the network in clear.
    pub fn cleartext_remote(&self) -> Option<&str> {
        let urls: Vec<&str> = match self {
            ConnectionKind::Local { .. } => Vec::new(),
            ConnectionKind::Ray {
                dashboard_url,
                serve_url,
            } => [Some(dashboard_url.as_str()), serve_url.as_deref()]
                .into_iter()
                .flatten()
                .collect(),
            ConnectionKind::Vertex { api_endpoint, .. } => {
                api_endpoint.as_deref().into_iter().collect()
            }
        };
        urls.into_iter().find(|url| {
            let Some(rest) = url.trim().strip_prefix("http://") else {
                return false;
            };
            let authority = rest.split('/').next().unwrap_or_default();
            let host = match authority.rsplit_once(':') {
                Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
                _ => authority,
            };
            let host = host.trim_matches(['[', ']']);
            let loopback = host.eq_ignore_ascii_case("localhost")
                || host
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback());
            !loopback
        })
    }

    /// What the kind is called, e.g. "Ray cluster".
    pub fn label(&self) -> &'static str {
        match self {
            ConnectionKind::Local { .. } => "Local engine",
            ConnectionKind::Ray { .. } => "Ray cluster",
            ConnectionKind::Vertex { .. } => "Vertex AI",
        }
    }

    /// True when the kind can hold a secret in the keyring (a token or a key).
    pub fn takes_secret(&self) -> bool {
        match self {
            ConnectionKind::Local { .. } => false,
            ConnectionKind::Ray { .. } => true,
            ConnectionKind::Vertex { credentials, .. } => {
                *credentials == VertexCredentials::ServiceAccountKey
            }
        }
    }
}

/// One connection's settings (no secrets: those are in the keyring under its id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionConfig {
    /// Stable id: the keyring entry and the jobs' keys use it.
    pub id: ConnectionId,
    /// What the user calls it; unique; `connection=NAME` filters by it.
    pub name: String,
    /// Its colour in rows and chips, `#rrggbb`.
    #[serde(with = "hex_color")]
    pub color: [u8; 3],
    /// Refuse every mutating action (submit, cancel, deploy, set default, delete).
    #[serde(default)]
    pub read_only: bool,
    /// Connect at start and keep connected.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// What it connects to.
    #[serde(flatten)]
    pub kind: ConnectionKind,
}

fn yes() -> bool {
    true
}

/// Colours offered to new connections, in turn.
pub const PALETTE: [[u8; 3]; 8] = [
    [0x3b, 0x82, 0xf6],
    [0xf5, 0x9e, 0x0b],
    [0x10, 0xb9, 0x81],
    [0xec, 0x48, 0x99],
    [0x8b, 0x5c, 0xf6],
    [0x06, 0xb6, 0xd4],
    [0xef, 0x44, 0x44],
    [0x84, 0xcc, 0x16],
];

impl ConnectionConfig {
    /// The built-in local engine connection.
    pub fn local_default() -> ConnectionConfig {
        ConnectionConfig {
            id: ConnectionId::local(),
            name: "local".into(),
            color: PALETTE[0],
            read_only: false,
            enabled: true,
            kind: ConnectionKind::Local { data_dir: None },
        }
    }

    /// True for the built-in local engine connection, which cannot be removed.
    pub fn is_builtin(&self) -> bool {
        self.id.as_str() == ConnectionId::LOCAL
    }

    /// Checks what a person typed; the message names the field.
    pub fn validate(&self, others: &[ConnectionConfig]) -> Result<(), ConnectionFieldError> {
        let field = |field: &'static str, message: String| ConnectionFieldError { field, message };
        validate_name(&self.name).map_err(|m| field("name", m))?;
        if let Some(twin) = others
            .iter()
            .find(|c| c.id != self.id && c.name.eq_ignore_ascii_case(&self.name))
        {
            return Err(field(
                "name",
                format!("another connection is already called {:?}", twin.name),
            ));
        }
        match &self.kind {
            ConnectionKind::Local { data_dir } => {
                if let Some(dir) = data_dir
                    && !dir.is_absolute()
                {
                    return Err(field(
                        "data_dir",
                        format!("{} is not an absolute folder path", dir.display()),
                    ));
                }
            }
            ConnectionKind::Ray {
                dashboard_url,
                serve_url,
            } => {
                validate_http_url(dashboard_url).map_err(|m| field("dashboard_url", m))?;
                if let Some(url) = serve_url {
                    validate_http_url(url).map_err(|m| field("serve_url", m))?;
                }
            }
            ConnectionKind::Vertex {
                project,
                region,
                api_endpoint,
                ..
            } => {
                validate_project(project).map_err(|m| field("project", m))?;
                validate_region(region).map_err(|m| field("region", m))?;
                if let Some(url) = api_endpoint {
                    validate_http_url(url).map_err(|m| field("api_endpoint", m))?;
                }
            }
        }
        Ok(())
    }
}

/// A connection setting that is not valid: which field and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ConnectionFieldError {
    /// The field: `name`, `data_dir`, `dashboard_url`, `serve_url`, `project`, `region`,
    /// `api_endpoint`.
    pub field: &'static str,
    /// What is wrong.
    pub message: String,
}

/// A name: 1–40 characters of letters, digits, `-`, `_` or `.`, starting with a letter,
/// so `connection=NAME` needs no quotes.
pub fn validate_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("give the connection a name".into());
    }
    if name.chars().count() > 40 {
        return Err("a name has at most 40 characters".into());
    }
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(char::is_alphabetic);
    if !first_ok || !chars.all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.')) {
        return Err(format!(
            "{name:?}: start with a letter, then use letters, digits, '-', '_' or '.'"
        ));
    }
    Ok(())
}

/// An `http://` or `https://` URL with a host.
pub fn validate_http_url(url: &str) -> Result<(), String> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or_else(|| format!("{url:?} is not an http:// or https:// address"))?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if host.is_empty() || host.contains(char::is_whitespace) {
        return Err(format!("{url:?} has no host, e.g. http://127.0.0.1:8265"));
    }
    Ok(())
}

/// A Google Cloud project id: 6–30 lowercase letters, digits or hyphens, starting with a
/// letter (or a domain-scoped `example.com:project`).
pub fn validate_project(project: &str) -> Result<(), String> {
    let id = project.rsplit(':').next().unwrap_or(project);
    let ok = (6..=30).contains(&id.len())
        && id.starts_with(|c: char| c.is_ascii_lowercase())
        && !id.ends_with('-')
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{project:?} is not a project id (6–30 lowercase letters, digits or hyphens, starting with a letter)"
        ))
    }
}

/// A Google Cloud region such as `us-central1` or `europe-west4`.
pub fn validate_region(region: &str) -> Result<(), String> {
    let ok = region.contains('-')
        && region.starts_with(|c: char| c.is_ascii_lowercase())
        && region
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{region:?} is not a region, e.g. us-central1 or europe-west4"
        ))
    }
}

/// A new id for a connection first called `name`, unique among `taken`.
pub fn new_id(name: &str, taken: &[ConnectionConfig]) -> ConnectionId {
    let mut base: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    if base.is_empty() || base == ConnectionId::LOCAL {
        base = format!("c-{base}");
    }
    let free = |id: &str| taken.iter().all(|c| c.id.as_str() != id);
    if free(&base) {
        return ConnectionId::new(&base);
    }
    let n = (2..).find(|n| free(&format!("{base}-{n}"))).unwrap_or(0);
    ConnectionId::new(&format!("{base}-{n}"))
}

/// Whether a platform can do something, and if not, why (shown in place of it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Support {
    /// It can.
    Yes,
    /// It cannot; the text says so in the user's terms.
    No(&'static str),
}

impl Support {
    /// True when supported.
    pub fn yes(self) -> bool {
        self == Support::Yes
    }

    /// Why not, when not supported.
    pub fn why_not(self) -> Option<&'static str> {
        match self {
            Support::Yes => None,
            Support::No(why) => Some(why),
        }
    }
}

/// What a connection's platform can do; tabs hide or explain what it cannot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    /// Log lines carry a severity (else every line shows as unknown).
    pub log_severity: Support,
    /// Log lines carry the time they were written (else the time they were read).
    pub log_timestamps: Support,
    /// Job dirs are folders this machine can read (Scalars, Open job dir, Deploy).
    pub local_job_dirs: Support,
    /// CPU and memory samples per job.
    pub resource_samples: Support,
    /// Per-version request rates and latencies.
    pub serving_metrics: Support,
    /// Batch prediction jobs.
    pub batch_prediction: Support,
    /// Running the bundled sample training job.
    pub sample_job: Support,
    /// New versions come from a model file on this machine (dropped or picked).
    pub model_files: Support,
    /// Hyperparameter tuning jobs (`trainingInput.hyperparameters`).
    pub tuning: Support,
}

impl Capabilities {
    /// Everything: the local engine.
    pub const ALL: Capabilities = Capabilities {
        log_severity: Support::Yes,
        log_timestamps: Support::Yes,
        local_job_dirs: Support::Yes,
        resource_samples: Support::Yes,
        serving_metrics: Support::Yes,
        batch_prediction: Support::Yes,
        sample_job: Support::Yes,
        model_files: Support::Yes,
        tuning: Support::Yes,
    };
}

mod hex_color {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(color: &[u8; 3], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!(
            "#{:02x}{:02x}{:02x}",
            color[0], color[1], color[2]
        ))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 3], D::Error> {
        let text = String::deserialize(d)?;
        parse(&text)
            .ok_or_else(|| serde::de::Error::custom(format!("colour {text:?} is not #rrggbb")))
    }

    pub fn parse(text: &str) -> Option<[u8; 3]> {
        let hex = text.strip_prefix('#')?;
        if hex.len() != 6 || !hex.is_ascii() {
            return None;
        }
        let byte = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).ok();
        Some([byte(0)?, byte(2)?, byte(4)?])
    }
}

#[cfg(test)]
mod tests;
