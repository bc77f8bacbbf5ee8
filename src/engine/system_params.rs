//! Google's system parameters, which Google's clients (gcloud, the API client
//! libraries) add to every call: `alt`, `prettyPrint`, `fields`, `$.xgafv`,
//! `quotaUser`, `key` and a few more. They are taken off the query before a handler
//! sees it (so handlers still refuse parameters that are truly unknown), and `alt=json`,
//! `prettyPrint` and `fields` (a partial response) are honoured on the JSON answer.

use axum::body::Body;
use axum::http::{HeaderValue, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::http::MAX_BODY;
use super::http::error::ApiError;

/// Names Google's APIs take on every call.
const SYSTEM: [&str; 11] = [
    "alt",
    "prettyPrint",
    "fields",
    "$.xgafv",
    "quotaUser",
    "key",
    "callback",
    "upload_protocol",
    "uploadType",
    "userIp",
    "oauth_token",
];

/// What the system parameters of a call ask of its answer.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Asked {
    /// Indent the JSON.
    pub pretty: Option<bool>,
    /// Keep only these fields.
    pub fields: Option<FieldMask>,
}

impl Asked {
    /// True when the answer is sent as the handler made it.
    pub fn untouched(&self) -> bool {
        self.pretty.is_none() && self.fields.is_none()
    }
}

/// Takes the system parameters off `uri`; answers the URI without them and what they ask.
pub fn take(uri: &Uri) -> Result<(Uri, Asked), ApiError> {
    let Some(query) = uri.query() else {
        return Ok((uri.clone(), Asked::default()));
    };
    let mut kept = form_urlencoded::Serializer::new(String::new());
    let mut asked = Asked::default();
    let mut any_kept = false;
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        if !SYSTEM.contains(&key.as_ref()) {
            kept.append_pair(&key, &value);
            any_kept = true;
            continue;
        }
        match key.as_ref() {
            "alt" if !value.eq_ignore_ascii_case("json") => {
                return Err(ApiError::invalid(format!(
                    "alt={value:?}: the engine answers in JSON only (alt=json)"
                )));
            }
            "prettyPrint" => {
                asked.pretty = Some(match value.as_ref() {
                    "true" | "1" => true,
                    "false" | "0" => false,
                    other => {
                        return Err(ApiError::invalid(format!(
                            "prettyPrint={other:?}: give true or false"
                        )));
                    }
                });
            }
            "fields" if !value.trim().is_empty() => {
                asked.fields =
                    Some(FieldMask::parse(&value).map_err(|e| {
                        ApiError::invalid(format!("fields={}: {e}", snippet(&value)))
                    })?);
            }
            _ => {}
        }
    }
    let path = uri.path();
    let rebuilt = if any_kept {
        format!("{path}?{}", kept.finish())
    } else {
        path.to_owned()
    };
    let uri = rebuilt
        .parse::<Uri>()
        .map_err(|e| ApiError::invalid(format!("the request path is not valid: {e}")))?;
    Ok((uri, asked))
}

/// A value quoted for an error message, cut short when long.
pub fn snippet(value: &str) -> String {
    const SHOWN: usize = 80;
    if value.chars().count() <= SHOWN {
        format!("{value:?}")
    } else {
        let head: String = value.chars().take(SHOWN).collect();
        format!("{head:?}… ({} characters)", value.chars().count())
    }
}

/// The answer as the system parameters ask: a field subset, indented or not.
pub async fn shape(response: Response, asked: &Asked) -> Response {
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if asked.untouched() || !is_json {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY * 4).await else {
        return ApiError::internal("the answer could not be read back to shape it").into_response();
    };
    let Ok(mut value) = serde_json::from_slice::<Value>(&bytes) else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    // An error keeps its shape whatever fields were asked for.
    if let (Some(mask), true) = (&asked.fields, parts.status.is_success()) {
        value = mask.apply(&value);
    }
    let text = if asked.pretty == Some(true) {
        serde_json::to_vec_pretty(&value)
    } else {
        serde_json::to_vec(&value)
    };
    let Ok(text) = text else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    parts
        .headers
        .insert(header::CONTENT_LENGTH, HeaderValue::from(text.len() as u64));
    Response::from_parts(parts, Body::from(text))
}

