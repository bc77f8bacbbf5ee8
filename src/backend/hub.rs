//! The backend's request loop: every connection's tasks, the settings they are saved in,
//! and each request sent on to the connection it names (refused there when the
//! connection is read-only).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::task::JoinHandle;

use super::live::Live;
use super::messages::RequestReceiver;
use super::messages::{
    BackendSettings, ModelWatch, Request, SecretEdit, SnippetKind, Update, Updates,
};
use super::shared::{Current, Shared};
use super::{alerts, models, settings, tasks};
use crate::domain::{ConnectionConfig, ConnectionId, ConnectionKind, Job, JobKey};
use crate::secrets::{Secrets, connection_key};

/// Largest key file read into the keyring.
const MAX_KEY_FILE: u64 = 64 * 1024;

struct Hub {
    shared: Arc<Shared>,
    /// Every connection in the order the user sees them, running or not.
    live: Vec<Live>,
    /// Each connection's client slot, kept across restarts so a follower carries on.
    currents: HashMap<ConnectionId, Arc<Current>>,
    log_follower: Option<JoinHandle<()>>,
    metrics_watcher: Option<JoinHandle<()>>,
    logdir_watcher: Option<JoinHandle<()>>,
    log_searcher: Option<JoinHandle<()>>,
    alert_watcher: Option<JoinHandle<()>>,
    /// The alert rules in force.
    alert_rules: Vec<crate::domain::alerts::AlertRule>,
}

/// Serves requests until the UI goes away.
pub(super) async fn run(
    settings: BackendSettings,
    mut requests: RequestReceiver,
    updates: Updates,
) {
    let config_dir = settings.config_dir.clone();
    let loaded = tokio::task::spawn_blocking(move || settings::load(&config_dir))
        .await
        .unwrap_or_else(|e| settings::Loaded {
            connections: vec![ConnectionConfig::local_default()],
            problem: Some(format!("Reading the connections failed: {e}")),
        });
    let shared = Arc::new(Shared::new(settings, updates.clone()));
    let mut hub = Hub {
        shared: shared.clone(),
        live: Vec::new(),
        currents: HashMap::new(),
        log_follower: None,
        metrics_watcher: None,
        log_searcher: None,
        alert_watcher: None,
        alert_rules: Vec::new(),
        logdir_watcher: None,
    };
    if let Some(problem) = loaded.problem {
        updates.send(Update::SettingsWarning(problem));
    }
    for config in loaded.connections {
        hub.start(config);
    }
    hub.send_list(String::new());
    let config_dir = hub.shared.settings.config_dir.clone();
    let (rules, problem) = tokio::task::spawn_blocking(move || alerts::load(&config_dir))
        .await
        .unwrap_or_else(|e| (Vec::new(), Some(format!("Reading the alerts failed: {e}"))));
    if let Some(problem) = problem {
        updates.send(Update::SettingsWarning(problem));
    }
    hub.set_alerts(rules);
    // Open the secret store (the keyring's self-test) without holding up the rest.
    tokio::spawn({
        let shared = shared.clone();
        let list: Vec<ConnectionConfig> = hub.live.iter().map(|l| l.config.clone()).collect();
        async move {
            let secrets = shared.secrets().await;
            if let Some(warning) = secrets.warning() {
                shared
                    .updates
                    .send(Update::SettingsWarning(warning.to_owned()));
            }
            if let Some(moved) = secrets.moved_note() {
                shared.updates.send(Update::Notice {
                    text: moved.to_owned(),
                    error: secrets.move_failed(),
                });
            }
            let ids = list.iter().map(|c| c.id.clone()).collect();
            let (secrets_in, secret_places) = describe_secrets(secrets, ids).await;
            shared.updates.send(Update::Connections {
                list,
                secrets_in,
                secret_places,
            });
        }
    });
    while let Some(request) = requests.recv().await {
        hub.handle(request).await;
    }
}

impl Hub {
    /// Starts a connection, stopping the one of the same id first (its tasks must be gone
    /// before the new ones share its client slot).
    fn start(&mut self, config: ConnectionConfig) {
        let position = self.live.iter().position(|l| l.id() == &config.id);
        if let Some(i) = position {
            drop(self.live.remove(i));
        }
        let current = self.currents.entry(config.id.clone()).or_default().clone();
        let live = Live::start(config, current, &self.shared);
        match position {
            Some(i) => self.live.insert(i, live),
            None => self.live.push(live),
        }
    }

