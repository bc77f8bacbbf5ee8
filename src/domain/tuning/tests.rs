use super::*;

fn param(name: &str, kind: ParameterType) -> ParameterSpec {
    ParameterSpec {
        parameter_name: name.into(),
        kind,
        ..ParameterSpec::default()
    }
}

fn study(params: Vec<ParameterSpec>) -> HyperparameterSpec {
    HyperparameterSpec {
        goal: Goal::Maximize,
        max_trials: 6,
        params,
        ..HyperparameterSpec::default()
    }
}

#[test]
fn the_v1_shape_reads_numbers_as_numbers_or_text_and_writes_int64_as_text() {
    let spec: HyperparameterSpec = serde_json::from_value(serde_json::json!({
        "goal": "MAXIMIZE",
        "hyperparameterMetricTag": "accuracy",
        "maxTrials": "4",
        "maxParallelTrials": 2,
        "algorithm": "GRID_SEARCH",
        "params": [{"parameterName": "layers", "type": "INTEGER", "minValue": 1, "maxValue": 2,
                    "scaleType": "UNIT_LINEAR_SCALE"}]
    }))
    .unwrap();
    assert_eq!((spec.max_trials, spec.max_parallel_trials), (4, 2));
    assert_eq!(spec.params[0].kind, ParameterType::Integer);
    spec.validate().unwrap();
    let output = TrainingOutput {
        completed_trial_count: 3,
        trials: vec![HyperparameterOutput {
            trial_id: "1".into(),
            final_metric: Some(HyperparameterMetric {
                training_step: 100,
                objective_value: 0.5,
            }),
            ..HyperparameterOutput::default()
        }],
        ..TrainingOutput::default()
    };
    let json = serde_json::to_value(&output).unwrap();
    assert_eq!(json["completedTrialCount"], "3");
    assert_eq!(json["trials"][0]["finalMetric"]["trainingStep"], "100");
    let back: TrainingOutput = serde_json::from_value(json).unwrap();
    assert_eq!(back, output);
}

#[test]
fn a_study_is_refused_with_the_field_that_is_wrong() {
    let cases = [
        (
            HyperparameterSpec {
                goal: Goal::GoalTypeUnspecified,
                ..study(vec![param("a", ParameterType::Categorical)])
            },
            "goal",
        ),
        (study(vec![]), "at least one parameter"),
        (
            study(vec![param("lr", ParameterType::Double)]),
            "minValue and maxValue",
        ),
        (
            study(vec![ParameterSpec {
                min_value: Some(0.0),
                max_value: Some(1.0),
                scale_type: ScaleType::UnitLogScale,
                ..param("lr", ParameterType::Double)
            }]),
            "above 0",
        ),
        (
            study(vec![param("c", ParameterType::Categorical)]),
            "categoricalValues",
        ),
        (
            study(vec![ParameterSpec {
                discrete_values: vec![2.0, 1.0],
                ..param("d", ParameterType::Discrete)
            }]),
            "must increase",
        ),
        (
            study(vec![param("bad name", ParameterType::Integer)]),
            "parameterName",
        ),
        (
            study(vec![ParameterSpec {
                categorical_values: vec!["a\0b".into()],
                ..param("c", ParameterType::Categorical)
            }]),
            "NUL",
        ),
        (
            HyperparameterSpec {
                algorithm: Algorithm::GridSearch,
                ..study(vec![ParameterSpec {
                    min_value: Some(0.1),
                    max_value: Some(1.0),
                    ..param("lr", ParameterType::Double)
                }])
            },
            "GRID_SEARCH",
        ),
    ];
    for (spec, expected) in cases {
        let error = spec.validate().unwrap_err();
        assert!(
            error.contains(expected),
            "{error:?} should say {expected:?}"
        );
    }
}

#[test]
fn a_grid_counts_its_points_and_caps_the_trials() {
    let spec = HyperparameterSpec {
        algorithm: Algorithm::GridSearch,
        max_trials: 100,
        ..study(vec![
            ParameterSpec {
                min_value: Some(1.0),
                max_value: Some(2.0),
                ..param("layers", ParameterType::Integer)
            },
            ParameterSpec {
                categorical_values: vec!["a".into(), "b".into(), "c".into()],
                ..param("act", ParameterType::Categorical)
            },
        ])
    };
    spec.validate().unwrap();
    assert_eq!(grid_size(&spec.params), 6);
    assert_eq!(spec.trial_budget(), 6);
    assert_eq!(spec.params[0].grid_value(1), "2");
    assert_eq!(spec.params[1].grid_value(2), "c");
}

#[test]
fn trials_list_best_first_for_the_goal_then_the_rest_by_number() {
    let trial = |id: &str, value: Option<f64>, state: JobState| HyperparameterOutput {
        trial_id: id.into(),
        final_metric: value.map(|v| HyperparameterMetric {
            training_step: 1,
            objective_value: v,
        }),
        state,
        ..HyperparameterOutput::default()
    };
    let mut output = TrainingOutput {
        trials: vec![
            trial("3", None, JobState::Running),
            trial("1", Some(0.2), JobState::Succeeded),
            trial("10", None, JobState::Failed),
            trial("2", Some(0.9), JobState::Succeeded),
        ],
        ..TrainingOutput::default()
    };
    output.sort_trials(Goal::Maximize);
    let ids: Vec<&str> = output.trials.iter().map(|t| t.trial_id.as_str()).collect();
    assert_eq!(ids, ["2", "1", "3", "10"]);
    assert_eq!(output.completed_trial_count, 2);
    output.sort_trials(Goal::Minimize);
    assert_eq!(output.trials[0].trial_id, "1");
}

#[test]
fn hostile_ranges_are_refused_or_bounded_never_overflowing() {
    let huge = ParameterSpec {
        min_value: Some(-1e300),
        max_value: Some(1e300),
        ..param("n", ParameterType::Integer)
    };
    let spec = HyperparameterSpec {
        algorithm: Algorithm::GridSearch,
        ..study(vec![huge.clone()])
    };
    let error = spec.validate().unwrap_err();
    assert!(error.contains("whole numbers within"), "{error}");
    // Even unchecked, counting and walking the grid saturates instead of overflowing.
    assert_eq!(huge.grid_len(), usize::MAX);
    assert_eq!(grid_size(&[huge.clone(), huge.clone()]), usize::MAX);
    let near_top = ParameterSpec {
        min_value: Some(9.0e18),
        max_value: Some(9.1e18),
        ..param("m", ParameterType::Integer)
    };
    assert!(!near_top.grid_value(usize::MAX).is_empty());
    // A double range whose width overflows to infinity is refused too.
    let wide = ParameterSpec {
        min_value: Some(-f64::MAX),
        max_value: Some(f64::MAX),
        ..param("x", ParameterType::Double)
    };
    assert!(study(vec![wide]).validate().is_err());
}