/// Longest `fields` value taken, in characters.
pub const MAX_MASK_LEN: usize = 4096;
/// Deepest nesting of a `fields` value (`a(b(c))`, `a/b/c`): deeper than any answer.
pub const MAX_MASK_DEPTH: usize = 32;

/// A partial-response field mask: `jobs(jobId,state),nextPageToken`, `a/b/c`, `*`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FieldMask {
    /// Field → what to keep inside it (`None`: all of it).
    selections: Vec<(String, Option<FieldMask>)>,
}

impl FieldMask {
    /// Parses a mask of at most [`MAX_MASK_LEN`] characters nested at most
    /// [`MAX_MASK_DEPTH`] deep.
    pub fn parse(text: &str) -> Result<FieldMask, String> {
        if text.chars().count() > MAX_MASK_LEN {
            return Err(format!(
                "the mask is longer than {MAX_MASK_LEN} characters; ask for fewer fields"
            ));
        }
        let chars: Vec<char> = text.chars().collect();
        let mut pos = 0;
        let mask = parse_list(&chars, &mut pos, 0)?;
        if pos < chars.len() {
            return Err(format!("unexpected {:?} at column {}", chars[pos], pos + 1));
        }
        Ok(mask)
    }

    /// What of `value` the mask keeps (arrays: each element).
    pub fn apply(&self, value: &Value) -> Value {
        match value {
            Value::Array(items) => Value::Array(items.iter().map(|v| self.apply(v)).collect()),
            Value::Object(object) => {
                let mut out = serde_json::Map::new();
                for (name, inner) in &self.selections {
                    if name == "*" {
                        for (k, v) in object {
                            out.insert(
                                k.clone(),
                                inner.as_ref().map_or_else(|| v.clone(), |m| m.apply(v)),
                            );
                        }
                    } else if let Some(v) = object.get(name) {
                        let kept = inner.as_ref().map_or_else(|| v.clone(), |m| m.apply(v));
                        match out.get_mut(name) {
                            Some(existing) => merge(existing, kept),
                            None => {
                                out.insert(name.clone(), kept);
                            }
                        }
                    }
                }
                Value::Object(out)
            }
            other => other.clone(),
        }
    }
}

/// Two selections of the same field (`a/b,a/c`): both kept.
fn merge(into: &mut Value, more: Value) {
    match (into, more) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                match a.get_mut(&k) {
                    Some(existing) => merge(existing, v),
                    None => {
                        a.insert(k, v);
                    }
                }
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            for (x, y) in a.iter_mut().zip(b) {
                merge(x, y);
            }
        }
        (into, more) => *into = more,
    }
}

fn parse_list(chars: &[char], pos: &mut usize, depth: usize) -> Result<FieldMask, String> {
    let mut mask = FieldMask::default();
    loop {
        mask.selections.push(parse_selection(chars, pos, depth)?);
        match chars.get(*pos) {
            Some(',') => *pos += 1,
            _ => return Ok(mask),
        }
    }
}

