//! The Model Registry: models, versions, aliases, uploads and deletes.

use super::*;

/// The models calls; `None` when the call is not one of them.
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
        ("GET", ["models"], None) => {
            let mut items: Vec<Value> = s
                .versions
                .iter()
                .filter(|v| {
                    v["versionAliases"]
                        .as_array()
                        .is_some_and(|a| a.iter().any(|x| x == "default"))
                })
                .cloned()
                .collect();
            items.sort_by(|a, b| model_id(a).cmp(model_id(b)));
            (200, page(&items, "models", query))
        }
        ("GET", ["models", m], verb) if verb.is_none() || verb == Some("listVersions") => {
            let (model, version) = m.split_once('@').map_or((*m, None), |(a, b)| (a, Some(b)));
            let versions: Vec<Value> = s
                .versions
                .iter()
                .filter(|v| model_id(v) == model)
                .cloned()
                .collect();
            if versions.is_empty() {
                return Some(error(
                    404,
                    "NOT_FOUND",
                    &format!("The Model \"{parent}/models/{model}\" does not exist."),
                ));
            }
            if verb == Some("listVersions") {
                return Some((200, page(&versions, "models", query)));
            }
            let want = version.unwrap_or("default");
            match versions.iter().find(|v| names_version(v, want)) {
                Some(v) => (200, v.clone()),
                None => error(
                    404,
                    "NOT_FOUND",
                    &format!("The Model version \"{m}\" does not exist."),
                ),
            }
        }
        ("POST", ["models"], Some("upload")) => upload(s, config, parent, body),
        ("POST", ["models", m], Some("mergeVersionAliases")) => {
            let Some((model, version)) = m.split_once('@') else {
                return Some(error(
                    400,
                    "INVALID_ARGUMENT",
                    "give a version: models/M@VERSION",
                ));
            };
            let wanted: Vec<String> = body
                .and_then(|b| b["versionAliases"].as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            let Some(index) = s
                .versions
                .iter()
                .position(|v| model_id(v) == model && names_version(v, version))
            else {
                return Some(error(404, "NOT_FOUND", "no such model version"));
            };
            for alias in &wanted {
                if let Some(removed) = alias.strip_prefix('-') {
                    if removed == "default" {
                        return Some(error(
                            400,
                            "INVALID_ARGUMENT",
                            "The default alias cannot be removed; move it to another version.",
                        ));
                    }
                    remove_alias(&mut s.versions[index], removed);
                } else {
                    for v in s.versions.iter_mut().filter(|v| model_id(v) == model) {
                        remove_alias(v, alias);
                    }
                    s.versions[index]["versionAliases"]
                        .as_array_mut()
                        .unwrap()
                        .push(json!(alias));
                }
            }
            s.versions[index]["versionUpdateTime"] = json!(stamp(Utc::now()));
            (200, s.versions[index].clone())
        }
        ("DELETE", ["models", m], None) => {
            let (model, version) = m.split_once('@').map_or((*m, None), |(a, b)| (a, Some(b)));
            let deployed = |vid: Option<&str>| {
                s.endpoints.iter().any(|e| {
                    e["deployedModels"].as_array().unwrap().iter().any(|d| {
                        d["model"]
                            .as_str()
                            .unwrap_or_default()
                            .split('@')
                            .next()
                            .unwrap_or_default()
                            .ends_with(&format!("/models/{model}"))
                            && vid.is_none_or(|v| d["modelVersionId"] == v)
                    })
                })
            };
            let effect = match version {
                Some(v) => {
                    let Some(found) = s
                        .versions
                        .iter()
                        .find(|x| model_id(x) == model && names_version(x, v))
                    else {
                        return Some(error(404, "NOT_FOUND", "no such model version"));
                    };
                    let vid = found["versionId"].as_str().unwrap_or_default().to_owned();
                    let is_default = found["versionAliases"]
                        .as_array()
                        .is_some_and(|a| a.iter().any(|x| x == "default"));
                    let count = s.versions.iter().filter(|x| model_id(x) == model).count();
                    if is_default && count > 1 {
                        return Some(error(
                            400,
                            "FAILED_PRECONDITION",
                            "The default version of a model cannot be deleted; move the default alias first.",
                        ));
                    }
                    if deployed(Some(&vid)) {
                        return Some(error(
                            400,
                            "FAILED_PRECONDITION",
                            "The model version is deployed to an endpoint; undeploy it first.",
                        ));
                    }
                    Effect::DeleteVersion {
                        model: model.to_owned(),
                        version: vid,
                    }
                }
                None => {
                    if deployed(None) {
                        return Some(error(
                            400,
                            "FAILED_PRECONDITION",
                            "The model is deployed to an endpoint; undeploy it first.",
                        ));
                    }
                    Effect::DeleteModel(model.to_owned())
                }
            };
            let name = new_op(
                s,
                config,
                &format!("{parent}/models/{model}"),
                Some(effect),
                "DeleteOperationMetadata",
            );
            (200, op_json(s.ops.iter().find(|o| o.name == name).unwrap()))
        }
        _ => return None,
    })
}

