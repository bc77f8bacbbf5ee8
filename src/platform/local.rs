//! The client of the embedded local engine's REST API.

use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use reqwest::{Method, RequestBuilder, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{Platform, PlatformError, SnippetAuth};
use crate::domain::shell::{continued, file_stem, shell_quote};
use crate::domain::{
    Capabilities, ClusterSummary, Job, JobPage, LogPage, MetricsPage, Model, ModelPage,
    ServingMetrics, ServingRuntimes, Version, VersionPage,
};
use crate::engine::http::PROJECT;
use crate::engine::http::error::ErrorBody;
use crate::engine::operations::Operation;

/// Talks to a local engine over HTTP with its bearer token.
#[derive(Clone)]
pub struct LocalPlatform {
    base: String,
    token: String,
    /// Where the token was read from, for snippets that read it when they run.
    token_file: Option<PathBuf>,
    http: reqwest::Client,
}

impl LocalPlatform {
    /// A client for the engine at `base` (e.g. `http://127.0.0.1:8471`).
    pub fn new(base: impl Into<String>, token: impl Into<String>) -> LocalPlatform {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(2))
            .timeout(Duration::from_secs(30))
            .tcp_nodelay(true)
            .build()
            .unwrap_or_default();
        LocalPlatform {
            base: base.into().trim_end_matches('/').to_owned(),
            token: token.into(),
            token_file: None,
            http,
        }
    }

    /// Notes the file the token was read from (snippets read it there).
    pub fn with_token_file(mut self, path: PathBuf) -> LocalPlatform {
        self.token_file = Some(path);
        self
    }

    fn models_url(&self) -> String {
        format!("{}/v1/projects/{PROJECT}/models", self.base)
    }

    fn jobs_url(&self) -> String {
        format!("{}/v1/projects/{PROJECT}/jobs", self.base)
    }

    fn request(&self, method: Method, url: &str) -> RequestBuilder {
        self.http.request(method, url).bearer_auth(&self.token)
    }

    async fn call<T: DeserializeOwned>(&self, request: RequestBuilder) -> Result<T, PlatformError> {
        let bytes = self.call_raw(request).await?;
        serde_json::from_slice(&bytes).map_err(|e| PlatformError::Protocol(e.to_string()))
    }

    async fn call_raw(&self, request: RequestBuilder) -> Result<bytes::Bytes, PlatformError> {
        let response = request
            .send()
            .await
            .map_err(|e| PlatformError::Unreachable {
                address: format!("the local engine at {}", self.base),
                detail: format!("{e}; is the engine running? (mlconsole engine)"),
            })?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| PlatformError::Protocol(e.to_string()))?;
        if status.is_success() {
            return Ok(bytes);
        }
        let (code_name, message) = match serde_json::from_slice::<ErrorBody>(&bytes) {
            Ok(body) => (body.error.status, body.error.message),
            Err(_) => (
                status.to_string(),
                String::from_utf8_lossy(&bytes).chars().take(500).collect(),
            ),
        };
        Err(match status {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                PlatformError::Unauthenticated(message)
            }
            StatusCode::NOT_FOUND => PlatformError::NotFound(message),
            s if s.is_server_error() => PlatformError::Server(message),
            _ => PlatformError::Rejected {
                status: code_name,
                message,
            },
        })
    }

    async fn get<T: DeserializeOwned>(
        &self,
        url: &str,
        query: &[(&str, String)],
    ) -> Result<T, PlatformError> {
        self.call(self.request(Method::GET, url).query(query)).await
    }

    async fn post<T: DeserializeOwned, B: Serialize + ?Sized>(
        &self,
        url: &str,
        body: &B,
    ) -> Result<T, PlatformError> {
        self.call(self.request(Method::POST, url).json(body)).await
    }

    async fn delete<T: DeserializeOwned>(&self, url: &str) -> Result<T, PlatformError> {
        self.call(self.request(Method::DELETE, url)).await
    }
}

#[async_trait]
impl Platform for LocalPlatform {
    fn describe(&self) -> String {
        format!("local engine at {}", self.base)
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::ALL
    }

