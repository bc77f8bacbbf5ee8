use super::*;

fn param(name: &str, kind: ParameterType) -> ParameterSpec {
    ParameterSpec {
        parameter_name: name.into(),
        kind,
        ..ParameterSpec::default()
    }
}

fn spec(algorithm: Algorithm, params: Vec<ParameterSpec>) -> HyperparameterSpec {
    HyperparameterSpec {
        goal: Goal::Maximize,
        algorithm,
        max_trials: 30,
        params,
        ..HyperparameterSpec::default()
    }
}

#[test]
fn a_grid_visits_every_point_once_first_parameter_slowest() {
    let spec = spec(
        Algorithm::GridSearch,
        vec![
            ParameterSpec {
                min_value: Some(1.0),
                max_value: Some(2.0),
                ..param("layers", ParameterType::Integer)
            },
            ParameterSpec {
                discrete_values: vec![0.5, 1.0, 10.0],
                ..param("scale", ParameterType::Discrete)
            },
        ],
    );
    let points: Vec<String> = (0..6)
        .map(|i| {
            let p = propose(&spec, i, 7, &[]);
            format!("{}/{}", p["layers"], p["scale"])
        })
        .collect();
    assert_eq!(points, ["1/0.5", "1/1", "1/10", "2/0.5", "2/1", "2/10"]);
}

#[test]
fn random_values_stay_in_range_on_their_scale_and_repeat_for_the_same_seed() {
    let spec = spec(
        Algorithm::RandomSearch,
        vec![
            ParameterSpec {
                min_value: Some(1e-4),
                max_value: Some(1e-1),
                scale_type: ScaleType::UnitLogScale,
                ..param("lr", ParameterType::Double)
            },
            ParameterSpec {
                min_value: Some(1.0),
                max_value: Some(3.0),
                ..param("depth", ParameterType::Integer)
            },
        ],
    );
    let mut below_a_thousandth = 0;
    let mut depths = std::collections::BTreeSet::new();
    for i in 0..400 {
        let p = propose(&spec, i, 11, &[]);
        let lr: f64 = p["lr"].parse().unwrap();
        assert!((1e-4..=1e-1).contains(&lr), "{lr}");
        if lr < 1e-3 {
            below_a_thousandth += 1;
        }
        depths.insert(p["depth"].clone());
    }
    // A log scale gives each of the three decades about a third.
    assert!(
        (90..=180).contains(&below_a_thousandth),
        "{below_a_thousandth}"
    );
    assert_eq!(depths.into_iter().collect::<Vec<_>>(), ["1", "2", "3"]);
    assert_eq!(propose(&spec, 5, 11, &[]), propose(&spec, 5, 11, &[]));
}

#[test]
fn the_model_based_search_closes_in_on_the_best_region() {
    let spec = spec(
        Algorithm::AlgorithmUnspecified,
        vec![
            ParameterSpec {
                min_value: Some(0.0),
                max_value: Some(1.0),
                ..param("x", ParameterType::Double)
            },
            ParameterSpec {
                categorical_values: vec!["relu".into(), "tanh".into(), "sigmoid".into()],
                ..param("act", ParameterType::Categorical)
            },
        ],
    );
    let objective = |v: &BTreeMap<String, String>| {
        let x: f64 = v["x"].parse().unwrap();
        -(x - 0.7).powi(2) + if v["act"] == "tanh" { 0.5 } else { 0.0 }
    };
    let mut trials: Vec<(BTreeMap<String, String>, f64)> = Vec::new();
    for i in 0..40 {
        let finished: Vec<Finished<'_>> = trials
            .iter()
            .map(|(values, objective)| Finished {
                values,
                objective: *objective,
            })
            .collect();
        let values = propose(&spec, i, 3, &finished);
        let value = objective(&values);
        trials.push((values, value));
    }
    let late_tanh = trials[20..]
        .iter()
        .filter(|(v, _)| v["act"] == "tanh")
        .count();
    assert!(
        late_tanh >= 12,
        "the better choice dominates late trials: {late_tanh}/20"
    );
    let best = trials.iter().map(|(_, v)| *v).fold(f64::MIN, f64::max);
    assert!(best > 0.49, "{best}");
}
