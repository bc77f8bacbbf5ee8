use super::*;

fn metric(step: i64) -> HyperparameterMetric {
    HyperparameterMetric {
        training_step: step,
        objective_value: step as f64,
    }
}

#[test]
fn reports_are_thinned_evenly_keeping_the_first_and_the_last() {
    let points: Vec<HyperparameterMetric> = (1..=1000).map(metric).collect();
    let thinned = thin(points, 100);
    assert_eq!(thinned.len(), 100);
    assert_eq!(thinned.first().map(|m| m.training_step), Some(1));
    assert_eq!(thinned.last().map(|m| m.training_step), Some(1000));
    assert!(
        thinned
            .windows(2)
            .all(|w| w[1].training_step - w[0].training_step <= 11)
    );
    let few: Vec<HyperparameterMetric> = (1..=5).map(metric).collect();
    assert_eq!(thin(few.clone(), 100), few);
}

#[test]
fn a_trial_behind_the_median_of_completed_trials_at_its_step_stops() {
    let trial = |id: &str, state: JobState, values: &[(i64, f64)]| HyperparameterOutput {
        trial_id: id.into(),
        state,
        all_metrics: values
            .iter()
            .map(|&(training_step, objective_value)| HyperparameterMetric {
                training_step,
                objective_value,
            })
            .collect(),
        ..HyperparameterOutput::default()
    };
    let mut trials = vec![
        trial("1", JobState::Succeeded, &[(10, 0.5), (20, 0.8)]),
        trial("2", JobState::Succeeded, &[(10, 0.3), (20, 0.6)]),
        trial("3", JobState::Running, &[(15, 0.35)]),
        trial("4", JobState::Running, &[(15, 0.45)]),
    ];
    let mut pass = Pass::default();
    stop_early("s", Goal::Maximize, &mut trials, &mut pass);
    // At step 15 the completed trials had 0.5 and 0.3 (median 0.4): trial 3 stops.
    assert!(trials[2].is_trial_stopped_early);
    assert!(!trials[3].is_trial_stopped_early);
    assert_eq!(pass.cancel, ["s_trial_3"]);
}