    async fn check_connection(&self) -> Result<(), PlatformError> {
        let _: JobPage = self
            .get(&self.jobs_url(), &[("pageSize", "1".to_owned())])
            .await?;
        Ok(())
    }

    async fn submit_job(&self, job: &Job) -> Result<Job, PlatformError> {
        self.post(&self.jobs_url(), job).await
    }

    async fn list_jobs(
        &self,
        filter: &str,
        page_size: usize,
        page_token: Option<&str>,
    ) -> Result<JobPage, PlatformError> {
        let mut query = vec![("pageSize", page_size.to_string())];
        if !filter.is_empty() {
            query.push(("filter", filter.to_owned()));
        }
        if let Some(token) = page_token {
            query.push(("pageToken", token.to_owned()));
        }
        self.get(&self.jobs_url(), &query).await
    }

    async fn get_job(&self, id: &str) -> Result<Job, PlatformError> {
        self.get(&format!("{}/{id}", self.jobs_url()), &[]).await
    }

    async fn cancel_job(&self, id: &str) -> Result<Job, PlatformError> {
        self.post(
            &format!("{}/{id}:cancel", self.jobs_url()),
            &serde_json::json!({}),
        )
        .await
    }

    async fn read_logs(
        &self,
        id: &str,
        after: u64,
        page_size: usize,
    ) -> Result<LogPage, PlatformError> {
        let query = [
            ("after", after.to_string()),
            ("pageSize", page_size.to_string()),
        ];
        self.get(&format!("{}/{id}/logs", self.jobs_url()), &query)
            .await
    }

    async fn read_metrics(
        &self,
        id: &str,
        since: Option<DateTime<Utc>>,
    ) -> Result<MetricsPage, PlatformError> {
        let query: Vec<(&str, String)> = since
            .map(|t| ("since", t.to_rfc3339_opts(SecondsFormat::Micros, true)))
            .into_iter()
            .collect();
        self.get(&format!("{}/{id}/metrics", self.jobs_url()), &query)
            .await
    }

    async fn search_logs(
        &self,
        request: &crate::domain::log_search::LogSearchRequest,
    ) -> Result<crate::domain::log_search::LogSearchPage, PlatformError> {
        let url = format!("{}:searchLogs", self.jobs_url());
        self.post(&url, request).await
    }