    fn get(&self, id: &ConnectionId) -> Option<&Live> {
        self.live.iter().find(|l| l.id() == id)
    }

    fn current(&self, id: &ConnectionId) -> Arc<Current> {
        self.get(id).map(|l| l.current.clone()).unwrap_or_default()
    }

    /// Puts `rules` in force: the watcher starts over with them; the console is told.
    fn set_alerts(&mut self, rules: Vec<crate::domain::alerts::AlertRule>) {
        if let Some(task) = self.alert_watcher.take() {
            task.abort();
        }
        self.updates().send(Update::Alerts(rules.clone()));
        self.alert_rules.clone_from(&rules);
        if rules.is_empty() {
            return;
        }
        let connections: Vec<_> = self
            .live
            .iter()
            .map(|l| (l.id().clone(), l.current.clone()))
            .collect();
        let every = self.shared.settings.alert_poll;
        self.alert_watcher = Some(tokio::spawn(alerts::watch(
            rules,
            connections,
            every,
            self.updates().clone(),
        )));
    }

    fn updates(&self) -> &Updates {
        &self.shared.updates
    }

    fn configs(&self) -> Vec<ConnectionConfig> {
        self.live.iter().map(|l| l.config.clone()).collect()
    }

    fn send_list(&self, secrets_in: String) {
        self.updates().send(Update::Connections {
            list: self.configs(),
            secrets_in,
            secret_places: BTreeMap::new(),
        });
    }

    /// Sends the connections with where secrets are kept, each connection's too.
    async fn send_list_with_secrets(&self) {
        let list = self.configs();
        let ids = list.iter().map(|c| c.id.clone()).collect();
        let (secrets_in, secret_places) = describe_secrets(self.shared.secrets().await, ids).await;
        self.updates().send(Update::Connections {
            list,
            secrets_in,
            secret_places,
        });
    }

    /// `Ok` when the connection may change things; else why not, for the user.
    fn may_change(&self, id: &ConnectionId, what: &str) -> Result<(), String> {
        match self.get(id) {
            None => Err(format!("there is no connection {id}; {what} was not done")),
            Some(live) if live.config.read_only => Err(format!(
                "{} is read-only: {what} was refused (turn read-only off in Connections, Ctrl+K)",
                live.config.name
            )),
            Some(_) => Ok(()),
        }
    }