/// `name`, `name/selection` or `name(list)`.
fn parse_selection(
    chars: &[char],
    pos: &mut usize,
    depth: usize,
) -> Result<(String, Option<FieldMask>), String> {
    if depth >= MAX_MASK_DEPTH {
        return Err(format!(
            "fields are nested more than {MAX_MASK_DEPTH} deep (column {})",
            *pos + 1
        ));
    }
    let start = *pos;
    while chars
        .get(*pos)
        .is_some_and(|c| c.is_alphanumeric() || matches!(c, '_' | '*' | '@' | '.'))
    {
        *pos += 1;
    }
    let name: String = chars[start..*pos].iter().collect();
    if name.is_empty() {
        return Err(format!("expected a field name at column {}", start + 1));
    }
    let inner = match chars.get(*pos) {
        Some('/') => {
            *pos += 1;
            Some(FieldMask {
                selections: vec![parse_selection(chars, pos, depth + 1)?],
            })
        }
        Some('(') => {
            *pos += 1;
            let inner = parse_list(chars, pos, depth + 1)?;
            if chars.get(*pos) != Some(&')') {
                return Err(format!("'(' is never closed (column {})", *pos + 1));
            }
            *pos += 1;
            Some(inner)
        }
        _ => None,
    };
    Ok((name, inner))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn system_parameters_leave_the_others_and_say_what_they_ask() {
        let uri: Uri = "/v1/projects/local/jobs?alt=json&pageSize=100&prettyPrint=false&%24.xgafv=2&filter=state%3DRUNNING&fields=jobs(jobId)"
            .parse()
            .unwrap();
        let (kept, asked) = take(&uri).unwrap();
        assert_eq!(kept.path(), "/v1/projects/local/jobs");
        let query: Vec<(String, String)> = form_urlencoded::parse(kept.query().unwrap().as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        assert_eq!(
            query,
            [
                ("pageSize".to_owned(), "100".to_owned()),
                ("filter".to_owned(), "state=RUNNING".to_owned())
            ]
        );
        assert_eq!(asked.pretty, Some(false));
        assert!(asked.fields.is_some());
        let (bare, asked) = take(&"/healthz?alt=json".parse().unwrap()).unwrap();
        assert_eq!(bare.to_string(), "/healthz");
        assert!(asked.untouched());
        assert!(take(&"/x?alt=proto".parse().unwrap()).is_err());
        assert!(take(&"/x?prettyPrint=maybe".parse().unwrap()).is_err());
    }

    #[test]
    fn field_masks_keep_what_they_name() {
        let value = serde_json::json!({
            "jobs": [{"jobId": "a", "state": "RUNNING", "labels": {"t": "x"}}, {"jobId": "b", "state": "FAILED"}],
            "nextPageToken": "n",
            "other": 1
        });
        let mask = FieldMask::parse("jobs(jobId,state),nextPageToken").unwrap();
        assert_eq!(
            mask.apply(&value),
            serde_json::json!({"jobs": [{"jobId": "a", "state": "RUNNING"}, {"jobId": "b", "state": "FAILED"}], "nextPageToken": "n"})
        );
        let path = FieldMask::parse("jobs/jobId,jobs/labels/t").unwrap();
        assert_eq!(
            path.apply(&value),
            serde_json::json!({"jobs": [{"jobId": "a", "labels": {"t": "x"}}, {"jobId": "b"}]})
        );
        assert_eq!(FieldMask::parse("*").unwrap().apply(&value), value);
        assert!(FieldMask::parse("jobs(jobId").is_err());
        assert!(FieldMask::parse(",x").is_err());
    }

    #[test]
    fn deep_or_long_masks_are_refused_without_recursing() {
        // The attack that overflowed a worker's stack: 20 000 nested parentheses.
        let deep = format!("{}{}", "a(".repeat(20_000), ")".repeat(20_000));
        let e = FieldMask::parse(&deep).unwrap_err();
        assert!(e.contains("longer than"), "{e}");
        let nested = format!("{}{}", "a(".repeat(1_000), ")".repeat(1_000));
        assert!(nested.len() < MAX_MASK_LEN);
        assert!(
            FieldMask::parse(&nested)
                .unwrap_err()
                .contains("nested more than")
        );
        let slashes = vec!["a"; MAX_MASK_DEPTH + 1].join("/");
        assert!(FieldMask::parse(&slashes).unwrap_err().contains("nested"));
        let ok = vec!["a"; MAX_MASK_DEPTH].join("/");
        assert!(FieldMask::parse(&ok).is_ok());
        let long = format!("{}{}", "a(".repeat(2_000), ")".repeat(2_000));
        let uri: Uri = format!(
            "/healthz?fields={}",
            long.replace('(', "%28").replace(')', "%29")
        )
        .parse()
        .unwrap();
        let e = take(&uri).unwrap_err();
        assert_eq!(e.into_response().status(), 400);
    }
}
