//! Endpoints: deployments, traffic splits and predictions.

use super::*;

/// The endpoints calls; `None` when the call is not one of them.
#[expect(
    clippy::too_many_lines,
    reason = "one match over the resource's calls, as Google's API lists them"
)]
pub(super) fn route(s: &mut State, config: &FakeConfig, call: &Call<'_>) -> Option<(u16, Value)> {
    let Call {
        method,
        parent,
        parts,
        verb,
        query,
        body,
        ..
    } = *call;
    Some(match (method.as_str(), parts, verb) {
        ("GET", ["endpoints"], None) => (200, page(&s.endpoints, "endpoints", query)),
        ("GET", ["endpoints", e], None) => match find_endpoint(s, parent, e) {
            Some(i) => (200, s.endpoints[i].clone()),
            None => error(
                404,
                "NOT_FOUND",
                &format!("The Endpoint \"{parent}/endpoints/{e}\" does not exist."),
            ),
        },
        ("PATCH", ["endpoints", e], None) => {
            let Some(i) = find_endpoint(s, parent, e) else {
                return Some(error(404, "NOT_FOUND", "no such endpoint"));
            };
            if param(query, "updateMask") != Some("traffic_split") {
                return Some(error(
                    400,
                    "INVALID_ARGUMENT",
                    "this fake updates traffic_split only",
                ));
            }
            let split: BTreeMap<String, i64> = body
                .and_then(|b| serde_json::from_value(b["trafficSplit"].clone()).ok())
                .unwrap_or_default();
            if let Err(e) = check_split(&s.endpoints[i], &split, false) {
                return Some(e);
            }
            s.endpoints[i]["trafficSplit"] = json!(split);
            s.endpoints[i]["updateTime"] = json!(stamp(Utc::now()));
            (200, s.endpoints[i].clone())
        }
        ("POST", ["endpoints", e], Some("deployModel")) => {
            let Some(i) = find_endpoint(s, parent, e) else {
                return Some(error(404, "NOT_FOUND", "no such endpoint"));
            };
            let Some(body) = body else {
                return Some(error(400, "INVALID_ARGUMENT", "empty body"));
            };
            let mut deployed = body["deployedModel"].clone();
            let model_ref = deployed["model"].as_str().unwrap_or_default().to_owned();
            let (model_name, version) = model_ref
                .split_once('@')
                .map_or((model_ref.as_str(), None), |(a, b)| (a, Some(b)));
            let model = model_name.rsplit('/').next().unwrap_or_default();
            let Some(found) = s
                .versions
                .iter()
                .find(|x| model_id(x) == model && version.is_none_or(|v| x["versionId"] == v))
            else {
                return Some(error(
                    404,
                    "NOT_FOUND",
                    &format!("Model {model_ref} does not exist."),
                ));
            };
            deployed["modelVersionId"] = found["versionId"].clone();
            deployed["createTime"] = json!(stamp(Utc::now()));
            let split: BTreeMap<String, i64> =
                serde_json::from_value(body["trafficSplit"].clone()).unwrap_or_default();
            if let Err(e) = check_split(&s.endpoints[i], &split, true) {
                return Some(e);
            }
            let endpoint = s.endpoints[i]["name"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let name = new_op(
                s,
                config,
                &endpoint,
                Some(Effect::Deploy {
                    endpoint: endpoint.clone(),
                    deployed,
                    split,
                }),
                "DeployModelOperationMetadata",
            );
            (200, op_json(s.ops.iter().find(|o| o.name == name).unwrap()))
        }
        ("POST", ["endpoints", e], Some("predict")) => {
            let Some(i) = find_endpoint(s, parent, e) else {
                return Some(error(404, "NOT_FOUND", "no such endpoint"));
            };
            let Some(instances) = body.and_then(|b| b["instances"].as_array()) else {
                return Some(error(400, "INVALID_ARGUMENT", "instances is required"));
            };
            let endpoint = &s.endpoints[i];
            let split: BTreeMap<String, i64> =
                serde_json::from_value(endpoint["trafficSplit"].clone()).unwrap_or_default();
            let Some((deployed_id, _)) = split.iter().max_by_key(|(_, v)| **v) else {
                return Some(error(
                    400,
                    "FAILED_PRECONDITION",
                    "the endpoint has no deployed model",
                ));
            };
            let deployed = endpoint["deployedModels"]
                .as_array()
                .unwrap()
                .iter()
                .find(|d| d["id"] == deployed_id.as_str())
                .unwrap();
            let version: f64 = deployed["modelVersionId"]
                .as_str()
                .unwrap_or("0")
                .parse()
                .unwrap_or(0.0);
            let predictions: Vec<Value> = instances
                .iter()
                .map(|row| {
                    json!(
                        row.as_array()
                            .map_or(0.0, |r| r.iter().filter_map(Value::as_f64).sum::<f64>())
                            * version
                    )
                })
                .collect();
            (
                200,
                json!({
                    "predictions": predictions,
                    "deployedModelId": deployed_id,
                    "model": deployed["model"].as_str().unwrap_or_default().split('@').next().unwrap_or_default(),
                    "modelVersionId": deployed["modelVersionId"],
                    "modelDisplayName": deployed["displayName"],
                }),
            )
        }
        _ => return None,
    })
}

pub(super) fn find_endpoint(s: &State, parent: &str, id: &str) -> Option<usize> {
    let name = format!("{parent}/endpoints/{id}");
    s.endpoints.iter().position(|e| e["name"] == name.as_str())
}

pub(super) fn check_split(
    endpoint: &Value,
    split: &BTreeMap<String, i64>,
    deploying: bool,
) -> Result<(), (u16, Value)> {
    let known: Vec<&str> = endpoint["deployedModels"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|d| d["id"].as_str())
        .collect();
    for key in split.keys() {
        if !(known.contains(&key.as_str()) || deploying && key == "0") {
            return Err(error(
                400,
                "INVALID_ARGUMENT",
                &format!("DeployedModel ID(s) [{key}] do not exist on the endpoint."),
            ));
        }
    }
    let sum: i64 = split.values().sum();
    if sum != 100 {
        return Err(error(
            400,
            "INVALID_ARGUMENT",
            &format!("The traffic split must sum to 100, got {sum}."),
        ));
    }
    Ok(())
}
