//! The Predict tab's top bar: which model and version, the request's snippet, and batch
//! prediction over a dropped file or Cloud Storage.

use super::*;

impl PredictTab {
    #[expect(clippy::too_many_lines, reason = "one bar of pickers and buttons")]
    pub(super) fn target_bar(
        &mut self,
        ui: &mut Ui,
        models: &[ModelView],
        connections: &Connections,
        (connection, model): &ModelKey,
        chosen: Option<&Version>,
        actions: &mut Vec<PredictAction>,
    ) {
        let several = connections.list().len() > 1;
        let title = |c: &ConnectionId, m: &str| {
            if several {
                format!("{m} ({})", connections.name(c))
            } else {
                m.to_owned()
            }
        };
        ui.horizontal_wrapped(|ui| {
            ui.label("Model");
            egui::ComboBox::from_id_salt("predict_model")
                .selected_text(title(connection, model))
                .show_ui(ui, |ui| {
                    for m in models {
                        let name = m.model.short_name();
                        let on = name == model && &m.connection == connection;
                        if ui
                            .selectable_label(on, title(&m.connection, name))
                            .clicked()
                        {
                            self.model = Some((m.connection.clone(), name.to_owned()));
                            self.version = None;
                            self.shadow = None;
                            self.shadow_answer = None;
                        }
                    }
                });
            ui.label("Version");
            let view = self.view(models);
            let default_name = view
                .and_then(|m| m.model.default_version.as_ref())
                .map_or("none".to_owned(), |v| v.short_name().to_owned());
            let shown = match &self.version {
                Some(v) => v.clone(),
                None => format!("default ({default_name})"),
            };
            egui::ComboBox::from_id_salt("predict_version")
                .selected_text(shown)
                .show_ui(ui, |ui| {
                    if ui
                        .selectable_label(
                            self.version.is_none(),
                            format!("default ({default_name})"),
                        )
                        .clicked()
                    {
                        self.version = None;
                    }
                    for v in view.map(|m| m.versions.as_slice()).unwrap_or_default() {
                        let name = v.short_name();
                        let label = format!("{name} ({})", v.state.as_str());
                        if ui
                            .selectable_label(self.version.as_deref() == Some(name), label)
                            .clicked()
                        {
                            self.version = Some(name.to_owned());
                        }
                    }
                });
            let others: Vec<String> = view
                .map(|m| m.versions.as_slice())
                .unwrap_or_default()
                .iter()
                .map(|v| v.short_name().to_owned())
                .filter(|n| Some(n.as_str()) != chosen.map(Version::short_name))
                .collect();
            egui::ComboBox::from_id_salt("predict_shadow")
                .selected_text(match &self.shadow {
                    Some(v) => format!("compare with {v}"),
                    None => "compare with…".to_owned(),
                })
                .show_ui(ui, |ui| {
                    if ui.selectable_label(self.shadow.is_none(), "no other version").clicked() {
                        self.shadow = None;
                    }
                    for name in &others {
                        if ui
                            .selectable_label(self.shadow.as_ref() == Some(name), format!("compare with {name}"))
                            .clicked()
                        {
                            self.shadow = Some(name.clone());
                            self.shadow_answer = None;
                        }
                    }
                })
                .response
                .on_hover_text("Shadow compare: send each request to another version too, and see what differs");
            let inputs = chosen.map(|v| v.inputs.as_slice()).unwrap_or_default();
            if ui
                .add_enabled(!inputs.is_empty(), egui::Button::new("Template"))
                .on_hover_text("A request made from the model's inputs")
                .clicked()
            {
                self.set_body(template(inputs));
            }
            let ready = chosen.is_some_and(|v| v.state == VersionState::Ready);
            let valid = matches!(self.validated, Some((_, _, Ok(_))));
            let send = ui
                .add_enabled(
                    ready && valid && self.in_flight.is_none(),
                    egui::Button::new("Send"),
                )
                .on_hover_text("Ctrl+Enter");
            let shortcut = ui.input(|i| i.modifiers.command && i.key_pressed(egui::Key::Enter));
            if (send.clicked() || (shortcut && ready && valid)) && self.in_flight.is_none() {
                let target = match &self.version {
                    Some(v) => format!("{model}/{v}"),
                    None => format!("{model} (default)"),
                };
                self.in_flight = Some(Sent {
                    time: Utc::now(),
                    target,
                    body: self.body.clone(),
                    outcome: String::new(),
                    ok: false,
                });
                match (&self.shadow, chosen) {
                    (Some(other), Some(first)) => actions.push(PredictAction::Shadow {
                        connection: connection.clone(),
                        model: model.to_owned(),
                        versions: [first.short_name().to_owned(), other.clone()],
                        body: self.body.clone(),
                    }),
                    _ => actions.push(PredictAction::Send {
                        connection: connection.clone(),
                        model: model.to_owned(),
                        version: self.version.clone(),
                        body: self.body.clone(),
                    }),
                }
            }
            if self.in_flight.is_some() {
                ui.spinner();
            }
            for (kind, label) in [
                (SnippetKind::Curl, "Copy as curl"),
                (SnippetKind::Python, "Copy as Python"),
            ] {
                if ui
                    .button(label)
                    .on_hover_text("Reads the credentials when it runs; the secret is not copied")
                    .clicked()
                {
                    actions.push(PredictAction::Copy {
                        kind,
                        connection: connection.clone(),
                        model: model.to_owned(),
                        version: self.version.clone(),
                        body: self.body.clone(),
                    });
                }
            }
            let batch = connections.capabilities(connection).batch_prediction;
            if let Some(file) = &self.jsonl {
                let name = file.file_name().map(|n| n.to_string_lossy().into_owned());
                let allowed = batch.yes() && !connections.read_only(connection);
                let why = batch.why_not().unwrap_or("the connection is read-only");
                if ui
                    .add_enabled(allowed, egui::Button::new("Run as batch job"))
                    .on_hover_text(format!(
                        "Predict every line of {} in a batch prediction job",
                        name.unwrap_or_default()
                    ))
                    .on_disabled_hover_text(why)
                    .clicked()
                {
                    actions.push(PredictAction::BatchJob {
                        connection: connection.clone(),
                        model: model.to_owned(),
                        version: self.version.clone(),
                        file: file.clone(),
                    });
                }
            }
        });
        let capabilities = connections.capabilities(connection);
        // The local engine also reads and writes buckets (`gs://`, `s3://`) in batch jobs.
        let local = connection.as_str() == ConnectionId::LOCAL;
        if capabilities.batch_prediction.yes() && (local || !capabilities.model_files.yes()) {
            let writable = !connections.read_only(connection);
            self.cloud_batch_row(ui, (connection, model), writable, actions);
        }
        if let Some(v) = chosen {
            ui.label(
                RichText::new(format!(
                    "Inputs: {}   Outputs: {}",
                    specs_text(&v.inputs),
                    specs_text(&v.outputs)
                ))
                .weak(),
            );
        }
    }
}
