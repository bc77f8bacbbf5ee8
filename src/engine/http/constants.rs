//! The API's fixed names and limits.

/// The one project the local engine serves.
pub const PROJECT: &str = "local";
/// Largest prediction request body (images come as base64); other calls take 2 MB.
pub const MAX_BODY: usize = 32 << 20;
/// The one path that needs no token.
pub const HEALTH_PATH: &str = "/healthz";
