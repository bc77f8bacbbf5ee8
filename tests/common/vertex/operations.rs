//! Long-running operations: their clock, and what they do when done.

use super::*;

/// The operations calls; `None` when the call is not one of them.
pub(super) fn route(s: &mut State, _config: &FakeConfig, call: &Call<'_>) -> Option<(u16, Value)> {
    let Call {
        method,
        parent,
        resource,
        parts,
        verb,
        ..
    } = *call;
    Some(match (method.as_str(), parts, verb) {
        ("GET", [.., "operations", _], None) => match s
            .ops
            .iter()
            .find(|o| o.name == format!("{parent}/{resource}"))
        {
            Some(op) => (200, op_json(op)),
            None => error(
                404,
                "NOT_FOUND",
                &format!("Operation {resource} does not exist."),
            ),
        },
        _ => return None,
    })
}

/// Applies the effects of operations that are due.
pub(super) fn advance(s: &mut State, config: &FakeConfig) {
    let now = Instant::now();
    let mut effects = Vec::new();
    for op in s.ops.iter_mut().filter(|o| o.due <= now) {
        if let Some(effect) = op.effect.take() {
            effects.push((op.name.clone(), effect));
        }
    }
    for (name, effect) in effects {
        let response = match effect {
            Effect::Upload(version) => {
                let model = version["name"].as_str().unwrap_or_default().to_owned();
                let id = version["versionId"].as_str().unwrap_or_default().to_owned();
                if version["versionAliases"]
                    .as_array()
                    .is_some_and(|a| a.iter().any(|x| x == "default"))
                {
                    let m = model_id(&version).to_owned();
                    for v in s.versions.iter_mut().filter(|v| model_id(v) == m) {
                        remove_alias(v, "default");
                    }
                }
                s.versions.push(version);
                json!({"@type": "type.googleapis.com/google.cloud.aiplatform.v1.UploadModelResponse", "model": model, "modelVersionId": id})
            }
            Effect::Deploy {
                endpoint,
                mut deployed,
                split,
            } => {
                s.next_id += 1;
                let id = s.next_id.to_string();
                deployed["id"] = json!(id);
                let e = s
                    .endpoints
                    .iter_mut()
                    .find(|e| e["name"] == endpoint)
                    .unwrap();
                e["deployedModels"]
                    .as_array_mut()
                    .unwrap()
                    .push(deployed.clone());
                let split: BTreeMap<String, i64> = split
                    .into_iter()
                    .map(|(k, v)| (if k == "0" { id.clone() } else { k }, v))
                    .collect();
                e["trafficSplit"] = json!(split);
                json!({"@type": "type.googleapis.com/google.cloud.aiplatform.v1.DeployModelResponse", "deployedModel": deployed})
            }
            Effect::DeleteVersion { model, version } => {
                s.versions
                    .retain(|v| !(model_id(v) == model && v["versionId"] == version.as_str()));
                json!({"@type": "type.googleapis.com/google.protobuf.Empty"})
            }
            Effect::DeleteModel(model) => {
                s.versions.retain(|v| model_id(v) != model);
                json!({"@type": "type.googleapis.com/google.protobuf.Empty"})
            }
        };
        if let Some(op) = s.ops.iter_mut().find(|o| o.name == name) {
            op.response = Some(response);
        }
    }
    let _ = config;
}

pub(super) fn op_json(op: &FakeOp) -> Value {
    let done = Instant::now() >= op.due;
    let mut v = json!({"name": op.name, "metadata": op.metadata, "done": done});
    if done {
        match &op.error {
            Some(e) => v["error"] = e.clone(),
            None => v["response"] = op.response.clone().unwrap_or(json!({})),
        }
    }
    v
}

pub(super) fn new_op(
    s: &mut State,
    config: &FakeConfig,
    under: &str,
    effect: Option<Effect>,
    metadata: &str,
) -> String {
    s.next_id += 1;
    let name = format!("{under}/operations/{}", s.next_id);
    s.ops.push(FakeOp {
        name: name.clone(),
        due: Instant::now() + config.op_delay,
        effect,
        error: None,
        response: None,
        metadata: json!({
            "@type": format!("type.googleapis.com/google.cloud.aiplatform.v1.{metadata}"),
            "genericMetadata": {"createTime": stamp(Utc::now()), "updateTime": stamp(Utc::now())},
        }),
    });
    name
}
