//! The console's keys: Ctrl+P opens the command palette, Ctrl+F finds, Ctrl+N opens the New job form, Ctrl+K the
//! connections, Esc closes the innermost thing open, j/k and arrows move through jobs,
//! → and ← unfold and fold a study's trials, Enter opens a job's details, End follows
//! the log.

use egui::Key;

use super::App;
use super::nav::Tab;

impl App {
    pub(super) fn keyboard(&mut self, ctx: &egui::Context) {
        let typing = ctx.text_edit_focused();
        let (right, left) = ctx.input(|i| {
            let plain = |k: Key| i.key_pressed(k) && !i.modifiers.command;
            (plain(Key::ArrowRight), plain(Key::ArrowLeft))
        });
        let palette = ctx.input(|i| i.modifiers.command && i.key_pressed(Key::P));
        if palette {
            if self.palette.open {
                self.palette.open = false;
            } else {
                self.palette.open();
            }
        }
        let (find, new_job, connections, escape, enter, end, down, up) = ctx.input(|i| {
            let plain = |k: Key| i.key_pressed(k) && !i.modifiers.command;
            (
                i.modifiers.command && i.key_pressed(Key::F),
                i.modifiers.command && i.key_pressed(Key::N),
                i.modifiers.command && i.key_pressed(Key::K) && !typing,
                i.key_pressed(Key::Escape),
                plain(Key::Enter),
                plain(Key::End),
                plain(Key::ArrowDown) || (!typing && plain(Key::J)),
                plain(Key::ArrowUp) || (!typing && plain(Key::K)),
            )
        });
        if find {
            match self.tab {
                Tab::Logs => self.logs.focus_search(),
                _ => {
                    self.tab = Tab::Jobs;
                    self.jobs_tab.focus_filter();
                }
            }
        }
        if new_job && self.form.is_none() {
            self.form = Some(self.new_form());
        }
        if connections {
            self.connections_panel.open = !self.connections_panel.open;
        }
        if escape {
            if self.palette.open {
                self.palette.open = false;
            } else if self.form.is_some() {
                self.form = None;
            } else if self.connections_panel.close_one() {
            } else if self.tab == Tab::Jobs {
                self.jobs_tab.close_one();
            }
        }
        if typing || self.form.is_some() || self.connections_panel.open || self.palette.open {
            return;
        }
        match self.tab {
            Tab::Jobs => {
                let step = match (down, up) {
                    (true, false) => 1,
                    (false, true) => -1,
                    _ => 0,
                };
                if step != 0 {
                    let next = self.jobs_tab.neighbour(
                        &self.state.jobs,
                        &self.state.connections,
                        self.state.selected.as_ref(),
                        step,
                    );
                    self.select(next);
                }
                if enter && self.state.selected.is_some() {
                    self.jobs_tab.details_open = true;
                }
                // A study's trials unfold under it with →, fold with ←.
                let study = self
                    .state
                    .selected_job()
                    .is_some_and(|j| j.study().is_some());
                if let Some(key) = self
                    .state
                    .selected
                    .as_ref()
                    .filter(|_| study && (right || left))
                {
                    self.jobs_tab.set_unfolded(key, right);
                }
            }
            Tab::Logs if end => self.logs.follow(),
            _ => {}
        }
    }
}
