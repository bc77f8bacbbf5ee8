//! The Add / Edit connection form: what was typed, and the connection and secret it
//! builds.

use super::*;
use crate::ui::job_form::labeled_edit;

/// Which kind the form is filling in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum FormKind {
    Local,
    Ray,
    Vertex,
}

/// The Add / Edit connection form, as typed.
pub(super) struct ConnectionForm {
    /// The id of the connection being edited; `None` adds one.
    pub(super) editing: Option<ConnectionId>,
    pub(super) builtin: bool,
    pub(super) kind: FormKind,
    pub(super) name: String,
    pub(super) color: [u8; 3],
    pub(super) read_only: bool,
    pub(super) enabled: bool,
    pub(super) data_dir: String,
    pub(super) dashboard_url: String,
    pub(super) serve_url: String,
    pub(super) token: String,
    pub(super) forget_token: bool,
    pub(super) project: String,
    pub(super) region: String,
    pub(super) credentials: VertexCredentials,
    pub(super) key_file: String,
    pub(super) api_endpoint: String,
    pub(super) error: Option<(&'static str, String)>,
    pub(super) saving: bool,
    /// A plain-http address to another machine the user was warned about; saving again
    /// with the same one confirms it.
    pub(super) cleartext_warned: Option<String>,
}

impl ConnectionForm {
    pub(super) fn new(list: &[ConnectionConfig]) -> ConnectionForm {
        ConnectionForm {
            editing: None,
            builtin: false,
            kind: FormKind::Ray,
            name: String::new(),
            color: PALETTE[list.len() % PALETTE.len()],
            read_only: false,
            enabled: true,
            data_dir: String::new(),
            dashboard_url: "http://127.0.0.1:8265".into(),
            serve_url: String::new(),
            token: String::new(),
            forget_token: false,
            project: String::new(),
            region: "us-central1".into(),
            credentials: VertexCredentials::ApplicationDefault,
            key_file: String::new(),
            api_endpoint: String::new(),
            error: None,
            saving: false,
            cleartext_warned: None,
        }
    }

    pub(super) fn edit(config: &ConnectionConfig) -> ConnectionForm {
        let mut form = ConnectionForm::new(&[]);
        form.editing = Some(config.id.clone());
        form.builtin = config.is_builtin();
        form.name = config.name.clone();
        form.color = config.color;
        form.read_only = config.read_only;
        form.enabled = config.enabled;
        match &config.kind {
            ConnectionKind::Local { data_dir } => {
                form.kind = FormKind::Local;
                form.data_dir = data_dir
                    .as_ref()
                    .map(|d| d.display().to_string())
                    .unwrap_or_default();
            }
            ConnectionKind::Ray {
                dashboard_url,
                serve_url,
            } => {
                form.kind = FormKind::Ray;
                form.dashboard_url = dashboard_url.clone();
                form.serve_url = serve_url.clone().unwrap_or_default();
            }
            ConnectionKind::Vertex {
                project,
                region,
                credentials,
                api_endpoint,
            } => {
                form.kind = FormKind::Vertex;
                form.project = project.clone();
                form.region = region.clone();
                form.credentials = *credentials;
                form.api_endpoint = api_endpoint.clone().unwrap_or_default();
            }
        }
        form
    }

