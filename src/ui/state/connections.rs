//! Every connection as the console knows it: its settings, last state, cluster size,
//! where its secret is kept, and the warnings to keep in view. Read by every tab.

use std::collections::{BTreeMap, HashMap};

use crate::backend::{ConnectionStatus, Update};
use crate::domain::{Capabilities, ClusterSummary, ConnectionConfig, ConnectionId};

#[derive(Debug, Default)]
/// Every connection: settings, status and cluster summary as last reported.
pub struct Connections {
    list: Vec<ConnectionConfig>,
    status: HashMap<ConnectionId, ConnectionStatus>,
    clusters: HashMap<ConnectionId, ClusterSummary>,
    secrets_in: String,
    /// Where each connection that has a secret keeps it.
    secret_places: BTreeMap<ConnectionId, String>,
    /// Things to keep in view: a broken settings file, secrets outside a keyring.
    pub warnings: Vec<String>,
    revision: u64,
}

impl Connections {
    /// Takes the list, a state, a cluster's size, or a warning.
    pub fn on_update(&mut self, update: &Update) {
        match update {
            Update::Connections {
                list,
                secrets_in,
                secret_places,
            } => self.set_list(list.clone(), secrets_in.clone(), secret_places.clone()),
            Update::SettingsWarning(text) if !self.warnings.contains(text) => {
                self.warnings.push(text.clone());
            }
            Update::Connection { connection, status } => {
                self.set_status(connection.clone(), status.clone());
            }
            Update::Cluster {
                connection,
                summary,
            } => self.set_cluster(connection.clone(), *summary),
            _ => {}
        }
    }

    /// Takes the backend's list of connections.
    pub fn set_list(
        &mut self,
        list: Vec<ConnectionConfig>,
        secrets_in: String,
        secret_places: BTreeMap<ConnectionId, String>,
    ) {
        self.status.retain(|id, _| list.iter().any(|c| &c.id == id));
        if list != self.list {
            self.revision += 1;
        }
        self.list = list;
        if !secrets_in.is_empty() {
            self.secrets_in = secrets_in;
            self.secret_places = secret_places;
        }
    }

    /// Records a connection's state.
    pub fn set_status(&mut self, id: ConnectionId, status: ConnectionStatus) {
        if !status.is_connected() {
            self.clusters.remove(&id);
        }
        self.status.insert(id, status);
    }

    /// Records a cluster's size and load.
    pub fn set_cluster(&mut self, id: ConnectionId, summary: ClusterSummary) {
        self.clusters.insert(id, summary);
    }

    /// A cluster connection's size and load, once known.
    pub fn cluster(&self, id: &ConnectionId) -> Option<&ClusterSummary> {
        self.clusters.get(id)
    }

    /// Changes whenever names, colours or the list change.
    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// Every connection, the built-in local engine first.
    pub fn list(&self) -> &[ConnectionConfig] {
        &self.list
    }

    /// A connection's settings.
    pub fn config(&self, id: &ConnectionId) -> Option<&ConnectionConfig> {
        self.list.iter().find(|c| &c.id == id)
    }

    /// A connection's name (its id if unknown).
    pub fn name<'a>(&'a self, id: &'a ConnectionId) -> &'a str {
        self.config(id).map_or(id.as_str(), |c| c.name.as_str())
    }

    /// A connection's colour, as red, green and blue.
    pub fn color(&self, id: &ConnectionId) -> [u8; 3] {
        self.config(id).map_or([128, 128, 128], |c| c.color)
    }

    /// Where secrets are kept, in words.
    pub fn secrets_in(&self) -> &str {
        &self.secrets_in
    }

    /// Where a connection's secret is kept, when it has one.
    pub fn secret_place(&self, id: &ConnectionId) -> Option<&str> {
        self.secret_places.get(id).map(String::as_str)
    }

    /// True when the connection refuses changes.
    pub fn read_only(&self, id: &ConnectionId) -> bool {
        self.config(id).is_some_and(|c| c.read_only)
    }

    /// A connection's last reported state.
    pub fn status(&self, id: &ConnectionId) -> Option<&ConnectionStatus> {
        self.status.get(id)
    }

    /// What a connection can do (everything until it says otherwise).
    pub fn capabilities(&self, id: &ConnectionId) -> Capabilities {
        self.status
            .get(id)
            .and_then(ConnectionStatus::capabilities)
            .copied()
            .unwrap_or(Capabilities::ALL)
    }

    /// The connected connections that accept changes, for a form's connection picker.
    pub fn writable(&self) -> Vec<&ConnectionConfig> {
        self.list
            .iter()
            .filter(|c| c.enabled && !c.read_only)
            .collect()
    }
}
