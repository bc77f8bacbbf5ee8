//! Long-running operations in the Cloud ML Engine v1 shape (`google.longrunning.
//! Operation`), as `versions.create`, `versions.delete` and `models.delete` answer:
//! `GET …/operations/{id}`, `…/operations` and `POST …/operations/{id}:cancel`.
//!
//! A version's creation is an operation that is done once the version is READY (its
//! `response`) or FAILED (its `error`); its state is read from the registry, so it
//! survives an engine restart. Deletes are done when answered.

use std::collections::{BTreeSet, VecDeque};
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::Engine;
use super::http::PROJECT;
use super::http::error::ApiError;
use crate::domain::{Version, VersionState};

/// Delete operations kept for listing (creations are listed from the versions).
const KEPT: usize = 1000;

/// `google.longrunning.Operation`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Operation {
    /// `projects/local/operations/{id}`.
    pub name: String,
    /// What the operation does (`google.cloud.ml.v1.OperationMetadata`).
    pub metadata: OperationMetadata,
    /// True once it has finished, with `response` or `error`.
    pub done: bool,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<OperationError>,
    /// What it made: the version for a creation, `Empty` for a delete.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<Value>,
}

/// `google.cloud.ml.v1.OperationMetadata`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OperationMetadata {
    /// `type.googleapis.com/google.cloud.ml.v1.OperationMetadata`.
    #[serde(rename = "@type")]
    pub kind: String,
    /// When it was asked for.
    pub create_time: DateTime<Utc>,
    /// When it started.
    pub start_time: DateTime<Utc>,
    /// When it finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<DateTime<Utc>>,
    /// Whether a cancel was asked for.
    #[serde(default)]
    pub is_cancellation_requested: bool,
    /// `CREATE_VERSION`, `DELETE_VERSION` or `DELETE_MODEL`.
    pub operation_type: String,
    /// `projects/local/models/{model}`.
    pub model_name: String,
    /// The version it is about, as it is (or was).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<Version>,
}

/// `google.rpc.Status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct OperationError {
    /// A `google.rpc.Code`: 1 cancelled, 3 invalid argument, 5 not found.
    pub code: i32,
    /// What went wrong.
    pub message: String,
}

/// A page of operations.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OperationPage {
    /// The operations, newest first.
    pub operations: Vec<Operation>,
    /// Absent: every operation is on this page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
}

/// What the engine remembers of operations: finished deletes, and cancelled creations.
#[derive(Default)]
pub struct Operations {
    deletes: Mutex<VecDeque<Operation>>,
    cancelled: Mutex<BTreeSet<String>>,
}

/// What an operation id names: `create_version.{m}.{v}.{ms}`, `delete_version.{m}.{v}.{ms}`
/// or `delete_model.{m}.{ms}` (model and version names hold no dots).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    CreateVersion {
        model: String,
        version: String,
        ms: i64,
    },
    Delete {
        id: String,
    },
}

fn parse_id(id: &str) -> Option<Target> {
    let parts: Vec<&str> = id.split('.').collect();
    match parts.as_slice() {
        ["create_version", model, version, ms] => Some(Target::CreateVersion {
            model: (*model).to_owned(),
            version: (*version).to_owned(),
            ms: ms.parse().ok()?,
        }),
        ["delete_version", _, _, ms] | ["delete_model", _, ms] => {
            ms.parse::<i64>().ok()?;
            Some(Target::Delete { id: id.to_owned() })
        }
        _ => None,
    }
}

fn op_name(id: &str) -> String {
    format!("projects/{PROJECT}/operations/{id}")
}

fn model_name(model: &str) -> String {
    format!("projects/{PROJECT}/models/{model}")
}

fn metadata(
    kind: &str,
    model: &str,
    version: Option<Version>,
    created: DateTime<Utc>,
    end: Option<DateTime<Utc>>,
) -> OperationMetadata {
    OperationMetadata {
        kind: "type.googleapis.com/google.cloud.ml.v1.OperationMetadata".into(),
        create_time: created,
        start_time: created,
        end_time: end,
        is_cancellation_requested: false,
        operation_type: kind.into(),
        model_name: model_name(model),
        version,
    }
}

fn typed(kind: &str, value: Value) -> Value {
    let mut object = match value {
        Value::Object(o) => o,
        _ => serde_json::Map::new(),
    };
    object.insert(
        "@type".into(),
        Value::String(format!("type.googleapis.com/{kind}")),
    );
    Value::Object(object)
}

impl Operations {
    /// The operation of a version just asked for (it is CREATING).
    pub fn creation(&self, model: &str, version: &Version) -> Operation {
        self.of_version(model, version)
    }

