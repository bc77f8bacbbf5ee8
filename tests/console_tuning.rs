//! A tuning job driven from the console: the New job form's Tuning part, the trials
//! folded under their study in the Jobs tab, the trials table, and "Clone best trial".

#![allow(clippy::too_many_lines)] // a story is one test; the shared fakes are long

mod common;

use std::time::Duration;

use common::TestEngine;
use common::console::{
    click, console_harness, has_label, has_label_containing, open_form, replace_in, step_until,
    text_in, type_into,
};
use egui_kittest::kittest::Queryable;
use mlconsole::domain::{ConnectionId, JobState};

/// Opens the (last) drop-down showing `value`.
fn open_combo(harness: &mut egui_kittest::Harness<'static, mlconsole::ui::App>, value: &str) {
    harness
        .query_all_by_value(value)
        .last()
        .unwrap_or_else(|| panic!("no drop-down showing {value:?}"))
        .click();
    for _ in 0..3 {
        harness.step();
    }
}

/// Clicks the button named `label` (a chart's axis may carry the same name).
fn click_button(harness: &mut egui_kittest::Harness<'static, mlconsole::ui::App>, label: &str) {
    harness
        .get_by_role_and_label(egui::accesskit::Role::Button, label)
        .click();
    for _ in 0..3 {
        harness.step();
    }
}

#[test]
fn fill_the_tuning_form_see_the_trials_fold_under_the_study_and_clone_the_best() {
    let engine = TestEngine::start(&["--max-running", "4"]);
    let mut harness = console_harness(&engine);
    let trainer = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tuning/hypertune_trainer.py");

    open_form(&mut harness);
    replace_in(&mut harness, "Job ID", "ui_study");
    let events = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tfevents/run_tf1/events.out.tfevents.1795548262.vm.17433.0.fixture");
    type_into(
        &mut harness,
        "Command",
        &format!("python3 {}", trainer.display()),
    );
    type_into(
        &mut harness,
        "Arguments",
        &format!("--events={}", events.display()),
    );
    click(
        &mut harness,
        "Tune hyperparameters (run trials of this job)",
    );
    type_into(&mut harness, "Metric tag", "accuracy");
    replace_in(&mut harness, "Trials", "4");
    replace_in(&mut harness, "At once", "2");
    open_combo(&mut harness, "Model-based (TPE)");
    click(&mut harness, "Grid search");
    type_into(&mut harness, "Parameter 1 name", "layers");
    open_combo(&mut harness, "Double");
    click(&mut harness, "Integer");
    type_into(&mut harness, "Parameter 1 min", "1");
    type_into(&mut harness, "Parameter 1 max", "2");
    click(&mut harness, "➕ Add parameter");
    type_into(&mut harness, "Parameter 2 name", "act");
    // The new row is DOUBLE too.
    open_combo(&mut harness, "Double");
    click(&mut harness, "Categorical");
    type_into(&mut harness, "Parameter 2 values", "relu, tanh");

    // A study the engine would refuse is caught in the form, next to the Tuning part.
    replace_in(&mut harness, "Parameter 1 max", "0");
    click(&mut harness, "Submit");
    assert!(
        has_label_containing(&harness, "needs minValue < maxValue"),
        "the study's own rule, before sending"
    );
    replace_in(&mut harness, "Parameter 1 max", "2");
    click(&mut harness, "Submit");

    let study = |h: &egui_kittest::Harness<'static, mlconsole::ui::App>| {
        h.state()
            .snapshots()
            .jobs
            .get(&ConnectionId::local(), "ui_study")
            .cloned()
    };
    step_until(
        &mut harness,
        "the study to succeed",
        Duration::from_secs(90),
        |h| {
            study(h).is_some_and(|j| j.state == JobState::Succeeded)
                && h.state()
                    .snapshots()
                    .jobs
                    .get(&ConnectionId::local(), "ui_study_trial_4")
                    .is_some()
        },
    );
    let job = study(&harness).unwrap();
    let output = job.training_output.unwrap();
    assert_eq!(output.trials.len(), 4);
    assert_eq!(output.trials[0].hyperparameters["layers"], "2");
    assert_eq!(output.trials[0].hyperparameters["act"], "tanh");

    // The study's row sums its trials up; they stay folded until it is unfolded.
    step_until(
        &mut harness,
        "the study's summary",
        Duration::from_secs(5),
        |h| has_label_containing(h, "ui_study · 4 trials: 4 succeeded · best 21 (trial 4)"),
    );
    assert!(
        !has_label_containing(&harness, "· trial"),
        "folded at first"
    );
    click(&mut harness, "▶");
    step_until(
        &mut harness,
        "the trials under it",
        Duration::from_secs(5),
        |h| {
            has_label_containing(h, "· trial 1  act=relu layers=1")
                && has_label_containing(h, "· trial 4  act=tanh layers=2")
        },
    );
    click(&mut harness, "⏷");
    assert!(!has_label_containing(&harness, "· trial"), "folded again");

    // Its details: the trials table, sortable by a parameter.
    click(
        &mut harness,
        "ui_study · 4 trials: 4 succeeded · best 21 (trial 4)",
    );
    step_until(
        &mut harness,
        "the trials table",
        Duration::from_secs(5),
        |h| has_label(h, "Trials") && has_label(h, "21 @ 3"),
    );
    click_button(&mut harness, "layers");
    assert!(has_label(&harness, "layers ⏷"), "sorted by layers");
    click_button(&mut harness, "accuracy");
    assert!(has_label(&harness, "accuracy ⏷"), "sorted by the objective");

    // Its scalars: every trial's runs, named by the trial and its values.
    click(&mut harness, "📉 Scalars");
    step_until(
        &mut harness,
        "the trials' runs",
        Duration::from_secs(20),
        |h| {
            has_label(h, "trial 1 (act=relu layers=1)/eval")
                && has_label(h, "trial 4 (act=tanh layers=2)/eval")
        },
    );
    click(&mut harness, "Jobs");

    // Clone the best trial as a plain job: its values are its arguments.
    click(&mut harness, "⎘ Clone best trial (4) as a job…");
    let args = text_in(&harness, "Arguments").unwrap_or_default();
    assert!(
        args.contains("--act=tanh") && args.contains("--layers=2"),
        "{args:?}"
    );
    assert!(
        !has_label_containing(&harness, "tuning_trial"),
        "the trial's label is not carried over"
    );
}
