//! The backend thread: owns a tokio runtime, keeps one platform client per connection,
//! and answers the UI's [`Request`]s with [`Update`]s over channels, asking egui to
//! repaint after each. Updates name the connection they are about, and each connection
//! syncs in tasks of its own, so a slow or dead one never stalls another.

mod alerts;
mod connection;
mod hub;
mod live;
mod messages;
mod models;
pub mod settings;
mod shared;
mod tasks;

use std::sync::mpsc;

use tokio::sync::mpsc::UnboundedSender;

pub(crate) use messages::Updates;
pub use messages::{
    BackendSettings, ConnectionStatus, LogDirSource, LogSearch, ModelChange, ModelView, ModelWatch,
    PickTarget, Request, SecretEdit, SnippetKind, Update, VersionAnswer,
};

/// The UI's end of the backend: send requests, drain updates.
pub struct Backend {
    requests: UnboundedSender<Request>,
    updates: mpsc::Receiver<Update>,
}

impl Backend {
    /// Starts the backend thread for `settings`; it calls `repaint.request_repaint()`
    /// after every update it sends.
    pub fn spawn(settings: BackendSettings, repaint: egui::Context) -> std::io::Result<Backend> {
        let (request_tx, request_rx) = tokio::sync::mpsc::unbounded_channel();
        let (update_tx, update_rx) = mpsc::channel();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("backend-worker")
            .enable_all()
            .build()?;
        let updates = Updates::new(update_tx, repaint);
        std::thread::Builder::new()
            .name("backend".into())
            .spawn(move || runtime.block_on(hub::run(settings, request_rx, updates)))?;
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
