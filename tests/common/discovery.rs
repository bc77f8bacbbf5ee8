//! Checks HTTP calls against Google's own discovery documents (`aiplatform.v1.json`,
//! `logging.v2.json`, `monitoring.v3.json` from the google-api-python-client wheel, which
//! `.ci/run` installs): the method and path template, the query parameters, and every
//! key, JSON type, int64-as-string and enum value of request and response bodies.

use std::path::PathBuf;

use serde_json::Value;

use super::vertex::Recorded;

/// The documents, loaded.
pub struct Discovery {
    docs: Vec<Value>,
    methods: Vec<(usize, String, regex::Regex, Value)>,
}

/// Where the discovery documents are: `MLCONSOLE_DISCOVERY_DIR`, else the installed
/// googleapiclient package of the `python3` on the PATH.
pub fn documents_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("MLCONSOLE_DISCOVERY_DIR") {
        return PathBuf::from(dir);
    }
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            "import googleapiclient, os; print(os.path.join(os.path.dirname(googleapiclient.__file__), 'discovery_cache', 'documents'))",
        ])
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "Google's discovery documents are not installed: pip install google-api-python-client (.ci/run does) or set MLCONSOLE_DISCOVERY_DIR"
    );
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

fn walk(resource: &Value, out: &mut Vec<Value>) {
    if let Some(methods) = resource.get("methods").and_then(Value::as_object) {
        out.extend(methods.values().cloned());
    }
    if let Some(resources) = resource.get("resources").and_then(Value::as_object) {
        for r in resources.values() {
            walk(r, out);
        }
    }
}

impl Discovery {
    /// Loads the three documents.
    pub fn load() -> Discovery {
        let dir = documents_dir();
        let mut docs = Vec::new();
        let mut methods = Vec::new();
        let placeholder = regex::Regex::new(r"\{[^}]+\}").unwrap();
        for file in [
            "aiplatform.v1.json",
            "logging.v2.json",
            "monitoring.v3.json",
        ] {
            let text = std::fs::read_to_string(dir.join(file))
                .unwrap_or_else(|e| panic!("{}: {e}", dir.join(file).display()));
            let doc: Value = serde_json::from_str(&text).unwrap();
            let mut found = Vec::new();
            walk(&doc, &mut found);
            for method in found {
                let flat = method["flatPath"]
                    .as_str()
                    .or(method["path"].as_str())
                    .unwrap()
                    .to_owned();
                let pattern = placeholder
                    .split(&flat)
                    .map(regex::escape)
                    .collect::<Vec<_>>()
                    .join("[^/:]+");
                let re = regex::Regex::new(&format!("^/{pattern}$")).unwrap();
                methods.push((
                    docs.len(),
                    method["httpMethod"].as_str().unwrap().to_owned(),
                    re,
                    method,
                ));
            }
            docs.push(doc);
        }
        Discovery { docs, methods }
    }

    /// The discovery id of the method a call maps to, e.g.
    /// `aiplatform.projects.locations.customJobs.create`.
    pub fn method_id(&self, method: &str, path: &str) -> Option<String> {
        self.find(method, path)
            .map(|(_, m)| m["id"].as_str().unwrap_or_default().to_owned())
    }

    fn find(&self, method: &str, path: &str) -> Option<(usize, &Value)> {
        // The most specific template wins (`…/models/{id}:listVersions` over `…/{id}`).
        self.methods
            .iter()
            .filter(|(_, m, re, _)| m == method && re.is_match(path))
            .max_by_key(|(_, _, re, _)| re.as_str().len())
            .map(|(d, _, _, v)| (*d, v))
    }