pub(super) fn model_id(v: &Value) -> &str {
    v["name"]
        .as_str()
        .unwrap_or_default()
        .rsplit('/')
        .next()
        .unwrap_or_default()
}

/// True when `name` is the version's id or one of its aliases.
pub(super) fn names_version(v: &Value, name: &str) -> bool {
    v["versionId"] == name
        || v["versionAliases"]
            .as_array()
            .is_some_and(|a| a.iter().any(|x| x == name))
}

pub(super) fn remove_alias(v: &mut Value, alias: &str) {
    if let Some(list) = v["versionAliases"].as_array_mut() {
        list.retain(|a| a != alias);
    }
}

pub(super) fn upload(
    s: &mut State,
    config: &FakeConfig,
    parent: &str,
    body: Option<&Value>,
) -> (u16, Value) {
    let Some(body) = body else {
        return error(400, "INVALID_ARGUMENT", "empty body");
    };
    let model = &body["model"];
    if model["containerSpec"]["imageUri"]
        .as_str()
        .unwrap_or_default()
        .is_empty()
    {
        return error(
            400,
            "INVALID_ARGUMENT",
            "model.container_spec.image_uri is required",
        );
    }
    let artifact = model["artifactUri"].as_str().unwrap_or_default().to_owned();
    let id = match (body["parentModel"].as_str(), body["modelId"].as_str()) {
        (Some(p), _) => {
            let id = p.rsplit('/').next().unwrap_or_default().to_owned();
            if !s.versions.iter().any(|v| model_id(v) == id) {
                return error(
                    404,
                    "NOT_FOUND",
                    &format!("Parent model {p} does not exist."),
                );
            }
            id
        }
        (None, Some(id)) => {
            if s.versions.iter().any(|v| model_id(v) == id) {
                return error(
                    409,
                    "ALREADY_EXISTS",
                    &format!("Model {id} already exists."),
                );
            }
            id.to_owned()
        }
        (None, None) => {
            s.next_id += 1;
            s.next_id.to_string()
        }
    };
    let version_id = (s
        .versions
        .iter()
        .filter(|v| model_id(v) == id)
        .map(|v| {
            v["versionId"]
                .as_str()
                .unwrap_or("0")
                .parse::<u64>()
                .unwrap_or(0)
        })
        .max()
        .unwrap_or(0)
        + 1)
    .to_string();
    let now = stamp(Utc::now());
    let mut version = model.clone();
    version["name"] = json!(format!("{parent}/models/{id}"));
    version["versionId"] = json!(version_id);
    version["versionCreateTime"] = json!(now);
    version["versionUpdateTime"] = json!(now);
    version["createTime"] = json!(now);
    version["updateTime"] = json!(now);
    if version["versionAliases"]
        .as_array()
        .is_none_or(|a| a.is_empty())
        && version_id == "1"
    {
        version["versionAliases"] = json!(["default"]);
    }
    if version_id == "1"
        && !version["versionAliases"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a == "default")
    {
        version["versionAliases"]
            .as_array_mut()
            .unwrap()
            .insert(0, json!("default"));
    }
    let broken = artifact.contains("broken");
    let name = new_op(
        s,
        config,
        &format!("{parent}/models/{id}"),
        (!broken).then_some(Effect::Upload(version)),
        "UploadModelOperationMetadata",
    );
    if broken {
        let op = s.ops.iter_mut().find(|o| o.name == name).unwrap();
        op.error = Some(
            json!({"code": 3, "message": format!("Model directory {artifact} is expected to contain exactly one of: [saved_model.pb, saved_model.pbtxt, model.joblib, model.pkl, model.bst].")}),
        );
    }
    (200, op_json(s.ops.iter().find(|o| o.name == name).unwrap()))
}
