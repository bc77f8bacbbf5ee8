//! The backend thread: owns a tokio runtime, talks to the platform, and answers the UI's
//! [`Request`]s with [`Update`]s over channels, asking egui to repaint after each.

mod connection;
mod models;
mod tasks;

use std::path::PathBuf;
use std::sync::mpsc;

use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};

use crate::domain::{Job, LogEntry, Model, ResourceSample, ServingMetrics, Version};

pub use connection::ConnectionSettings;
pub use models::ModelChange;

/// A model and its versions, as the Models and Predict tabs show them.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelView {
    /// The model.
    pub model: Model,
    /// Its versions, by name.
    pub versions: Vec<Version>,
}

/// What the UI asks of the backend.
#[derive(Debug, Clone)]
pub enum Request {
    /// Try to connect again now instead of waiting for the next attempt.
    Reconnect,
    /// Sync the job list now rather than at the next tick.
    RefreshJobs,
    /// Follow one job's log from its first entry (`None` stops following).
    FollowLogs(Option<String>),
    /// Keep these jobs' resource samples coming from their first (replaces the previous
    /// set); updates carry `generation` so stale ones can be told apart.
    WatchMetrics {
        /// The jobs.
        jobs: Vec<String>,
        /// Increases with every request.
        generation: u64,
    },
    /// Submit a new job.
    SubmitJob(Box<Job>),
    /// Cancel a job.
    CancelJob(String),
    /// Submit `mlconsole sample-train` as a job, with a job dir in the data dir.
    RunSampleJob,
    /// Ask where to save `text` (suggesting `file_name`) and write it there.
    SaveText {
        /// The suggested file name.
        file_name: String,
        /// What to write.
        text: String,
    },
    /// Keep reading the scalars of this log dir (`None` stops).
    WatchLogDir(Option<PathBuf>),
    /// Start TensorBoard on a log dir and open it in the browser.
    OpenTensorBoard(PathBuf),
    /// Keep models and versions (and their traffic) coming, while a model tab is shown.
    WatchModels(ModelWatch),
    /// Change models or versions.
    ChangeModels(ModelChange),
    /// Send an online prediction request.
    Predict {
        /// The model.
        model: String,
        /// A pinned version, or `None` for the default.
        version: Option<String>,
        /// The request body, `{"instances": [...]}`.
        body: String,
    },
    /// Read a file dropped on the Predict tab into a request; `inputs` are the chosen
    /// version's input names.
    LoadPredictFile {
        /// The file.
        path: PathBuf,
        /// The model's input names.
        inputs: Vec<String>,
    },
    /// Put a snippet that sends a prediction request on the clipboard.
    CopySnippet {
        /// curl or Python.
        kind: SnippetKind,
        /// The model.
        model: String,
        /// A pinned version or `None` for the default.
        version: Option<String>,
        /// The request body.
        body: String,
    },
    /// Let the user pick a file or folder for a form field.
    PickPath {
        /// The field the path is for.
        target: PickTarget,
        /// Pick a folder rather than a file.
        folder: bool,
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
    /// A model file for a new version of the named model.
    ModelFile(String),
}

/// The state of the connection to the platform.
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
    },
    /// The connection was lost; retrying by itself.
    Reconnecting {
        /// What went wrong.
        error: String,
    },
    /// Connecting failed; retrying by itself. `hint` says what the user can do.
    Failed {
        /// What went wrong.
        error: String,
        /// What to do about it.
        hint: String,
    },
}

