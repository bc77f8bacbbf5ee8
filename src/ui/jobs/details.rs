//! The Jobs tab's details panel: how a job was invoked, its state and times, its
//! outputs and the actions on it, and the cancel confirmation.

use super::*;

impl JobsTab {
    #[expect(
        clippy::too_many_lines,
        reason = "one details panel, section by section"
    )]
    pub(super) fn details(
        &mut self,
        ui: &mut Ui,
        key: &JobKey,
        job: &Job,
        connections: &Connections,
        actions: &mut Vec<JobsAction>,
    ) {
        let dark = ui.visuals().dark_mode;
        let read_only = connections.read_only(&key.connection);
        let capabilities = connections.capabilities(&key.connection);
        let refused = format!(
            "{} is read-only (change that in Connections, Ctrl+K)",
            connections.name(&key.connection)
        );
        ui.horizontal(|ui| {
            ui.heading(&job.job_id);
            if let Some(name) = &job.display_name {
                ui.label(RichText::new(name).strong());
            }
            if ui
                .small_button("✖")
                .on_hover_text("Close details (Esc)")
                .clicked()
            {
                self.details_open = false;
            }
        });
        ui.horizontal(|ui| {
            ui.label(
                RichText::new(format!("{} {}", theme::state_icon(job.state), job.state))
                    .color(theme::state_color(job.state, dark))
                    .strong(),
            );
            if connections.list().len() > 1 {
                ui.label(
                    RichText::new(format!("on {}", connections.name(&key.connection)))
                        .color(theme::rgb(connections.color(&key.connection))),
                );
            }
        });
        ui.horizontal_wrapped(|ui| {
            if !job.state.is_finished() && job.state != JobState::Cancelling {
                let cancel = ui
                    .add_enabled(!read_only, egui::Button::new("⏹ Cancel job"))
                    .on_hover_text("Stop the job (asks first)")
                    .on_disabled_hover_text(&refused);
                if cancel.clicked() {
                    self.confirm_cancel = Some(key.clone());
                }
            }
            if ui
                .button("⎘ Clone…")
                .on_hover_text("Open the New job form filled in from this job")
                .clicked()
            {
                actions.push(JobsAction::OpenForm(Some((
                    key.connection.clone(),
                    Box::new(job.clone()),
                ))));
            }
            if ui
                .button("📋 Copy as command")
                .on_hover_text(
                    "Copy the command line that submits this job again (curl to the local engine, ray job submit, gcloud ai custom-jobs create)",
                )
                .clicked()
            {
                actions.push(JobsAction::CopyCommand(key.clone(), Box::new(job.clone())));
            }
            if !job.state.is_finished()
                && ui
                    .button("⚠ Alert on this job")
                    .on_hover_text("Notify when it stalls, prints NaN/inf or uses 90 % of the memory (edit in Alerts)")
                    .clicked()
            {
                actions.push(JobsAction::Go(Nav::AlertOn(key.clone())));
            }
            let in_diff = self.diff.contains(key);
            if ui
                .selectable_label(in_diff, "± Add to diff")
                .on_hover_text("Compare this job with others side by side (Ctrl+click rows too)")
                .clicked()
            {
                actions.push(JobsAction::ToggleDiff(key.clone()));
            }
            if ui.button("📜 Logs").clicked() {
                actions.push(JobsAction::ShowLogs);
            }
            if ui.button("📈 Resources").clicked() {
                actions.push(JobsAction::ShowResources);
            }
            let job_dir = job.training_input.as_ref().and_then(|i| i.job_dir.clone());
            let bucket_dir = job_dir
                .as_deref()
                .and_then(|d| crate::domain::bucket::BucketUrl::parse(d).ok());
            if let Some(url) = bucket_dir {
                if ui
                    .button("📉 Scalars")
                    .on_hover_text(format!("TensorBoard scalars in {url}"))
                    .clicked()
                {
                    actions.push(JobsAction::ShowScalars(crate::backend::LogDirSource {
                        location: crate::domain::bucket::Location::Bucket(url),
                        via: Some(key.connection.clone()),
                    }));
                }
            } else if let (Some(why), Some(_)) = (capabilities.local_job_dirs.why_not(), &job_dir) {
                ui.label(RichText::new(why).weak().small());
            }
            if let Some(dir) = job_dir.filter(|_| capabilities.local_job_dirs.yes()) {
                let local = !crate::domain::bucket::BucketUrl::is_bucket(&dir);
                if local
                    && ui
                        .button("📉 Scalars")
                        .on_hover_text("TensorBoard scalars in the job dir")
                        .clicked()
                {
                    actions.push(JobsAction::ShowScalars(
                        std::path::PathBuf::from(&dir).into(),
                    ));
                }
                if local
                    && ui
                        .button("📂 Job dir")
                        .on_hover_text(format!("Open {dir}"))
                        .clicked()
                {
                    actions.push(JobsAction::OpenJobDir(dir.clone()));
                }
                if job.state == JobState::Succeeded
                    && ui
                        .add_enabled(!read_only, egui::Button::new("🚀 Deploy as version"))
                        .on_hover_text(format!(
                            "Serve {dir}/model.onnx as a new version (see the Models tab)"
                        ))
                        .on_disabled_hover_text(&refused)
                        .clicked()
                {
                    actions.push(JobsAction::Deploy(
                        key.connection.clone(),
                        Box::new(job.clone()),
                    ));
                }
            }
        });
        if let Some(message) = &job.error_message {
            ui.add_space(4.0);
            // Once the failure card has read the log, the platform's message gives its
            // first line here and the rest (a stderr tail) folds away.
            let (first, rest) = message.split_once('\n').unwrap_or((message, ""));
            let folded = !rest.trim().is_empty()
                && self.failure_card_of(key).is_some_and(|c| c.has_findings());
            let shown = if folded { first } else { message.as_str() };
            ui.label(
                RichText::new(shown)
                    .color(theme::error_color(dark))
                    .monospace(),
            );
            if folded {
                egui::CollapsingHeader::new("The platform's message in full")
                    .id_salt(("error_message", &key.job_id))
                    .show(ui, |ui| {
                        ui.label(RichText::new(rest).monospace().small());
                    });
            }
        }
        ui.add_space(4.0);
        self.failure_section(ui, key, job, actions);
        ui.separator();
        egui::ScrollArea::vertical()
            .id_salt("details_scroll")
            .show(ui, |ui| {
                egui::Grid::new("job_times")
                    .num_columns(2)
                    .striped(true)
                    .show(ui, |ui| {
                        let time = |t: Option<DateTime<Utc>>| {
                            t.map(format::local_time).unwrap_or_else(|| "—".into())
                        };
                        ui.label("Created");
                        ui.label(time(job.create_time));
                        ui.end_row();
                        ui.label("Started");
                        ui.label(time(job.start_time));
                        ui.end_row();
                        ui.label("Ended");
                        ui.label(time(job.end_time));
                        ui.end_row();
                        ui.label("Duration");
                        ui.label(
                            job.duration(Utc::now())
                                .map(format::duration)
                                .unwrap_or_else(|| "—".into()),
                        );
                        ui.end_row();
                    });
                ui.add_space(6.0);
                ui.strong("Invocation");
                match &job.invocation {
                    Some(inv) => {
                        ui.add(
                            egui::Label::new(RichText::new(shell_words(&inv.argv)).monospace())
                                .wrap(),
                        );
                        ui.label(format!("in {}", inv.working_dir));
                        for (k, v) in &inv.env {
                            ui.label(RichText::new(format!("{k}={v}")).monospace().small());
                        }
                    }
                    None if job.study().is_some() => {
                        ui.label("A study runs no process: each trial is a job with its own invocation (▶ in its row).");
                    }
                    None => {
                        ui.label("Not started yet.");
                    }
                }
                if let Some(input) = &job.training_input {
                    ui.add_space(6.0);
                    ui.strong("Training input");
                    egui::Grid::new("training_input")
                        .num_columns(2)
                        .show(ui, |ui| {
                            let mut row = |name: &str, value: String| {
                                if !value.is_empty() {
                                    ui.label(name);
                                    ui.add(
                                        egui::Label::new(RichText::new(value).monospace()).wrap(),
                                    );
                                    ui.end_row();
                                }
                            };
                            row("Module", input.python_module.clone().unwrap_or_default());
                            row("Packages", input.package_uris.join("\n"));
                            // Once started, the invocation above already shows these.
                            if job.invocation.is_none() {
                                row("Command", shell_words(&input.command));
                                row("Args", shell_words(&input.args));
                            }
                            row("Working dir", input.working_dir.clone().unwrap_or_default());
                            row("Job dir", input.job_dir.clone().unwrap_or_default());
                            let config = input.master_config.clone().unwrap_or_default();
                            row("Image", config.image_uri.unwrap_or_default());
                            row("Machine", input.master_type.clone().unwrap_or_default());
                            row(
                                "Workers",
                                input
                                    .worker_count
                                    .map(|w| w.to_string())
                                    .unwrap_or_default(),
                            );
                            row(
                                "Accelerator",
                                config
                                    .accelerator_config
                                    .map(|a| format!("{} × {}", a.count, a.kind))
                                    .unwrap_or_default(),
                            );
                        });
                }
                self.trials_section(ui, key, job, actions);
                if !job.labels.is_empty() {
                    ui.add_space(6.0);
                    ui.strong("Labels");
                    ui.horizontal_wrapped(|ui| {
                        for (k, v) in &job.labels {
                            ui.label(
                                RichText::new(format!("{k}={v}"))
                                    .background_color(ui.visuals().faint_bg_color),
                            );
                        }
                    });
                }
            });
    }

    pub(super) fn confirm_cancel_dialog(
        &mut self,
        ui: &mut Ui,
        key: &JobKey,
        actions: &mut Vec<JobsAction>,
    ) {
        let id = &key.job_id;
        let modal = egui::Modal::new(egui::Id::unique("confirm_cancel")).show(ui.ctx(), |ui| {
            ui.heading("Cancel this job?");
            ui.label(format!(
                "{id} will be stopped: SIGTERM, then SIGKILL after the grace period."
            ));
            ui.add_space(8.0);
            ui.horizontal(|ui| {
                if ui
                    .button(RichText::new("Yes, cancel the job").color(Color32::WHITE))
                    .on_hover_text("Enter")
                    .clicked()
                    || ui.input(|i| i.key_pressed(egui::Key::Enter))
                {
                    actions.push(JobsAction::Cancel(key.clone()));
                    self.confirm_cancel = None;
                }
                if ui.button("Keep it running").on_hover_text("Esc").clicked() {
                    self.confirm_cancel = None;
                }
            });
        });
        if modal.should_close() {
            self.confirm_cancel = None;
        }
    }
}