    #[expect(
        clippy::too_many_lines,
        reason = "one arm per request, each a line or two"
    )]
    async fn handle(&mut self, request: Request) {
        match request {
            Request::Reconnect(id) => {
                if let Some(live) = self.get(&id) {
                    live.reconnect.notify_one();
                }
            }
            Request::RefreshJobs => {
                for live in &self.live {
                    live.refresh_jobs.notify_one();
                }
            }
            Request::FollowLogs(job) => {
                if let Some(task) = self.log_follower.take() {
                    task.abort();
                }
                self.log_follower = job.map(|job| {
                    let current = self.current(&job.connection);
                    tokio::spawn(tasks::follow_logs(current, job, self.updates().clone()))
                });
            }
            Request::WatchMetrics { jobs, generation } => {
                if let Some(task) = self.metrics_watcher.take() {
                    task.abort();
                }
                if !jobs.is_empty() {
                    let jobs = jobs
                        .into_iter()
                        .map(|j| {
                            let current = self.current(&j.connection);
                            (j, current)
                        })
                        .collect();
                    let task = tasks::watch_metrics(jobs, generation, self.updates().clone());
                    self.metrics_watcher = Some(tokio::spawn(task));
                }
            }
            Request::RunSampleJob => {
                let settings = &self.shared.settings;
                let job = tasks::sample_job(
                    &settings.data_dir,
                    settings.sample_trainer.as_deref(),
                    settings.sample_epochs,
                );
                self.submit(ConnectionId::local(), job);
            }
            Request::SubmitJob { connection, job } => self.submit(connection, Ok(*job)),
            Request::CancelJob(job) => self.cancel(job),
            Request::SaveText { file_name, text } => {
                tokio::spawn(tasks::save_text(file_name, text, self.updates().clone()));
            }
            Request::WatchLogDir(dir) => {
                if let Some(task) = self.logdir_watcher.take() {
                    task.abort();
                }
                self.logdir_watcher = dir.map(|source| {
                    // A job's bucket dir opens with its connection's credentials.
                    let gcs_token = source
                        .via
                        .as_ref()
                        .and_then(|id| self.currents.get(id)?.get())
                        .and_then(|platform| platform.bucket_token());
                    let auth = self.shared.settings.buckets.with_gcs_token(gcs_token);
                    tokio::spawn(tasks::watch_logdir(
                        source.location,
                        auth,
                        self.updates().clone(),
                    ))
                });
            }
            Request::OpenTensorBoard(dir) => {
                tokio::spawn(tasks::open_tensorboard(dir, self.updates().clone()));
            }
            Request::WatchModels(watch) => {
                self.shared
                    .watching_models
                    .store(watch as u8, Ordering::Relaxed);
                if watch != ModelWatch::Off {
                    for live in &self.live {
                        live.refresh_models.notify_one();
                    }
                }
            }
            Request::ChangeModels { connection, change } => {
                if let Err(text) = self.may_change(&connection, "changing models") {
                    self.updates().send(Update::Notice { text, error: true });
                    return;
                }
                let Some(live) = self.get(&connection) else {
                    return;
                };
                tokio::spawn(models::change(
                    connection.clone(),
                    live.current.clone(),
                    change,
                    live.refresh_models.clone(),
                    self.updates().clone(),
                ));
            }
            Request::Predict {
                connection,
                model,
                version,
                body,
            } => {
                tokio::spawn(models::predict(
                    self.current(&connection),
                    model,
                    version,
                    body,
                    self.updates().clone(),
                ));
            }
            Request::ShadowPredict {
                connection,
                model,
                versions,
                body,
            } => {
                tokio::spawn(models::shadow_predict(
                    self.current(&connection),
                    model,
                    versions,
                    body,
                    self.updates().clone(),
                ));
            }
            Request::LoadPredictFile { path, inputs } => {
                tokio::spawn(models::load_predict_file(
                    path,
                    inputs,
                    self.updates().clone(),
                ));
            }
            Request::CopySnippet {
                connection,
                kind,
                model,
                version,
                body,
            } => {
                let update = match self.current(&connection).get() {
                    Some(p) => {
                        let url = p.predict_url(&model, version.as_deref());
                        Update::CopyText {
                            text: models::snippet(kind, &url, &p.snippet_auth(), &body),
                            what: match kind {
                                SnippetKind::Curl => "curl command".into(),
                                SnippetKind::Python => "Python snippet".into(),
                            },
                        }
                    }
                    None => Update::Notice {
                        text: format!("{connection} is not connected."),
                        error: true,
                    },
                };
                self.updates().send(update);
            }
            Request::SetAlerts(rules) => {
                let dir = self.shared.settings.config_dir.clone();
                let saved = rules.clone();
                let result = tokio::task::spawn_blocking(move || alerts::save(&dir, &saved)).await;
                if let Err(e) = result
                    .map_err(|e| e.to_string())
                    .and_then(|r| r.map_err(|e| e.to_string()))
                {
                    self.updates().send(Update::Notice {
                        text: format!("The alerts were not saved: {e}"),
                        error: true,
                    });
                }
                self.set_alerts(rules);
            }
            Request::FinalScalars(dirs) => {
                let updates = self.updates().clone();
                tokio::task::spawn_blocking(move || {
                    updates.send(Update::FinalScalars(tasks::final_scalars(&dirs)));
                });
            }
            Request::SearchLogs(search) => {
                if let Some(task) = self.log_searcher.take() {
                    task.abort();
                }
                self.log_searcher = search.map(|search| {
                    let current = self.current(&search.connection);
                    tokio::spawn(tasks::search_logs(current, search, self.updates().clone()))
                });
            }
            Request::CopyJobCommand { job, details } => {
                let update = match self.current(&job.connection).get() {
                    Some(p) => {
                        let new_id = crate::domain::job::next_id(&job.job_id);
                        match p.resubmit_command(&details, &new_id) {
                            Ok(text) => Update::CopyText {
                                text,
                                what: format!("command that re-creates {}", job.job_id),
                            },
                            Err(why) => Update::Notice {
                                text: format!("No command for {}: {why}", job.job_id),
                                error: true,
                            },
                        }
                    }
                    None => Update::Notice {
                        text: format!("{} is not connected.", job.connection),
                        error: true,
                    },
                };
                self.updates().send(update);
            }
            Request::CopyVersionCommand {
                connection,
                model,
                version,
            } => {
                let current = self.current(&connection);
                let updates = self.updates().clone();
                tokio::spawn(async move {
                    updates
                        .send(tasks::version_command(current, &connection, &model, &version).await);
                });
            }
            Request::PickPath { target, folder } => {
                tokio::spawn(tasks::pick_path(target, folder, self.updates().clone()));
            }
            Request::SaveConnection { config, secret } => {
                self.save(*config, secret).await;
                self.set_alerts(self.alert_rules.clone());
            }
            Request::RemoveConnection(id) => {
                self.remove(&id).await;
                self.set_alerts(self.alert_rules.clone());
            }
            Request::SetConnectionEnabled {
                connection,
                enabled,
            } => {
                let Some(mut config) = self.get(&connection).map(|l| l.config.clone()) else {
                    return;
                };
                config.enabled = enabled;
                self.save(config, SecretEdit::Keep).await;
            }
        }
    }

    fn submit(&self, connection: ConnectionId, job: Result<Job, String>) {
        let job = job.and_then(|job| {
            self.may_change(&connection, &format!("submitting {}", job.job_id))
                .map(|()| job)
        });
        let current = self.current(&connection);
        let refresh = self.get(&connection).map(|l| l.refresh_jobs.clone());
        let updates = self.updates().clone();
        tokio::spawn(async move {
            let result = match (job, current.get()) {
                (Err(message), _) => Err(message),
                (Ok(_), None) => Err(format!(
                    "{connection} is not connected; the job was not submitted"
                )),
                (Ok(job), Some(platform)) => platform.submit_job(&job).await.map_err(|e| {
                    current.failed(&e);
                    e.to_string()
                }),
            };
            updates.send(Update::Submitted { connection, result });
            if let Some(refresh) = refresh {
                refresh.notify_one();
            }
        });
    }

    fn cancel(&self, job: JobKey) {
        let allowed = self.may_change(&job.connection, &format!("cancelling {}", job.job_id));
        let current = self.current(&job.connection);
        let refresh = self.get(&job.connection).map(|l| l.refresh_jobs.clone());
        let updates = self.updates().clone();
        tokio::spawn(async move {
            let result = match (allowed, current.get()) {
                (Err(message), _) => Err(message),
                (Ok(()), None) => Err(format!("{} is not connected", job.connection)),
                (Ok(()), Some(p)) => p.cancel_job(&job.job_id).await.map_err(|e| {
                    current.failed(&e);
                    e.to_string()
                }),
            };
            updates.send(Update::CancelResult { job, result });
            if let Some(refresh) = refresh {
                refresh.notify_one();
            }
        });
    }

    /// Adds or changes a connection: checks it, stores its secret, writes the settings
    /// file, and restarts it with the new settings. Nothing changes when a step fails.
    async fn save(&mut self, config: ConnectionConfig, secret: SecretEdit) {
        let others = self.configs();
        if let Err(e) = config.validate(&others) {
            self.updates()
                .send(Update::ConnectionSaved(Err((e.field, e.message))));
            return;
        }
        if let Some(old) = self.get(&config.id)
            && old.config.is_builtin()
            && !matches!(config.kind, ConnectionKind::Local { .. })
        {
            self.updates().send(Update::ConnectionSaved(Err((
                "kind",
                "the built-in local engine connection stays a local engine".into(),
            ))));
            return;
        }
        let secret = if config.kind.takes_secret() {
            secret
        } else {
            SecretEdit::Forget
        };
        let secrets = self.shared.secrets().await;
        let key = connection_key(config.id.as_str());
        let stored = tokio::task::spawn_blocking(move || store_secret(&secrets, &key, secret))
            .await
            .unwrap_or_else(|e| Err(("secret", e.to_string())));
        if let Err(e) = stored {
            self.updates().send(Update::ConnectionSaved(Err(e)));
            return;
        }
        let mut list = others;
        match list.iter_mut().find(|c| c.id == config.id) {
            Some(slot) => *slot = config.clone(),
            None => list.push(config.clone()),
        }
        if let Err(e) = self.write_settings(list).await {
            self.updates()
                .send(Update::ConnectionSaved(Err(("file", e))));
            return;
        }
        let id = config.id.clone();
        self.forget_data(&id);
        self.start(config);
        self.send_list_with_secrets().await;
        self.updates().send(Update::ConnectionSaved(Ok(id)));
    }

    async fn remove(&mut self, id: &ConnectionId) {
        let Some(live) = self.get(id) else {
            return;
        };
        if live.config.is_builtin() {
            self.updates().send(Update::Notice {
                text:
                    "The built-in local engine connection cannot be removed; disconnect it instead."
                        .into(),
                error: true,
            });
            return;
        }
        let name = live.config.name.clone();
        let list: Vec<ConnectionConfig> =
            self.configs().into_iter().filter(|c| &c.id != id).collect();
        if let Err(e) = self.write_settings(list).await {
            self.updates().send(Update::Notice {
                text: format!("{name} was not removed: {e}"),
                error: true,
            });
            return;
        }
        self.live.retain(|l| l.id() != id);
        self.currents.remove(id);
        let secrets = self.shared.secrets().await;
        let key = connection_key(id.as_str());
        let forgot = tokio::task::spawn_blocking(move || secrets.delete(&key)).await;
        let text = match forgot {
            Ok(Ok(())) => format!("Removed {name}."),
            Ok(Err(e)) => format!("Removed {name}, but its secret could not be forgotten: {e}"),
            Err(e) => format!("Removed {name}, but its secret could not be forgotten: {e}"),
        };
        self.forget_data(id);
        self.send_list_with_secrets().await;
        self.updates().send(Update::Notice { text, error: false });
    }

    /// Tells the UI to drop what it shows of a connection that restarts or goes.
    fn forget_data(&self, id: &ConnectionId) {
        self.updates().send(Update::JobsReplaced {
            connection: id.clone(),
            jobs: Vec::new(),
        });
        self.updates().send(Update::Models {
            connection: id.clone(),
            models: Vec::new(),
        });
    }

    async fn write_settings(&self, list: Vec<ConnectionConfig>) -> Result<(), String> {
        let dir = self.shared.settings.config_dir.clone();
        tokio::task::spawn_blocking(move || settings::save(&dir, &list))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| {
                format!(
                    "the settings could not be written to {}: {e}",
                    self.shared
                        .settings
                        .config_dir
                        .join(settings::SETTINGS_FILE)
                        .display()
                )
            })
    }
}