    /// The settings and secret edit the form describes.
    pub(super) fn build(&self, list: &[ConnectionConfig]) -> (ConnectionConfig, SecretEdit) {
        let text = |s: &str| {
            let s = s.trim();
            (!s.is_empty()).then(|| s.to_owned())
        };
        let kind = match self.kind {
            FormKind::Local => ConnectionKind::Local {
                data_dir: text(&self.data_dir).map(PathBuf::from),
            },
            FormKind::Ray => ConnectionKind::Ray {
                dashboard_url: self.dashboard_url.trim().trim_end_matches('/').to_owned(),
                serve_url: text(&self.serve_url).map(|u| u.trim_end_matches('/').to_owned()),
            },
            FormKind::Vertex => ConnectionKind::Vertex {
                project: self.project.trim().to_owned(),
                region: self.region.trim().to_owned(),
                credentials: self.credentials,
                api_endpoint: text(&self.api_endpoint).map(|u| u.trim_end_matches('/').to_owned()),
            },
        };
        let secret = match self.kind {
            FormKind::Ray if self.forget_token => SecretEdit::Forget,
            FormKind::Ray => text(&self.token).map_or(SecretEdit::Keep, SecretEdit::Set),
            FormKind::Vertex if self.credentials == VertexCredentials::ServiceAccountKey => {
                text(&self.key_file).map_or(SecretEdit::Keep, |p| SecretEdit::FromFile(p.into()))
            }
            _ => SecretEdit::Keep,
        };
        let name = self.name.trim().to_owned();
        let id = self.editing.clone().unwrap_or_else(|| new_id(&name, list));
        let config = ConnectionConfig {
            id,
            name,
            color: self.color,
            read_only: self.read_only,
            enabled: self.enabled,
            kind,
        };
        (config, secret)
    }

