//! Where a tab asks the console to go: the only thing tabs hand back to the [`App`]
//! (they send their own requests to the backend).
//!
//! [`App`]: super::App

use std::path::PathBuf;

use super::Tab;
use crate::domain::{ConnectionId, Job, JobKey};

/// A move the console makes for a tab.
#[derive(Debug, Clone, PartialEq)]
pub enum Nav {
    /// Show a tab.
    Show(Tab),
    /// Select a job (or none) and open its details.
    Select(Option<JobKey>),
    /// Open the New job form, empty or filled from a job of a connection.
    OpenForm(Option<(ConnectionId, Box<Job>)>),
    /// Show the scalars of a log dir in the Scalars tab.
    WatchLogDir(PathBuf),
    /// Try a model (its default, or a version) in the Predict tab.
    Try {
        /// Where the model is.
        connection: ConnectionId,
        /// The model.
        model: String,
        /// A pinned version, or the default.
        version: Option<String>,
    },
    /// Show a model in the Models tab (it may not be listed yet).
    ShowModel(ConnectionId, String),
    /// Open a page (or a folder, as a `file://` URL).
    OpenUrl(String),
    /// Tell the user something in the corner.
    Toast {
        /// The message.
        text: String,
        /// Whether it reports a failure.
        error: bool,
    },
}
