//! What the UI and the backend say to each other: the settings the backend starts with,
//! the UI's [`Request`]s and the backend's [`Update`]s, and the sending end of the
//! update channel that asks egui to repaint. Imports nothing of the backend.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::mpsc;

use crate::domain::bucket::Location;
use crate::domain::{
    Capabilities, ClusterSummary, ConnectionConfig, ConnectionId, Job, JobKey, LogEntry, Model,
    ReplicaSeries, ResourceSample, ServingMetrics, Version,
};

/// What the backend needs to know at start.
#[derive(Debug, Clone)]
pub struct BackendSettings {
    /// Where the connections file (and, without a keyring, the secrets file) is kept.
    pub config_dir: PathBuf,
    /// The built-in local engine's data directory: `engine.json` says where it listens,
    /// `token` holds the bearer token.
    pub data_dir: PathBuf,
    /// The `mlconsole` binary to start `engine` with when the built-in local engine does
    /// not answer; `None` never starts one.
    pub start_engine_with: Option<PathBuf>,
    /// The `mlconsole` binary whose `sample-train` the "Run sample job" button runs.
    pub sample_trainer: Option<PathBuf>,
    /// Epochs the sample job trains (`None`: the trainer's default, about half a minute).
    pub sample_epochs: Option<usize>,
    /// Keep secrets in the OS keyring when its self-test passes (else, or when false,
    /// in a file only the user can read).
    pub use_os_keyring: bool,
    /// Emulator endpoints for `gs://` and `s3://` log dirs (the environment's, normally).
    pub buckets: crate::buckets::BucketAccess,
    /// How often alerts look at the jobs they cover.
    pub alert_poll: std::time::Duration,
}

/// A model and its versions, as the Models and Predict tabs show them.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelView {
    /// The connection it is served on.
    pub connection: ConnectionId,
    /// The model as listed.
    pub model: Model,
    /// Its versions, by name.
    pub versions: Vec<Version>,
}

/// What to do with a connection's secret when its settings are saved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretEdit {
    /// Leave the stored one (or none) as it is.
    Keep,
    /// Store this token.
    Set(String),
    /// Read this key file and store its content (the file is not referenced after).
    FromFile(PathBuf),
    /// Forget the stored one.
    Forget,
}

/// One version's answer in a shadow compare: its name, the answer or error, the latency.
pub type VersionAnswer = (String, Result<String, String>, std::time::Duration);

/// A search across the logs of a connection's jobs.
#[derive(Debug, Clone, PartialEq)]
pub struct LogSearch {
    /// Whose jobs.
    pub connection: ConnectionId,
    /// What to look for (smart case) and where: empty `job_ids` is every job.
    pub request: crate::domain::log_search::LogSearchRequest,
    /// Counts the searches; pages of an older one are dropped.
    pub generation: u64,
}

