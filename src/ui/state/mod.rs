//! What the console knows, as plain data (no egui): the connections, the jobs and models
//! of every connection and the selected job, kept by the [`App`](super::App) from the
//! backend's updates and read by every tab that needs them.

pub mod connections;
pub mod jobs;
pub mod models;

use std::collections::BTreeMap;

use crate::backend::{ConnectionStatus, Update};
use crate::domain::{Capabilities, ConnectionId, Job, JobKey};
use connections::Connections;
use jobs::JobList;
use models::Models;

/// Everything the tabs read and none of them owns.
#[derive(Default)]
pub struct Snapshots {
    /// Every connection as last reported.
    pub connections: Connections,
    /// Every connection's jobs.
    pub jobs: JobList,
    /// Why the last job sync of a connection failed.
    pub jobs_errors: BTreeMap<ConnectionId, String>,
    /// Every connection's models as last listed.
    pub models: Models,
    /// The job whose log, resources and scalars the tabs show.
    pub selected: Option<JobKey>,
}

impl Snapshots {
    /// Takes an update; answers the jobs that just finished, per connection, and whether
    /// a connection's jobs were listed anew. Job lists are moved in, not copied.
    pub fn apply(&mut self, update: Update) -> Applied {
        self.connections.on_update(&update);
        self.models.on_update(&update);
        match update {
            Update::Connection {
                connection,
                status: ConnectionStatus::Disconnected,
            } => {
                self.jobs.replace(&connection, Vec::new());
                Applied::Nothing(Box::new(Update::Connection {
                    connection,
                    status: ConnectionStatus::Disconnected,
                }))
            }
            Update::JobsReplaced { connection, jobs } => {
                self.jobs_errors.remove(&connection);
                let finished = self.jobs.replace(&connection, jobs);
                Applied::Jobs {
                    connection,
                    finished,
                    listed: true,
                }
            }
            Update::JobsChanged { connection, jobs } => {
                self.jobs_errors.remove(&connection);
                let finished = self.jobs.upsert(&connection, jobs);
                Applied::Jobs {
                    connection,
                    finished,
                    listed: false,
                }
            }
            Update::JobsFailed {
                connection,
                message,
            } => {
                self.jobs_errors.insert(connection, message);
                Applied::Taken
            }
            other => Applied::Nothing(Box::new(other)),
        }
    }

    /// The selected job as the job list has it.
    pub fn selected_job(&self) -> Option<&Job> {
        self.selected.as_ref().and_then(|k| self.jobs.find(k))
    }

    /// What the selected job's connection can do (everything when none is selected).
    pub fn selected_capabilities(&self) -> Capabilities {
        self.selected.as_ref().map_or(Capabilities::ALL, |k| {
            self.connections.capabilities(&k.connection)
        })
    }

    /// Each failed job sync as "connection: why".
    pub fn job_sync_errors(&self) -> Vec<String> {
        self.jobs_errors
            .iter()
            .map(|(id, e)| format!("{}: {e}", self.connections.name(id)))
            .collect()
    }
}

/// What [`Snapshots::apply`] did with an update.
pub enum Applied {
    /// A connection's jobs changed; `finished` are those that just ended.
    Jobs {
        /// The connection whose jobs changed.
        connection: ConnectionId,
        /// The jobs that ended with this update.
        finished: Vec<Job>,
        /// Whether the whole list came anew (after a (re)connect).
        listed: bool,
    },
    /// It was the snapshots' alone.
    Taken,
    /// The update, for the tabs (the snapshots may have read it too).
    Nothing(Box<Update>),
}