    /// The creation operation of `version`, from its state now.
    fn of_version(&self, model: &str, version: &Version) -> Operation {
        let created = version.create_time.unwrap_or_default();
        let id = format!(
            "create_version.{model}.{}.{}",
            version.short_name(),
            created.timestamp_millis()
        );
        let (done, error, response) = match version.state {
            VersionState::Ready => (
                true,
                None,
                Some(typed(
                    "google.cloud.ml.v1.Version",
                    serde_json::to_value(version).unwrap_or(Value::Null),
                )),
            ),
            VersionState::Failed => (
                true,
                Some(OperationError {
                    code: 3,
                    message: version
                        .error_message
                        .clone()
                        .unwrap_or_else(|| "the version failed to load".into()),
                }),
                None,
            ),
            _ => (false, None, None),
        };
        let mut meta = metadata(
            "CREATE_VERSION",
            model,
            Some(version.clone()),
            created,
            done.then_some(created),
        );
        meta.is_cancellation_requested = self.is_cancelled(&id);
        Operation {
            name: op_name(&id),
            metadata: meta,
            done,
            error,
            response,
        }
    }

    fn is_cancelled(&self, id: &str) -> bool {
        self.cancelled.lock().is_ok_and(|c| c.contains(id))
    }

    /// Records a finished delete and answers its operation.
    pub fn deleted(&self, kind: &str, model: &str, version: Option<Version>) -> Operation {
        let now = Utc::now();
        let id = match &version {
            Some(v) => format!(
                "delete_version.{model}.{}.{}",
                v.short_name(),
                now.timestamp_millis()
            ),
            None => format!("delete_model.{model}.{}", now.timestamp_millis()),
        };
        let op = Operation {
            name: op_name(&id),
            metadata: metadata(kind, model, version, now, Some(now)),
            done: true,
            error: None,
            response: Some(typed("google.protobuf.Empty", Value::Null)),
        };
        if let Ok(mut deletes) = self.deletes.lock() {
            deletes.push_front(op.clone());
            deletes.truncate(KEPT);
        }
        op
    }

    /// The operation `id` as it is now.
    pub fn get(&self, engine: &Engine, id: &str) -> Result<Operation, ApiError> {
        let unknown = || {
            ApiError::not_found(format!(
                "there is no operation {id:?} (operation ids come from versions.create, versions.delete and models.delete)"
            ))
        };
        match parse_id(id).ok_or_else(unknown)? {
            Target::CreateVersion { model, version, ms } => {
                let current = engine
                    .registry()
                    .get_version(&model, &version)
                    .ok()
                    .filter(|v| v.create_time.map(|t| t.timestamp_millis()) == Some(ms));
                match current {
                    Some(v) => Ok(self.of_version(&model, &v)),
                    None => {
                        let created = DateTime::from_timestamp_millis(ms).unwrap_or_default();
                        let cancelled = self.is_cancelled(id);
                        let mut meta =
                            metadata("CREATE_VERSION", &model, None, created, Some(created));
                        meta.is_cancellation_requested = cancelled;
                        Ok(Operation {
                            name: op_name(id),
                            metadata: meta,
                            done: true,
                            error: Some(if cancelled {
                                OperationError {
                                    code: 1,
                                    message: "the operation was cancelled".into(),
                                }
                            } else {
                                OperationError {
                                    code: 5,
                                    message: format!(
                                        "version {version} of model {model} no longer exists: it was deleted after it was created"
                                    ),
                                }
                            }),
                            response: None,
                        })
                    }
                }
            }
            Target::Delete { id } => self
                .deletes
                .lock()
                .ok()
                .and_then(|d| d.iter().find(|op| op.name == op_name(&id)).cloned())
                .ok_or_else(unknown),
        }
    }

    /// Every operation: each version's creation, then the deletes remembered, newest
    /// first.
    pub fn list(&self, engine: &Engine) -> Vec<Operation> {
        let mut all: Vec<Operation> = Vec::new();
        for model in engine.registry().list_models() {
            let name = model.short_name().to_owned();
            for version in engine.registry().list_versions(&name).unwrap_or_default() {
                all.push(self.of_version(&name, &version));
            }
        }
        if let Ok(deletes) = self.deletes.lock() {
            all.extend(deletes.iter().cloned());
        }
        all.sort_by_key(|op| std::cmp::Reverse(op.metadata.create_time));
        all
    }

    /// Cancels a creation still under way (the version is dropped); a finished
    /// operation is left as it is.
    pub fn cancel(&self, engine: &Engine, id: &str) -> Result<(), ApiError> {
        let op = self.get(engine, id)?;
        if op.done {
            return Ok(());
        }
        if let Some(Target::CreateVersion { model, version, .. }) = parse_id(id) {
            if let Ok(mut cancelled) = self.cancelled.lock() {
                cancelled.insert(id.to_owned());
            }
            engine.registry().delete_version(&model, &version)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_name_what_they_are_about() {
        assert_eq!(
            parse_id("create_version.iris.v_2.1796159199047"),
            Some(Target::CreateVersion {
                model: "iris".into(),
                version: "v_2".into(),
                ms: 1_796_159_199_047
            })
        );
        assert!(matches!(
            parse_id("delete_model.iris.17"),
            Some(Target::Delete { .. })
        ));
        assert_eq!(parse_id("create_version.iris.v1"), None);
        assert_eq!(parse_id("../etc"), None);
    }
}