/// What the UI asks of the backend.
#[derive(Debug, Clone)]
pub enum Request {
    /// Try to connect this connection again now instead of waiting for the next attempt.
    Reconnect(ConnectionId),
    /// Sync every connection's job list now rather than at the next tick.
    RefreshJobs,
    /// Follow one job's log from its first entry (`None` stops following).
    FollowLogs(Option<JobKey>),
    /// Keep these jobs' resource samples coming from their first (replaces the previous
    /// set); updates carry `generation` so stale ones can be told apart.
    WatchMetrics {
        /// The jobs whose samples to fetch: the selected one first.
        jobs: Vec<JobKey>,
        /// Increases with every request.
        generation: u64,
    },
    /// Submit a new job on a connection.
    SubmitJob {
        /// Where it runs.
        connection: ConnectionId,
        /// The job to submit, as the form built it.
        job: Box<Job>,
    },
    /// Cancel a job.
    CancelJob(JobKey),
    /// Submit `mlconsole sample-train` as a job on the built-in local engine, with a job
    /// dir in its data dir.
    RunSampleJob,
    /// Ask where to save `text` (suggesting `file_name`) and write it there.
    SaveText {
        /// The suggested file name.
        file_name: String,
        /// What to write.
        text: String,
    },
    /// Keep reading the scalars of this log dir (`None` stops).
    WatchLogDir(Option<LogDirSource>),
    /// Start TensorBoard on a log dir and open it in the browser.
    OpenTensorBoard(Location),
    /// Keep models and versions (and their traffic) coming, while a model tab is shown.
    WatchModels(ModelWatch),
    /// Change models or versions on a connection.
    ChangeModels {
        /// Which connection it is about.
        connection: ConnectionId,
        /// What was asked.
        change: ModelChange,
    },
    /// Send an online prediction request.
    Predict {
        /// The connection serving the model.
        connection: ConnectionId,
        /// The model's short name.
        model: String,
        /// A pinned version, or `None` for the default.
        version: Option<String>,
        /// The request body, `{"instances": [...]}`.
        body: String,
    },
    /// Send one request to two versions of a model at once (shadow compare).
    ShadowPredict {
        /// The connection serving the model.
        connection: ConnectionId,
        /// The model's short name.
        model: String,
        /// The two versions.
        versions: [String; 2],
        /// The request body.
        body: String,
    },
    /// Read a file dropped on the Predict tab into a request; `inputs` are the chosen
    /// version's input names.
    LoadPredictFile {
        /// The file as dropped or picked.
        path: PathBuf,
        /// The model's input names.
        inputs: Vec<String>,
    },
    /// Replace the alert rules (saved in the config dir; the watcher starts over).
    SetAlerts(Vec<crate::domain::alerts::AlertRule>),
    /// Read the last value of each scalar in these jobs' (local) job dirs.
    FinalScalars(Vec<(JobKey, String)>),
    /// Search the logs of many jobs of a connection (or stop searching: `None`).
    SearchLogs(Option<LogSearch>),
    /// Copy the command line that submits a job again on its platform (with the next
    /// id), to re-create it from a terminal.
    CopyJobCommand {
        /// Which job, on which connection.
        job: JobKey,
        /// The job as the console knows it.
        details: Box<Job>,
    },
    /// Copy the command line that creates a copy of a model version on its platform
    /// (with a free name), to re-create it from a terminal.
    CopyVersionCommand {
        /// The connection holding the model.
        connection: ConnectionId,
        /// The model.
        model: String,
        /// The version as the console knows it.
        version: Box<crate::domain::Version>,
    },
    /// Put a snippet that sends a prediction request on the clipboard.
    CopySnippet {
        /// The connection serving the model.
        connection: ConnectionId,
        /// curl or Python.
        kind: SnippetKind,
        /// The model's short name.
        model: String,
        /// A pinned version or `None` for the default.
        version: Option<String>,
        /// The request body, as typed.
        body: String,
    },
    /// Let the user pick a file or folder for a form field.
    PickPath {
        /// The field the path is for.
        target: PickTarget,
        /// Pick a folder rather than a file.
        folder: bool,
    },
    /// Add a connection or change one (matched by id), with what to do with its secret;
    /// it reconnects with the new settings at once.
    SaveConnection {
        /// The settings as the form built them.
        config: Box<ConnectionConfig>,
        /// Its secret.
        secret: SecretEdit,
    },
    /// Remove a connection and forget its secret.
    RemoveConnection(ConnectionId),
    /// Connect (`true`) or disconnect a connection, remembering the choice.
    SetConnectionEnabled {
        /// Which connection it is about.
        connection: ConnectionId,
        /// Connect it.
        enabled: bool,
    },
}

/// How much of the models the UI is showing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelWatch {
    /// Nothing: no model tab is shown.
    Off = 0,
    /// Models and versions (the Predict tab).
    Models = 1,
    /// Models, versions and per-second serving metrics (the Models tab).
    WithTraffic = 2,
}

/// Languages the Predict tab writes a request in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnippetKind {
    /// A curl command line.
    Curl,
    /// A Python script using `requests`.
    Python,
}

/// Which form field a picked path goes into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PickTarget {
    /// The script or program of a command job.
    Program,
    /// A package folder of a Python module job.
    Package,
    /// The working directory.
    WorkingDir,
    /// The job directory.
    JobDir,
    /// The Scalars tab's log dir.
    LogDir,
    /// A model file for a new version of the named model on a connection.
    ModelFile(ConnectionId, String),
    /// A service-account key file for the connection form.
    KeyFile,
}

/// The state of one connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectionStatus {
    /// The first attempt is under way.
    Connecting,
    /// Connected; `description` says to what, `note` anything worth saying once (e.g.
    /// that the local engine was started).
    Connected {
        /// E.g. "local engine at http://127.0.0.1:8471".
        description: String,
        /// E.g. "Started the local engine in the background."
        note: Option<String>,
        /// What the platform can do.
        capabilities: Capabilities,
    },
    /// The connection was lost; retrying by itself.
    Reconnecting {
        /// What went wrong.
        error: String,
    },
    /// The platform refused the credentials; retrying after the user signs in again.
    SignedOut {
        /// What the platform said.
        error: String,
        /// How to sign in again.
        hint: String,
    },
    /// Connecting failed; retrying by itself. `hint` says what the user can do.
    Failed {
        /// What went wrong.
        error: String,
        /// What to do about it.
        hint: String,
    },
    /// Turned off by the user.
    Disconnected,
}

impl ConnectionStatus {
    /// True while connected.
    pub fn is_connected(&self) -> bool {
        matches!(self, ConnectionStatus::Connected { .. })
    }

