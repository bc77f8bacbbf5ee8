//! Short messages in the corner that go away by themselves.

use std::time::{Duration, Instant};

use egui::RichText;

use super::theme;

/// How long a toast stays.
const TOAST_FOR: Duration = Duration::from_secs(6);
/// Most toasts shown at once (the oldest go first).
const MOST: usize = 5;

/// A short message in the corner that goes away by itself.
struct Toast {
    text: String,
    error: bool,
    shown: Instant,
}

/// The toasts now shown.
#[derive(Default)]
pub struct Toasts {
    toasts: Vec<Toast>,
}

impl Toasts {
    /// Shows `text` (as a failure when `error`).
    pub fn push(&mut self, text: String, error: bool) {
        self.toasts.push(Toast {
            text,
            error,
            shown: Instant::now(),
        });
        if self.toasts.len() > MOST {
            self.toasts.remove(0);
        }
    }

    /// Draws the toasts still current in the corner.
    pub fn show(&mut self, ctx: &egui::Context) {
        self.toasts.retain(|t| t.shown.elapsed() < TOAST_FOR);
        let Some(oldest) = self.toasts.first() else {
            return;
        };
        ctx.request_repaint_after(TOAST_FOR.saturating_sub(oldest.shown.elapsed()));
        let dark = ctx.global_style().visuals.dark_mode;
        egui::Area::new(egui::Id::unique("toasts"))
            .anchor(egui::Align2::RIGHT_BOTTOM, [-12.0, -36.0])
            .order(egui::Order::Foreground)
            .show(ctx, |ui| {
                for toast in &self.toasts {
                    egui::Frame::popup(ui.style()).show(ui, |ui| {
                        let color = if toast.error {
                            theme::error_color(dark)
                        } else {
                            ui.visuals().text_color()
                        };
                        ui.label(RichText::new(&toast.text).color(color));
                    });
                    ui.add_space(4.0);
                }
            });
    }
}