    /// Draws the form; true when it should close.
    #[expect(clippy::too_many_lines, reason = "one form's layout, field by field")]
    pub(super) fn ui(
        &mut self,
        ui: &mut Ui,
        list: &[ConnectionConfig],
        actions: &mut Vec<ConnectionsAction>,
    ) -> bool {
        let dark = ui.visuals().dark_mode;
        let error = self.error.clone();
        let error_row = |ui: &mut Ui, field: &str| {
            if let Some((f, message)) = &error
                && *f == field
            {
                ui.label("");
                ui.colored_label(theme::error_color(dark), format!("⚠ {message}"));
                ui.end_row();
            }
        };
        egui::Grid::new("connection_form")
            .num_columns(2)
            .spacing([8.0, 6.0])
            .show(ui, |ui| {
                ui.label("Kind");
                ui.horizontal(|ui| {
                    if self.builtin {
                        ui.label("Local engine (built in)");
                    } else {
                        ui.radio_value(&mut self.kind, FormKind::Local, "Local engine");
                        ui.radio_value(&mut self.kind, FormKind::Ray, "Ray cluster");
                        ui.radio_value(&mut self.kind, FormKind::Vertex, "Vertex AI");
                    }
                });
                ui.end_row();
                error_row(ui, "kind");
                ui.label("Name");
                labeled_edit(ui, &mut self.name, "Connection name", "e.g. ray-lab");
                ui.end_row();
                error_row(ui, "name");
                ui.label("Colour");
                ui.horizontal(|ui| {
                    ui.color_edit_button_srgb(&mut self.color);
                    for color in PALETTE {
                        let [r, g, b] = color;
                        let swatch = egui::Button::new("  ").fill(Color32::from_rgb(r, g, b));
                        if ui.add(swatch).clicked() {
                            self.color = color;
                        }
                    }
                });
                ui.end_row();
                ui.label("");
                ui.checkbox(
                    &mut self.read_only,
                    "Read-only (refuse submit, cancel, deploy, set default, delete)",
                );
                ui.end_row();
                match self.kind {
                    FormKind::Local => {
                        ui.label("Data dir");
                        labeled_edit(
                            ui,
                            &mut self.data_dir,
                            "Data dir",
                            "(empty: the default data dir)",
                        );
                        ui.end_row();
                        error_row(ui, "data_dir");
                    }
                    FormKind::Ray => {
                        ui.label("Dashboard URL");
                        labeled_edit(
                            ui,
                            &mut self.dashboard_url,
                            "Dashboard URL",
                            "http://127.0.0.1:8265",
                        );
                        ui.end_row();
                        error_row(ui, "dashboard_url");
                        ui.label("Serve URL");
                        labeled_edit(
                            ui,
                            &mut self.serve_url,
                            "Serve URL",
                            "(optional) http://127.0.0.1:8000",
                        );
                        ui.end_row();
                        error_row(ui, "serve_url");
                        ui.label("Token");
                        ui.horizontal(|ui| {
                            let edit = egui::TextEdit::singleline(&mut self.token)
                                .password(true)
                                .hint_text(if self.editing.is_some() {
                                    "(leave empty to keep the stored one)"
                                } else {
                                    "(optional) RAY_AUTH_TOKEN"
                                })
                                .desired_width(300.0);
                            ui.add(edit).widget_info(|| {
                                egui::WidgetInfo::labeled(egui::Role::PasswordInput, true, "Token")
                            });
                            if self.editing.is_some() {
                                ui.checkbox(&mut self.forget_token, "forget it");
                            }
                        });
                        ui.end_row();
                        error_row(ui, "secret");
                    }
                    FormKind::Vertex => {
                        ui.label("Project");
                        labeled_edit(ui, &mut self.project, "Project", "my-project-123");
                        ui.end_row();
                        error_row(ui, "project");
                        ui.label("Region");
                        labeled_edit(ui, &mut self.region, "Region", "us-central1");
                        ui.end_row();
                        error_row(ui, "region");
                        ui.label("Credentials");
                        ui.vertical(|ui| {
                            for source in VertexCredentials::ALL {
                                ui.radio_value(&mut self.credentials, source, source.label());
                            }
                        });
                        ui.end_row();
                        if self.credentials == VertexCredentials::ServiceAccountKey {
                            ui.label("Key file");
                            ui.horizontal(|ui| {
                                labeled_edit(
                                    ui,
                                    &mut self.key_file,
                                    "Key file",
                                    if self.editing.is_some() {
                                        "(empty: keep the stored key)"
                                    } else {
                                        "/path/to/key.json (copied into the keyring)"
                                    },
                                );
                                if ui.button("📂").on_hover_text("Pick the key file").clicked() {
                                    actions.push(ConnectionsAction::PickKeyFile);
                                }
                            });
                            ui.end_row();
                            error_row(ui, "key_file");
                            error_row(ui, "secret");
                        }
                        ui.label("API endpoint");
                        labeled_edit(
                            ui,
                            &mut self.api_endpoint,
                            "API endpoint",
                            "(optional) instead of Google's, e.g. a Private Service Connect address",
                        );
                        ui.end_row();
                        error_row(ui, "api_endpoint");
                    }
                }
            });
        if let Some(("file", message)) = &self.error {
            ui.colored_label(theme::error_color(dark), format!("⚠ {message}"));
        }
        if let Some(url) = &self.cleartext_warned {
            ui.colored_label(
                theme::error_color(dark),
                format!(
                    "⚠ {url} is plain http:// to another machine: the token and every request \
                     cross the network unencrypted. Use https:// or an SSH tunnel to 127.0.0.1, \
                     or press Save anyway."
                ),
            );
        }
        ui.add_space(6.0);
        let mut close = false;
        ui.horizontal(|ui| {
            let label = if self.cleartext_warned.is_some() {
                "Save anyway"
            } else {
                "Save connection"
            };
            let save = ui.add_enabled(!self.saving, egui::Button::new(label));
            if save.clicked() {
                let (config, secret) = self.build(list);
                let cleartext = config.kind.cleartext_remote().map(str::to_owned);
                match config.validate(list) {
                    Err(e) => self.error = Some((e.field, e.message)),
                    Ok(()) if cleartext.is_some() && cleartext != self.cleartext_warned => {
                        self.cleartext_warned = cleartext;
                    }
                    Ok(()) => {
                        self.error = None;
                        self.saving = true;
                        actions.push(ConnectionsAction::Save(Box::new(config), secret));
                    }
                }
            }
            if self.saving {
                ui.spinner();
            }
            if ui.button("Cancel").clicked() {
                close = true;
            }
        });
        close
    }
}
