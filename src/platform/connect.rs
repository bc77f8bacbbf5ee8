//! A platform client from a connection's settings: the local engine of a data dir (where
//! it says it listens, with its token), a Ray cluster, or Vertex AI with the credentials
//! the connection names. Keyrings and starting engines are the caller's.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::vertex::TokenSource;
use super::{LocalPlatform, Platform, PlatformError, RayPlatform, VertexPlatform};
use crate::domain::{ConnectionKind, VertexCredentials};
use crate::engine::DEFAULT_PORT;

/// Why a connection's credentials cannot be used, and what the user can do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedOut {
    /// What is wrong.
    pub error: String,
    /// What to do.
    pub hint: String,
}

/// Whether connecting `kind` reads the connection's stored secret (a Ray token, a
/// service-account key).
pub fn needs_secret(kind: &ConnectionKind) -> bool {
    matches!(
        kind,
        ConnectionKind::Ray { .. }
            | ConnectionKind::Vertex {
                credentials: VertexCredentials::ServiceAccountKey,
                ..
            }
    )
}

/// A client for a Ray or Vertex AI connection, with its stored secret (if it has one).
/// `None` for a local engine connection (see [`local`]).
pub fn remote(
    kind: &ConnectionKind,
    secret: Option<String>,
) -> Option<Result<Arc<dyn Platform>, SignedOut>> {
    match kind {
        ConnectionKind::Local { .. } => None,
        ConnectionKind::Ray {
            dashboard_url,
            serve_url,
        } => Some(Ok(Arc::new(RayPlatform::new(
            dashboard_url,
            serve_url.as_deref(),
            secret,
        )))),
        ConnectionKind::Vertex {
            project,
            region,
            credentials,
            api_endpoint,
        } => Some(vertex_tokens(*credentials, secret).map(|tokens| {
            Arc::new(VertexPlatform::new(
                project,
                region,
                api_endpoint.as_deref(),
                tokens,
            )) as Arc<dyn Platform>
        })),
    }
}

/// Where a Vertex AI connection's tokens come from; a missing or unusable credential says
/// what to do.
fn vertex_tokens(
    credentials: VertexCredentials,
    secret: Option<String>,
) -> Result<TokenSource, SignedOut> {
    let signed_out = |error: String, hint: &str| SignedOut {
        error,
        hint: hint.to_owned(),
    };
    match credentials {
        VertexCredentials::ApplicationDefault => TokenSource::application_default()
            .map_err(|e| signed_out(e, "then the console signs in by itself (no restart)")),
        VertexCredentials::ServiceAccountKey => match secret {
            Some(json) => TokenSource::from_key_json(&json).map_err(|e| {
                signed_out(
                    e,
                    "edit the connection (Ctrl+K) and pick the key file again",
                )
            }),
            None => Err(signed_out(
                "no key is stored for this connection".into(),
                "edit the connection (Ctrl+K) and pick the service-account key file; it is copied into the keyring",
            )),
        },
        VertexCredentials::Gcloud => Ok(TokenSource::gcloud(
            std::env::var_os("MLCONSOLE_GCLOUD").map(PathBuf::from),
        )),
    }
}

/// Where the engine of `data_dir` says it listens, or the default address.
pub fn engine_address(data_dir: &Path) -> String {
    std::fs::read_to_string(data_dir.join("engine.json"))
        .ok()
        .and_then(|s| serde_json::from_str::<serde_json::Value>(&s).ok())
        .and_then(|v| v.get("address")?.as_str().map(str::to_owned))
        .unwrap_or_else(|| format!("http://127.0.0.1:{DEFAULT_PORT}"))
}

/// A client for the local engine whose data dir is `data_dir`, with the token it keeps
/// there (not yet checked to answer).
pub fn local(data_dir: &Path) -> Result<LocalPlatform, PlatformError> {
    let address = engine_address(data_dir);
    let token_file = data_dir.join("token");
    let token = std::fs::read_to_string(&token_file).map_err(|e| PlatformError::Unreachable {
        address: address.clone(),
        detail: format!("no token in {} ({e})", data_dir.display()),
    })?;
    Ok(LocalPlatform::new(address, token.trim()).with_token_file(token_file))
}
