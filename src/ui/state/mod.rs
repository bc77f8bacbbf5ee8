//! What the console knows, as plain data (no egui): the connections, and the jobs and
//! models of every connection, updated by the [`App`](super::App) from the backend's updates and read by
//! every tab that needs them.

pub mod connections;
pub mod jobs;
pub mod models;
