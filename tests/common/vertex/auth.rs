//! Google's OAuth token endpoint and the bearer tokens calls carry.

use super::*;

pub(super) fn token(s: &mut State, config: &FakeConfig, body: &[u8]) -> (u16, Value) {
    // Google's token endpoint takes a form or JSON (google-cloud-auth sends JSON).
    let form: HashMap<String, String> = match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => map
            .into_iter()
            .map(|(k, v)| (k, v.as_str().unwrap_or_default().to_owned()))
            .collect(),
        _ => form_urlencoded::parse(body)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect(),
    };
    let grant = form.get("grant_type").cloned().unwrap_or_default();
    s.token_requests.push(grant.clone());
    let ok = match grant.as_str() {
        "refresh_token" => form
            .get("refresh_token")
            .is_some_and(|r| s.refresh_tokens.contains(r)),
        "urn:ietf:params:oauth:grant-type:jwt-bearer" => {
            form.get("assertion").is_some_and(|a| verify_jwt(s, a))
        }
        _ => false,
    };
    if !ok {
        return (
            400,
            json!({"error": "invalid_grant", "error_description": "Token has been expired or revoked."}),
        );
    }
    s.next_id += 1;
    let access = format!("ya29.fake-{}", s.next_id);
    s.tokens
        .insert(access.clone(), Instant::now() + config.token_lifetime);
    (
        200,
        json!({"access_token": access, "expires_in": config.token_lifetime.as_secs(), "token_type": "Bearer", "scope": "https://www.googleapis.com/auth/cloud-platform"}),
    )
}

/// Checks a self-signed service-account JWT (AIP-4111): RS256 by a known account's
/// key, not expired, for the cloud-platform scope.
pub(super) fn verify_jwt(s: &State, jwt: &str) -> bool {
    let parts: Vec<&str> = jwt.split('.').collect();
    let [header, claims, signature] = parts.as_slice() else {
        return false;
    };
    let decode = |p: &str| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(p)
            .ok()
    };
    let (Some(claims_bytes), Some(sig), Some(header_bytes)) =
        (decode(claims), decode(signature), decode(header))
    else {
        return false;
    };
    let Ok(claims_json) = serde_json::from_slice::<Value>(&claims_bytes) else {
        return false;
    };
    let Ok(header_json) = serde_json::from_slice::<Value>(&header_bytes) else {
        return false;
    };
    if header_json["alg"] != "RS256" {
        return false;
    }
    let Some(key) = claims_json["iss"]
        .as_str()
        .and_then(|iss| s.accounts.get(iss))
    else {
        return false;
    };
    let exp = claims_json["exp"].as_i64().unwrap_or(0);
    let scoped = claims_json["scope"]
        .as_str()
        .is_some_and(|sc| sc.contains("cloud-platform"))
        || claims_json["aud"].as_str().is_some_and(|a| !a.is_empty());
    let signed = format!("{header}.{claims}");
    let verified = aws_lc_rs::signature::UnparsedPublicKey::new(
        &aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256,
        key,
    )
    .verify(signed.as_bytes(), &sig)
    .is_ok();
    verified && scoped && exp > Utc::now().timestamp()
}

pub(super) fn authorize(
    s: &mut State,
    config: &FakeConfig,
    headers: &HeaderMap,
) -> Result<(), (u16, Value)> {
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let ok = match bearer {
        None => config.allow_anonymous,
        Some(token) if token.matches('.').count() == 2 => verify_jwt(s, token),
        Some(token) => s.tokens.get(token).is_some_and(|exp| Instant::now() < *exp),
    };
    if ok {
        Ok(())
    } else {
        s.rejected_tokens += 1;
        Err(error(
            401,
            "UNAUTHENTICATED",
            "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.",
        ))
    }
}
