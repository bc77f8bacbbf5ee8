//! The strip under a tab's charts that shows the selected job's log lines written around
//! the time under the pointer: what the job was doing at a spike or a step, without
//! leaving the charts.

use chrono::{DateTime, Utc};
use egui::{RichText, Ui};

use super::format;
use super::log_buffer::LogBuffer;
use super::nav::Nav;
use super::theme;

/// Lines the strip lists at most.
const MAX_LINES: usize = 200;

/// A time pointed at on a chart and the span of log lines it stands for.
#[derive(Debug, Clone, Copy)]
pub struct Moment {
    /// The time under the pointer.
    pub time: DateTime<Utc>,
    /// The first time whose lines are shown.
    pub from: DateTime<Utc>,
    /// The last.
    pub to: DateTime<Utc>,
}

impl Moment {
    /// `time` and the lines written up to `half` either side of it.
    pub fn around(time: DateTime<Utc>, half: chrono::Duration) -> Moment {
        Moment {
            time,
            from: time - half,
            to: time + half,
        }
    }
}

/// Draws the lines of `log` written in the span of `at`, with **Open in Logs**; `hint`
/// says what to do while no time is pointed at.
pub fn show(ui: &mut Ui, log: &LogBuffer, at: Option<Moment>, hint: &str, navs: &mut Vec<Nav>) {
    let Some(Moment { time, from, to }) = at else {
        ui.label(RichText::new(hint).weak());
        return;
    };
    let range = log.lines_between(from, to);
    ui.horizontal(|ui| {
        ui.label(
            RichText::new(format!(
                "Log at {}: {} line{}",
                format::clock_millis(time),
                range.len(),
                if range.len() == 1 { "" } else { "s" }
            ))
            .strong(),
        );
        if !range.is_empty() && ui.small_button("Open in Logs").clicked() {
            navs.push(Nav::LogsAt(from, to));
        }
    });
    egui::ScrollArea::vertical()
        .id_salt("log_strip")
        .auto_shrink([false, false])
        .show(ui, |ui| {
            for line in range.take(MAX_LINES) {
                let meta = log.meta(line);
                ui.label(
                    RichText::new(format!(
                        "{} {}",
                        format::clock_millis(meta.time()),
                        log.text(line)
                    ))
                    .monospace()
                    .color(theme::severity_color(meta.severity, ui.visuals().dark_mode)),
                );
            }
        });
}