    /// The capabilities, once connected.
    pub fn capabilities(&self) -> Option<&Capabilities> {
        match self {
            ConnectionStatus::Connected { capabilities, .. } => Some(capabilities),
            _ => None,
        }
    }
}

/// What the backend tells the UI.
#[derive(Debug, Clone)]
pub enum Update {
    /// Every connection's settings (at start and after every change), and where secrets
    /// are kept.
    Connections {
        /// The connections, the built-in local engine first.
        list: Vec<ConnectionConfig>,
        /// E.g. "the OS keyring (Secret Service store)".
        secrets_in: String,
        /// Where each connection that has a secret keeps it.
        secret_places: BTreeMap<ConnectionId, String>,
    },
    /// Something to keep in view about the settings: the connections file was broken, or
    /// secrets are not in an OS keyring.
    SettingsWarning(String),
    /// A connection's settings were saved (its id), or why not (the field and message).
    ConnectionSaved(Result<ConnectionId, (&'static str, String)>),
    /// A connection's state changed.
    Connection {
        /// Which connection it is about.
        connection: ConnectionId,
        /// Its state.
        status: ConnectionStatus,
    },
    /// A cluster connection's size and load changed.
    Cluster {
        /// Which connection it is about.
        connection: ConnectionId,
        /// Nodes, CPUs, memory.
        summary: ClusterSummary,
    },
    /// Every job of a connection, replacing what the UI had of it (first sync, or after
    /// reconnecting).
    JobsReplaced {
        /// Which connection it is about.
        connection: ConnectionId,
        /// Its jobs.
        jobs: Vec<Job>,
    },
    /// A connection's jobs that changed since its last sync.
    JobsChanged {
        /// Which connection it is about.
        connection: ConnectionId,
        /// The connection's jobs as listed.
        jobs: Vec<Job>,
    },
    /// Syncing a connection's job list failed.
    JobsFailed {
        /// Which connection it is about.
        connection: ConnectionId,
        /// What went wrong.
        message: String,
    },
    /// New log entries of the followed job.
    Logs {
        /// The job they belong to.
        job: JobKey,
        /// Entries in order, continuing the previous ones.
        entries: Vec<LogEntry>,
        /// The job has ended and this is the last of its log.
        complete: bool,
    },
    /// The alert rules in force (at start, and after a change).
    Alerts(Vec<crate::domain::alerts::AlertRule>),
    /// The last value of each scalar (by `run/tag`) in jobs' dirs.
    FinalScalars(Vec<(JobKey, std::collections::BTreeMap<String, f64>)>),
    /// A page of results of the search across logs.
    LogSearch {
        /// The `SearchLogs` request it answers.
        generation: u64,
        /// The page, or why the search failed.
        page: Result<crate::domain::log_search::LogSearchPage, String>,
        /// No more pages will come.
        done: bool,
    },
    /// What went wrong in the followed job, read from its whole log once it ended.
    FailureCard {
        /// Which job, on which connection.
        job: JobKey,
        /// What the log and the samples say.
        card: Box<crate::domain::failure::FailureCard>,
    },
    /// Reading the followed job's log failed.
    LogsFailed {
        /// Which job, on which connection.
        job: JobKey,
        /// What went wrong.
        message: String,
    },
    /// New resource samples of a watched job.
    Metrics {
        /// The `WatchMetrics` request they answer.
        generation: u64,
        /// Which job, on which connection.
        job: JobKey,
        /// Samples after the previous ones, oldest first.
        samples: Vec<ResourceSample>,
        /// The same per replica, for a job on several machines.
        replicas: Vec<ReplicaSeries>,
        /// Each GPU the job holds, its totals (only the GPU fields are set).
        devices: Vec<ReplicaSeries>,
        /// Why samples are missing or partial, if the platform says.
        note: Option<String>,
    },
    /// A submission was accepted (the job) or refused (why).
    Submitted {
        /// Where it was submitted.
        connection: ConnectionId,
        /// The job, or why not.
        result: Result<Job, String>,
    },
    /// A cancel was accepted or refused.
    CancelResult {
        /// Which job, on which connection.
        job: JobKey,
        /// The job as it is now, or why the cancel was refused.
        result: Result<Job, String>,
    },
    /// New scalars of the watched log dir (only points not sent before).
    Scalars {
        /// The log dir it is about.
        dir: Location,
        /// New points by run, then tag.
        runs: crate::tensorboard::ScalarsByRun,
        /// Records skipped as corrupt so far.
        corrupt_records: u64,
    },
    /// Reading the log dir failed.
    ScalarsFailed {
        /// The log dir it is about.
        dir: Location,
        /// What went wrong.
        message: String,
    },
    /// TensorBoard was started and serves at this address.
    TensorBoardStarted(String),
    /// A path was picked for a form field.
    Picked {
        /// Which field the pick is for.
        target: PickTarget,
        /// What the user picked.
        path: PathBuf,
    },
    /// Every model of a connection with its versions.
    Models {
        /// Which connection it is about.
        connection: ConnectionId,
        /// Its models.
        models: Vec<ModelView>,
    },
    /// The runtimes a connection serves models with.
    ServingRuntimes {
        /// Which connection it is about.
        connection: ConnectionId,
        /// Its runtimes.
        runtimes: crate::domain::ServingRuntimes,
    },
    /// Syncing a connection's models failed.
    ModelsFailed {
        /// Which connection it is about.
        connection: ConnectionId,
        /// What went wrong.
        message: String,
    },
    /// New serving samples of a version.
    ServingMetrics {
        /// Which connection it is about.
        connection: ConnectionId,
        /// The model's short name.
        model: String,
        /// The version's short name.
        version: String,
        /// Totals and the samples after the previous ones.
        metrics: ServingMetrics,
    },
    /// The answer to a prediction request.
    Predicted {
        /// The response body, or the error.
        result: Result<String, String>,
        /// How long the request took, sent to answered.
        took: std::time::Duration,
    },
    /// Both versions' answers to a shadow compare, each with how long it took.
    Shadowed {
        /// Per version: its name, its answer or error, and its latency.
        answers: Box<[VersionAnswer; 2]>,
        /// How the answers differ, when both came.
        comparison: Result<crate::domain::shadow::Comparison, String>,
    },
    /// A dropped file read into a request body and its instance count, or why not.
    PredictFile {
        /// The file as dropped or picked.
        path: PathBuf,
        /// Body and instance count.
        result: Result<(String, usize), String>,
    },
    /// Text to put on the clipboard, and what it is.
    CopyText {
        /// The text, as it goes on the clipboard.
        text: String,
        /// E.g. "curl command".
        what: String,
    },
    /// The answer to a change of models or versions, naming the change.
    ModelChanged {
        /// Where it was asked.
        connection: ConnectionId,
        /// What was asked.
        change: ModelChange,
        /// What was done, or why it was not.
        result: Result<String, String>,
    },
    /// Something to tell the user, e.g. that a file was saved.
    Notice {
        /// What to tell the user.
        text: String,
        /// True if it reports a failure.
        error: bool,
    },
}

/// A change to models or versions the UI asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelChange {
    /// Create a model.
    CreateModel(String),
    /// Delete a model without versions.
    DeleteModel(String),
    /// Create a version of `model` from a model file or folder.
    CreateVersion {
        /// The model's short name.
        model: String,
        /// The new version's name.
        version: String,
        /// A `model.onnx` or a folder holding one.
        path: PathBuf,
    },
    /// Delete a version.
    DeleteVersion {
        /// The model's short name.
        model: String,
        /// The version's short name.
        version: String,
    },
    /// Create a version from a job's job dir, creating the model first if need be.
    DeployJob {
        /// The model's short name.
        model: String,
        /// The new version's name.
        version: String,
        /// The job dir holding `model.onnx`.
        job_dir: PathBuf,
    },
    /// Make a version the default.
    SetDefault {
        /// The model's short name.
        model: String,
        /// The version's short name.
        version: String,
    },
}

/// The backend's end of the update channel.
#[derive(Clone)]
pub(crate) struct Updates {
    tx: mpsc::Sender<Update>,
    repaint: egui::Context,
}

impl Updates {
    pub(crate) fn send(&self, update: Update) {
        if self.tx.send(update).is_ok() {
            self.repaint.request_repaint();
        }
    }
}

impl Updates {
    /// The sending end of `tx`, asking `repaint` to repaint after each update.
    pub(crate) fn new(tx: mpsc::Sender<Update>, repaint: egui::Context) -> Updates {
        Updates { tx, repaint }
    }
}

/// The backend's end of the request channel.
pub(crate) type RequestReceiver = tokio::sync::mpsc::UnboundedReceiver<Request>;

/// A log dir to read, and the connection whose credentials open it when it is a bucket
/// (a Vertex AI job's `gs://` dir).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogDirSource {
    /// The folder or bucket prefix.
    pub location: Location,
    /// The connection the job came from, if any.
    pub via: Option<ConnectionId>,
}

impl From<Location> for LogDirSource {
    fn from(location: Location) -> LogDirSource {
        LogDirSource {
            location,
            via: None,
        }
    }
}

impl From<PathBuf> for LogDirSource {
    fn from(path: PathBuf) -> LogDirSource {
        Location::Local(path).into()
    }
}
