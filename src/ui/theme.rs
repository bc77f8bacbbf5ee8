//! Colours and symbols for states and severities, readable in dark and light themes.

use egui::Color32;

use crate::domain::{JobState, Severity};

/// A colour that reads well on the current background.
fn pick(dark: bool, on_dark: Color32, on_light: Color32) -> Color32 {
    if dark { on_dark } else { on_light }
}

/// The colour of a job state.
pub fn state_color(state: JobState, dark: bool) -> Color32 {
    match state {
        JobState::Succeeded => pick(
            dark,
            Color32::from_rgb(110, 200, 120),
            Color32::from_rgb(20, 130, 40),
        ),
        JobState::Failed => pick(
            dark,
            Color32::from_rgb(240, 110, 100),
            Color32::from_rgb(190, 30, 30),
        ),
        JobState::Running | JobState::Preparing => pick(
            dark,
            Color32::from_rgb(100, 170, 255),
            Color32::from_rgb(20, 90, 200),
        ),
        JobState::Cancelling | JobState::Cancelled => pick(
            dark,
            Color32::from_rgb(220, 170, 80),
            Color32::from_rgb(160, 100, 0),
        ),
        JobState::Queued | JobState::StateUnspecified => {
            pick(dark, Color32::GRAY, Color32::DARK_GRAY)
        }
    }
}

/// A symbol for a job state.
pub fn state_icon(state: JobState) -> &'static str {
    match state {
        JobState::Succeeded => "✔",
        JobState::Failed => "✖",
        JobState::Running => "▶",
        JobState::Preparing => "⏳",
        JobState::Queued | JobState::StateUnspecified => "⏸",
        JobState::Cancelling => "⏹",
        JobState::Cancelled => "🚫",
    }
}

/// The colour of a log severity.
pub fn severity_color(severity: Severity, dark: bool) -> Color32 {
    match severity {
        Severity::Debug | Severity::Default => state_color(JobState::Queued, dark),
        Severity::Info => pick(dark, Color32::from_gray(210), Color32::from_gray(30)),
        Severity::Warning => pick(
            dark,
            Color32::from_rgb(230, 190, 80),
            Color32::from_rgb(150, 100, 0),
        ),
        Severity::Error => error_color(dark),
        Severity::Critical => pick(
            dark,
            Color32::from_rgb(255, 80, 200),
            Color32::from_rgb(170, 0, 120),
        ),
    }
}

/// The colour of an error message.
pub fn error_color(dark: bool) -> Color32 {
    state_color(JobState::Failed, dark)
}

/// The background of log lines a link marked.
pub fn mark_color(dark: bool) -> Color32 {
    if dark {
        Color32::from_rgb(90, 75, 20)
    } else {
        Color32::from_rgb(255, 236, 160)
    }
}

/// Distinct colours for overlaid series.
pub fn series_color(index: usize) -> Color32 {
    const PALETTE: [Color32; 8] = [
        Color32::from_rgb(66, 133, 244),
        Color32::from_rgb(234, 67, 53),
        Color32::from_rgb(52, 168, 83),
        Color32::from_rgb(251, 188, 5),
        Color32::from_rgb(171, 71, 188),
        Color32::from_rgb(0, 172, 193),
        Color32::from_rgb(255, 112, 67),
        Color32::from_rgb(158, 157, 36),
    ];
    PALETTE[index % PALETTE.len()]
}

/// A connection's colour (red, green, blue) for egui.
pub fn rgb([r, g, b]: [u8; 3]) -> egui::Color32 {
    egui::Color32::from_rgb(r, g, b)
}
