//! What the console does with a command picked in the palette.

use super::App;
use super::nav::{Nav, Tab};
use super::palette::PaletteCommand;
use crate::backend::{ModelChange, PickTarget, Request};

impl App {
    /// Runs a palette command (the keyboard's way to every action).
    pub fn run_command(&mut self, command: PaletteCommand) {
        match command {
            PaletteCommand::Show(tab) => self.navigate(Nav::Show(tab)),
            PaletteCommand::NewJob => self.navigate(Nav::OpenForm(None)),
            PaletteCommand::Connections => self.connections_panel.open = true,
            PaletteCommand::Filter(query) => self.navigate(Nav::FilterJobs(query)),
            PaletteCommand::SelectJob(key) => {
                self.navigate(Nav::Select(Some(key)));
                self.jobs_tab.scroll_to_selected();
                self.tab = Tab::Jobs;
            }
            PaletteCommand::CancelJob(key) => {
                self.tab = Tab::Jobs;
                self.jobs_tab.ask_cancel(key);
            }
            PaletteCommand::CloneJob(key) => {
                if let Some(job) = self.state.jobs.find(&key) {
                    let job = Box::new(job.clone());
                    self.navigate(Nav::OpenForm(Some((key.connection, job))));
                }
            }
            PaletteCommand::CopyJobCommand(key) => self.copy_job_command(&key),
            PaletteCommand::ShowModel(connection, model) => {
                self.navigate(Nav::ShowModel(connection, model));
            }
            PaletteCommand::MakeDefault {
                connection,
                model,
                version,
            } => {
                self.backend.send(Request::ChangeModels {
                    connection: connection.clone(),
                    change: ModelChange::SetDefault {
                        model: model.clone(),
                        version,
                    },
                });
                self.navigate(Nav::ShowModel(connection, model));
            }
            PaletteCommand::OpenLogDir => self.backend.send(Request::PickPath {
                target: PickTarget::LogDir,
                folder: true,
            }),
            PaletteCommand::RunSample => self.backend.send(Request::RunSampleJob),
            PaletteCommand::Alerts => self.navigate(Nav::OpenAlerts),
            PaletteCommand::SearchAllLogs => {
                self.tab = Tab::Logs;
                self.logs.search_all_jobs();
            }
        }
    }

    /// Copies the command line that re-creates a job (on its connection's platform).
    fn copy_job_command(&mut self, key: &crate::domain::JobKey) {
        if let Some(job) = self.state.jobs.find(key) {
            self.backend.send(Request::CopyJobCommand {
                job: key.clone(),
                details: Box::new(job.clone()),
            });
        }
    }
}