/// Carries out a secret edit (blocking: the keyring may be a D-Bus round trip away).
fn store_secret(
    secrets: &Secrets,
    key: &str,
    edit: SecretEdit,
) -> Result<(), (&'static str, String)> {
    let failed = |e: crate::secrets::SecretError| ("secret", e.to_string());
    match edit {
        SecretEdit::Keep => Ok(()),
        SecretEdit::Forget => secrets.delete(key).map_err(failed),
        SecretEdit::Set(token) => {
            let token = token.trim();
            if token.is_empty() {
                return Err(("secret", "the token is empty".into()));
            }
            secrets.set(key, token).map_err(failed)
        }
        SecretEdit::FromFile(path) => {
            let text = read_key_file(&path).map_err(|m| ("key_file", m))?;
            secrets.set(key, &text).map_err(failed)
        }
    }
}

/// A service-account (or authorized-user) JSON key file's text, checked.
fn read_key_file(path: &Path) -> Result<String, String> {
    let size = std::fs::metadata(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?
        .len();
    if size > MAX_KEY_FILE {
        return Err(format!(
            "{} is {size} bytes; a key file is a few KB of JSON",
            path.display()
        ));
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let json: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| format!("{} is not a JSON key file: {e}", path.display()))?;
    match json.get("type").and_then(|t| t.as_str()) {
        Some("service_account" | "authorized_user" | "external_account") => Ok(text),
        other => Err(format!(
            "{} is not a Google credentials file (its \"type\" is {other:?}, expected \"service_account\")",
            path.display()
        )),
    }
}

/// Where secrets are kept, and each of `ids`' secret, read on a blocking thread (the
/// keyring answers over D-Bus).
async fn describe_secrets(
    secrets: Arc<Secrets>,
    ids: Vec<ConnectionId>,
) -> (String, BTreeMap<ConnectionId, String>) {
    tokio::task::spawn_blocking(move || {
        let places = ids
            .into_iter()
            .filter_map(|id| {
                let place = secrets.location_of(&connection_key(id.as_str()))?;
                Some((id, place))
            })
            .collect();
        (secrets.describe(), places)
    })
    .await
    .unwrap_or_default()
}
