//! The AWS shared credentials and config files (`~/.aws/credentials`, `~/.aws/config`),
//! which `object_store` does not read: a profile's keys and region, unless the
//! environment already gives them.

use std::collections::HashMap;
use std::path::PathBuf;

use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};

/// Larger files are not credentials files.
const MAX_FILE_BYTES: u64 = 1 << 20;

/// Fills in keys and region from `AWS_PROFILE` (or `default`) where the environment
/// left them out.
pub(super) fn apply(mut builder: AmazonS3Builder) -> AmazonS3Builder {
    let profile = std::env::var("AWS_PROFILE")
        .ok()
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "default".to_owned());
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let file = |var: &str, name: &str| {
        std::env::var_os(var)
            .map(PathBuf::from)
            .or_else(|| home.as_ref().map(|h| h.join(".aws").join(name)))
    };
    let credentials = file("AWS_SHARED_CREDENTIALS_FILE", "credentials")
        .and_then(|p| read_section(&p, &profile))
        .unwrap_or_default();
    let config_section = if profile == "default" {
        profile.clone()
    } else {
        format!("profile {profile}")
    };
    let config = file("AWS_CONFIG_FILE", "config")
        .and_then(|p| read_section(&p, &config_section))
        .unwrap_or_default();
    let keys_from_env = std::env::var_os("AWS_ACCESS_KEY_ID").is_some();
    if !keys_from_env
        && let (Some(id), Some(secret)) = (
            credentials.get("aws_access_key_id"),
            credentials.get("aws_secret_access_key"),
        )
    {
        builder = builder
            .with_access_key_id(id)
            .with_secret_access_key(secret);
        if let Some(token) = credentials.get("aws_session_token") {
            builder = builder.with_token(token);
        }
    }
    let region_set = std::env::var_os("AWS_REGION").is_some()
        || std::env::var_os("AWS_DEFAULT_REGION").is_some();
    if !region_set && let Some(region) = config.get("region").or_else(|| credentials.get("region"))
    {
        builder = builder.with_config(AmazonS3ConfigKey::Region, region);
    }
    builder
}

/// The `key = value` pairs of `[section]` in an INI file, if it can be read.
fn read_section(path: &std::path::Path, section: &str) -> Option<HashMap<String, String>> {
    let meta = std::fs::metadata(path).ok()?;
    if meta.len() > MAX_FILE_BYTES {
        return None;
    }
    let text = std::fs::read_to_string(path).ok()?;
    Some(parse_section(&text, section))
}

fn parse_section(text: &str, section: &str) -> HashMap<String, String> {
    let mut found = HashMap::new();
    let mut inside = false;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') || line.starts_with(';') || line.is_empty() {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            inside = name.trim() == section;
            continue;
        }
        if inside && let Some((key, value)) = line.split_once('=') {
            found.insert(key.trim().to_ascii_lowercase(), value.trim().to_owned());
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::parse_section;

    #[test]
    fn reads_one_profile() {
        let text = "[default]\naws_access_key_id = A\n# note\n[profile dev]\nregion=eu-west-1\n[dev]\naws_access_key_id=B\n";
        assert_eq!(parse_section(text, "default")["aws_access_key_id"], "A");
        assert_eq!(parse_section(text, "profile dev")["region"], "eu-west-1");
        assert_eq!(parse_section(text, "dev")["aws_access_key_id"], "B");
        assert!(parse_section(text, "other").is_empty());
    }
}