    async fn cluster_summary(&self) -> Result<Option<ClusterSummary>, PlatformError> {
        let url = format!("{}/v1/projects/{PROJECT}/machine", self.base);
        match self.get(&url, &[]).await {
            Ok(summary) => Ok(Some(summary)),
            // An engine older than the machine summary: no strip.
            Err(PlatformError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn serving_runtimes(&self) -> Result<Option<ServingRuntimes>, PlatformError> {
        let url = format!("{}/v1/projects/{PROJECT}/runtimes", self.base);
        Ok(Some(self.get(&url, &[]).await?))
    }

    async fn list_models(&self) -> Result<Vec<Model>, PlatformError> {
        let page: ModelPage = self.get(&self.models_url(), &[]).await?;
        Ok(page.models)
    }

    async fn list_versions(&self, model: &str) -> Result<Vec<Version>, PlatformError> {
        let url = format!("{}/{model}/versions", self.models_url());
        let page: VersionPage = self.get(&url, &[]).await?;
        Ok(page.versions)
    }

    async fn create_model(&self, model: &Model) -> Result<Model, PlatformError> {
        self.post(&self.models_url(), model).await
    }

    async fn delete_model(&self, model: &str) -> Result<Model, PlatformError> {
        let _: Operation = self
            .delete(&format!("{}/{model}", self.models_url()))
            .await?;
        Ok(Model {
            name: model.to_owned(),
            ..Model::default()
        })
    }

    async fn create_version(
        &self,
        model: &str,
        version: &Version,
    ) -> Result<Version, PlatformError> {
        // The engine answers the creation's operation; the version (CREATING) is in it.
        let op: Operation = self
            .post(&format!("{}/{model}/versions", self.models_url()), version)
            .await?;
        op.metadata.version.ok_or_else(|| {
            PlatformError::Protocol("the creation's operation names no version".into())
        })
    }

    async fn delete_version(&self, model: &str, version: &str) -> Result<Version, PlatformError> {
        let op: Operation = self
            .delete(&format!("{}/{model}/versions/{version}", self.models_url()))
            .await?;
        Ok(op.metadata.version.unwrap_or_else(|| Version {
            name: version.to_owned(),
            ..Version::default()
        }))
    }

    async fn set_default_version(
        &self,
        model: &str,
        version: &str,
    ) -> Result<Version, PlatformError> {
        let url = format!(
            "{}/{model}/versions/{version}:setDefault",
            self.models_url()
        );
        self.post(&url, &serde_json::json!({})).await
    }

    fn resubmit_command(&self, job: &Job, new_id: &str) -> Result<String, String> {
        let body = serde_json::to_string(&job.resubmission(new_id)).map_err(|e| e.to_string())?;
        let mut parts = vec![format!("curl -X POST {}", shell_quote(&self.jobs_url()))];
        if let Some(file) = &self.token_file {
            parts.push(format!(
                "-H \"Authorization: Bearer $(cat {})\"",
                shell_quote(&file.display().to_string())
            ));
        }
        parts.push("-H 'Content-Type: application/json'".into());
        parts.push(format!("-d {}", shell_quote(&body)));
        Ok(continued(&parts))
    }

    fn version_command(
        &self,
        model: &str,
        version: &Version,
        new_name: &str,
    ) -> Result<String, String> {
        let (config, left_out) = crate::domain::version_copy::gcloud_config(version);
        let config = serde_json::to_string_pretty(&config).map_err(|e| e.to_string())?;
        let file = format!("/tmp/{}.json", file_stem(&format!("{model}_{new_name}")));
        // The engine speaks Cloud ML Engine's API: gcloud reaches it through an endpoint
        // override, with the engine's token, leaving the user's gcloud settings alone.
        let mut parts = vec![
            format!(
                "CLOUDSDK_API_ENDPOINT_OVERRIDES_ML={}",
                shell_quote(&format!("{}/", self.base))
            ),
            format!(
                "gcloud ai-platform versions create {}",
                shell_quote(new_name)
            ),
            format!("--model={}", shell_quote(model)),
            format!("--project={PROJECT}"),
            "--region=global".to_owned(),
        ];
        match &self.token_file {
            Some(token) => parts.push(format!(
                "--access-token-file={}",
                shell_quote(&token.display().to_string())
            )),
            None => parts[0].insert_str(0, "CLOUDSDK_AUTH_DISABLE_CREDENTIALS=true "),
        }
        parts.push(format!("--config={file}"));
        let note = if left_out.is_empty() {
            String::new()
        } else {
            format!(
                "# Not in gcloud's version config, set in the console: {}\n",
                left_out.join(", ")
            )
        };
        Ok(format!(
            "{note}cat > {file} <<'SPEC'\n{config}\nSPEC\n{}",
            continued(&parts)
        ))
    }

    fn predict_url(&self, model: &str, version: Option<&str>) -> String {
        match version {
            Some(v) => format!("{}/{model}/versions/{v}:predict", self.models_url()),
            None => format!("{}/{model}:predict", self.models_url()),
        }
    }

    fn snippet_auth(&self) -> SnippetAuth {
        match &self.token_file {
            Some(path) => SnippetAuth::TokenFile(path.clone()),
            None => SnippetAuth::None,
        }
    }

    async fn predict(
        &self,
        model: &str,
        version: Option<&str>,
        body: String,
    ) -> Result<String, PlatformError> {
        let request = self
            .request(Method::POST, &self.predict_url(model, version))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body);
        let bytes = self.call_raw(request).await?;
        String::from_utf8(bytes.to_vec()).map_err(|e| PlatformError::Protocol(e.to_string()))
    }

    async fn version_metrics(
        &self,
        model: &str,
        version: &str,
        since: Option<DateTime<Utc>>,
    ) -> Result<ServingMetrics, PlatformError> {
        let query: Vec<(&str, String)> = since
            .map(|t| ("since", t.to_rfc3339_opts(SecondsFormat::Micros, true)))
            .into_iter()
            .collect();
        let url = format!("{}/{model}/versions/{version}/metrics", self.models_url());
        self.get(&url, &query).await
    }
}