/// What the backend tells the UI.
#[derive(Debug, Clone)]
pub enum Update {
    /// The connection changed.
    Connection(ConnectionStatus),
    /// Every job, replacing what the UI had (first sync, or after reconnecting).
    JobsReplaced(Vec<Job>),
    /// Jobs that changed since the last sync.
    JobsChanged(Vec<Job>),
    /// Syncing the job list failed.
    JobsFailed(String),
    /// New log entries of the followed job.
    Logs {
        /// The job they belong to.
        job_id: String,
        /// Entries in order, continuing the previous ones.
        entries: Vec<LogEntry>,
        /// The job has ended and this is the last of its log.
        complete: bool,
    },
    /// Reading the followed job's log failed.
    LogsFailed {
        /// The job.
        job_id: String,
        /// What went wrong.
        message: String,
    },
    /// New resource samples of a watched job.
    Metrics {
        /// The `WatchMetrics` request they answer.
        generation: u64,
        /// The job.
        job_id: String,
        /// Samples after the previous ones, oldest first.
        samples: Vec<ResourceSample>,
    },
    /// A submission was accepted (the job) or refused (why).
    Submitted(Result<Job, String>),
    /// A cancel was accepted or refused.
    CancelResult {
        /// The job.
        job_id: String,
        /// The job as it is now, or why the cancel was refused.
        result: Result<Job, String>,
    },
    /// New scalars of the watched log dir (only points not sent before).
    Scalars {
        /// The log dir.
        dir: PathBuf,
        /// New points by run, then tag.
        runs: crate::tensorboard::ScalarsByRun,
        /// Records skipped as corrupt so far.
        corrupt_records: u64,
    },
    /// Reading the log dir failed.
    ScalarsFailed {
        /// The log dir.
        dir: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// TensorBoard was started and serves at this address.
    TensorBoardStarted(String),
    /// A path was picked for a form field.
    Picked {
        /// The field.
        target: PickTarget,
        /// The path.
        path: PathBuf,
    },
    /// Every model with its versions.
    Models(Vec<ModelView>),
    /// Syncing models failed.
    ModelsFailed(String),
    /// New serving samples of a version.
    ServingMetrics {
        /// The model.
        model: String,
        /// The version.
        version: String,
        /// Totals and the samples after the previous ones.
        metrics: ServingMetrics,
    },
    /// The answer to a prediction request.
    Predicted {
        /// The response body, or the error.
        result: Result<String, String>,
        /// The round trip.
        took: std::time::Duration,
    },
    /// A dropped file read into a request body and its instance count, or why not.
    PredictFile {
        /// The file.
        path: PathBuf,
        /// Body and instance count.
        result: Result<(String, usize), String>,
    },
    /// Text to put on the clipboard, and what it is.
    CopyText {
        /// The text.
        text: String,
        /// E.g. "curl command".
        what: String,
    },
    /// Something to tell the user, e.g. that a file was saved.
    Notice {
        /// The message.
        text: String,
        /// True if it reports a failure.
        error: bool,
    },
}

/// The UI's end of the backend: send requests, drain updates.
pub struct Backend {
    requests: UnboundedSender<Request>,
    updates: mpsc::Receiver<Update>,
}

impl Backend {
    /// Starts the backend thread for `settings`; it calls `repaint.request_repaint()`
    /// after every update it sends.
    pub fn spawn(settings: ConnectionSettings, repaint: egui::Context) -> std::io::Result<Backend> {
        let (request_tx, request_rx) = tokio::sync::mpsc::unbounded_channel();
        let (update_tx, update_rx) = mpsc::channel();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("backend-worker")
            .enable_all()
            .build()?;
        let updates = Updates {
            tx: update_tx,
            repaint,
        };
        std::thread::Builder::new()
            .name("backend".into())
            .spawn(move || runtime.block_on(tasks::run(settings, request_rx, updates)))?;
        Ok(Backend {
            requests: request_tx,
            updates: update_rx,
        })
    }

    /// A backend that answers nothing: for benchmarks and tests that feed updates by hand.
    pub fn disconnected() -> Backend {
        let (requests, _) = tokio::sync::mpsc::unbounded_channel();
        let (_, updates) = mpsc::channel();
        Backend { requests, updates }
    }

    /// Sends a request; never blocks.
    pub fn send(&self, request: Request) {
        // The backend ends only with the process, so a failed send has no one to tell.
        let _ = self.requests.send(request);
    }

    /// The next pending update, if any; never blocks.
    pub fn try_recv(&self) -> Option<Update> {
        self.updates.try_recv().ok()
    }
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

type RequestReceiver = UnboundedReceiver<Request>;
