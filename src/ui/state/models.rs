//! Every connection's models as last listed, why a listing failed, and what serves them:
//! read by the Models and Predict tabs.

use std::collections::HashMap;

use crate::backend::{ConnectionStatus, ModelView, Update};
use crate::domain::{ConnectionId, ServingRuntimes};

/// A model's connection and short name.
pub type ModelKey = (ConnectionId, String);

#[derive(Debug, Default)]
/// Every connection's models and versions as last listed.
pub struct Models {
    /// Every connection's models, a connection's together, in the order first listed.
    pub list: Vec<ModelView>,
    /// Why a connection's last listing failed.
    pub errors: HashMap<ConnectionId, String>,
    /// What serves each connection's models.
    pub runtimes: HashMap<ConnectionId, ServingRuntimes>,
}

impl Models {
    /// Takes a listing, a failure, the runtimes, or a connection gone.
    pub fn on_update(&mut self, update: &Update) {
        match update {
            Update::Models { connection, models } => self.set(connection, models.clone()),
            Update::ServingRuntimes {
                connection,
                runtimes,
            } => {
                self.runtimes.insert(connection.clone(), runtimes.clone());
            }
            Update::ModelsFailed {
                connection,
                message,
            } => {
                self.errors.insert(connection.clone(), message.clone());
            }
            Update::Connection {
                connection,
                status: ConnectionStatus::Disconnected,
            } => self.set(connection, Vec::new()),
            _ => {}
        }
    }

    /// Replaces a connection's models with a fresh listing, where they were.
    pub fn set(&mut self, connection: &ConnectionId, models: Vec<ModelView>) {
        self.errors.remove(connection);
        let at = self
            .list
            .iter()
            .position(|m| &m.connection == connection)
            .unwrap_or(self.list.len());
        self.list.retain(|m| &m.connection != connection);
        let at = at.min(self.list.len());
        self.list.splice(at..at, models);
    }

    /// The model a key names.
    pub fn find(&self, key: &ModelKey) -> Option<&ModelView> {
        self.list
            .iter()
            .find(|m| m.connection == key.0 && m.model.short_name() == key.1)
    }
}