    /// What is wrong with a recorded call and its answer, per the documents.
    pub fn problems(&self, call: &Recorded) -> Vec<String> {
        let mut problems = Vec::new();
        let label = format!("{} {}", call.method, call.path);
        let Some((doc, method)) = self.find(&call.method, &call.path) else {
            return vec![format!(
                "{label}: no discovery method has this verb and path"
            )];
        };
        let doc = &self.docs[doc];
        for (key, _) in &call.query {
            let base = key.split('.').next().unwrap_or(key);
            let known = method["parameters"]
                .get(key.as_str())
                .is_some_and(|p| p["location"] == "query")
                || method["parameters"]
                    .get(base)
                    .is_some_and(|p| p["location"] == "query")
                || doc["parameters"].get(key.as_str()).is_some();
            if !known {
                problems.push(format!(
                    "{label}: query parameter {key:?} is not in the method"
                ));
            }
        }
        for (key, value) in &call.query {
            if let Some(p) = method["parameters"].get(key.as_str())
                && let Some(choices) = p["enum"].as_array()
                && !choices.iter().any(|c| c == value.as_str())
            {
                problems.push(format!(
                    "{label}: {key}={value} is not one of its enum values"
                ));
            }
        }
        match (&call.body, method["request"]["$ref"].as_str()) {
            (Some(body), Some(schema)) => {
                check(
                    doc,
                    &doc["schemas"][schema],
                    body,
                    &format!("{label} request"),
                    &mut problems,
                );
            }
            (Some(body), None) if body != &Value::Object(Default::default()) => {
                problems.push(format!("{label}: the method takes no body, got {body}"));
            }
            _ => {}
        }
        if call.status < 300 {
            if let Some(schema) = method["response"]["$ref"].as_str() {
                check(
                    doc,
                    &doc["schemas"][schema],
                    &call.response,
                    &format!("{label} response"),
                    &mut problems,
                );
            }
        } else {
            let e = &call.response["error"];
            if !(e["code"].is_number() && e["message"].is_string() && e["status"].is_string()) {
                problems.push(format!(
                    "{label}: an error answer is not Google's error shape: {}",
                    call.response
                ));
            }
        }
        problems
    }
}

fn check(doc: &Value, schema: &Value, value: &Value, at: &str, problems: &mut Vec<String>) {
    if let Some(name) = schema["$ref"].as_str() {
        return check(doc, &doc["schemas"][name], value, at, problems);
    }
    if value.is_null() {
        return;
    }
    let kind = schema["type"].as_str().unwrap_or("any");
    match kind {
        "object" => {
            let Some(map) = value.as_object() else {
                problems.push(format!("{at}: expected an object, got {value}"));
                return;
            };
            let properties = schema["properties"].as_object();
            let extra = &schema["additionalProperties"];
            for (key, item) in map {
                // `@type` tags an Any's payload (operation responses and metadata).
                if key == "@type" {
                    continue;
                }
                match properties.and_then(|p| p.get(key)) {
                    Some(sub) => check(doc, sub, item, &format!("{at}.{key}"), problems),
                    None if extra.is_object() => {
                        check(doc, extra, item, &format!("{at}.{key}"), problems);
                    }
                    None if properties.is_none() => {}
                    None => problems.push(format!("{at}: unknown field {key:?}")),
                }
            }
        }
        "array" => match value.as_array() {
            Some(items) => {
                for (i, item) in items.iter().enumerate() {
                    check(doc, &schema["items"], item, &format!("{at}[{i}]"), problems);
                }
            }
            None => problems.push(format!("{at}: expected an array, got {value}")),
        },
        "string" => {
            let Some(text) = value.as_str() else {
                problems.push(format!("{at}: expected a string, got {value}"));
                return;
            };
            if let Some(choices) = schema["enum"].as_array()
                && !choices.iter().any(|c| c == text)
            {
                problems.push(format!("{at}: {text:?} is not one of its enum values"));
            }
            match schema["format"].as_str() {
                Some("int64" | "uint64") if text.parse::<i128>().is_err() => {
                    problems.push(format!("{at}: {text:?} is not an int64"));
                }
                Some("google-datetime") if chrono::DateTime::parse_from_rfc3339(text).is_err() => {
                    problems.push(format!("{at}: {text:?} is not an RFC 3339 time"));
                }
                _ => {}
            }
        }
        "integer" if !(value.is_i64() || value.is_u64()) => {
            problems.push(format!("{at}: expected an integer, got {value}"));
        }
        "number" if !value.is_number() => {
            problems.push(format!("{at}: expected a number, got {value}"));
        }
        "boolean" if !value.is_boolean() => {
            problems.push(format!("{at}: expected a boolean, got {value}"));
        }
        _ => {}
    }
}
