//! The frameworks a version's artifact comes from, and how they are told apart from the
//! artifact's files, as Cloud ML Engine told them apart.

use std::fmt;

/// What made a model artifact, and so what serves it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Framework {
    /// `model.onnx` (or any `.onnx` file), served in the engine by ONNX Runtime or tract.
    Onnx,
    /// A SavedModel folder: `saved_model.pb` and `variables/`.
    TensorFlow,
    /// `model.joblib` or `model.pkl`: any scikit-learn estimator or pipeline.
    ScikitLearn,
    /// `model.bst`, `model.json`, `model.ubj` (or a pickled XGBoost model).
    XgBoost,
    /// A LightGBM booster's `model.txt`.
    LightGbm,
    /// A custom prediction routine: the user's `predictionClass` from `packageUris`.
    Custom,
}

/// XGBoost's own file names, as Cloud ML Engine looked for them.
pub const XGBOOST_FILES: [&str; 3] = ["model.bst", "model.json", "model.ubj"];
/// Pickled models' file names.
pub const PICKLED_FILES: [&str; 2] = ["model.joblib", "model.pkl"];

impl Framework {
    /// The name in the API's `framework` field.
    pub fn api_name(self) -> &'static str {
        match self {
            Framework::Onnx => "ONNX",
            Framework::TensorFlow => "TENSORFLOW",
            Framework::ScikitLearn => "SCIKIT_LEARN",
            Framework::XgBoost => "XGBOOST",
            Framework::LightGbm => "LIGHTGBM",
            Framework::Custom => "",
        }
    }

    /// Reads the API's `framework` field; `None` when unset (detect it from the files).
    pub fn parse(text: &str) -> Result<Option<Framework>, String> {
        Ok(Some(match text.trim().to_ascii_uppercase().as_str() {
            "" | "FRAMEWORK_UNSPECIFIED" => return Ok(None),
            "ONNX" => Framework::Onnx,
            "TENSORFLOW" => Framework::TensorFlow,
            "SCIKIT_LEARN" | "SKLEARN" => Framework::ScikitLearn,
            "XGBOOST" => Framework::XgBoost,
            "LIGHTGBM" => Framework::LightGbm,
            other => {
                return Err(format!(
                    "unknown framework {other:?}: give TENSORFLOW, SCIKIT_LEARN, XGBOOST, LIGHTGBM or ONNX, or leave it unset to detect it from the files"
                ));
            }
        }))
    }

    /// Whether the engine serves it in its own process (else in Python workers).
    pub fn in_engine(self) -> bool {
        self == Framework::Onnx
    }

    /// Which framework `files` (the names in the artifact's folder, or the one file
    /// `deploymentUri` names) hold, given the framework the request names if any. The
    /// error says what was found and what the framework wants.
    pub fn detect(files: &[String], given: Option<Framework>) -> Result<Framework, String> {
        let has = |name: &str| files.iter().any(|f| f == name);
        let onnx = files.iter().any(|f| f.ends_with(".onnx"));
        let saved_model = has("saved_model.pb") || has("saved_model.pbtxt");
        let xgboost = XGBOOST_FILES.iter().any(|f| has(f));
        let pickled = PICKLED_FILES.iter().any(|f| has(f));
        let found = match given {
            Some(Framework::Onnx) => onnx,
            Some(Framework::TensorFlow) => saved_model,
            Some(Framework::ScikitLearn) => pickled,
            Some(Framework::XgBoost) => xgboost || pickled,
            Some(Framework::LightGbm) => has("model.txt"),
            Some(Framework::Custom) => true,
            None => {
                let detected = if saved_model {
                    Some(Framework::TensorFlow)
                } else if onnx {
                    Some(Framework::Onnx)
                } else if xgboost {
                    Some(Framework::XgBoost)
                } else if pickled {
                    Some(Framework::ScikitLearn)
                } else if has("model.txt") {
                    Some(Framework::LightGbm)
                } else {
                    None
                };
                if let Some(framework) = detected {
                    return Ok(framework);
                }
                false
            }
        };
        match given {
            Some(framework) if found => Ok(framework),
            _ => {
                let mut shown: Vec<&str> = files.iter().take(8).map(String::as_str).collect();
                if files.len() > 8 {
                    shown.push("…");
                }
                let holding = if shown.is_empty() {
                    "nothing".to_owned()
                } else {
                    shown.join(", ")
                };
                Err(format!(
                    "the artifact holds {holding}; {} wants {}",
                    given.map_or("a version".to_owned(), |f| format!("framework {f}")),
                    given.map_or(
                        "a TensorFlow SavedModel (saved_model.pb), model.joblib or model.pkl (scikit-learn), model.bst, model.json or model.ubj (XGBoost), model.txt (LightGBM) or model.onnx",
                        Framework::wants
                    )
                ))
            }
        }
    }

    /// The files this framework's artifact holds, in words.
    fn wants(self) -> &'static str {
        match self {
            Framework::Onnx => "a .onnx file",
            Framework::TensorFlow => "a SavedModel folder: saved_model.pb and variables/",
            Framework::ScikitLearn => "model.joblib or model.pkl",
            Framework::XgBoost => "model.bst, model.json, model.ubj, model.joblib or model.pkl",
            Framework::LightGbm => "model.txt",
            Framework::Custom => "the files its predictionClass reads",
        }
    }
}

impl fmt::Display for Framework {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Framework::Custom => f.write_str("custom prediction routine"),
            other => f.write_str(other.api_name()),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn names(files: &[&str]) -> Vec<String> {
        files.iter().map(|f| (*f).to_owned()).collect()
    }

    #[test]
    fn frameworks_are_told_apart_by_their_files_as_cmle_did() {
        let cases = [
            (&["saved_model.pb", "variables"][..], Framework::TensorFlow),
            (&["model.joblib"][..], Framework::ScikitLearn),
            (&["model.pkl", "README"][..], Framework::ScikitLearn),
            (&["model.bst"][..], Framework::XgBoost),
            (&["model.json"][..], Framework::XgBoost),
            (&["model.onnx"][..], Framework::Onnx),
            (&["digits.onnx"][..], Framework::Onnx),
            (&["model.txt"][..], Framework::LightGbm),
        ];
        for (files, want) in cases {
            assert_eq!(Framework::detect(&names(files), None).unwrap(), want);
        }
        // A pickled XGBoost model is XGBoost when the request says so.
        assert_eq!(
            Framework::detect(&names(&["model.joblib"]), Some(Framework::XgBoost)).unwrap(),
            Framework::XgBoost
        );
    }

    #[test]
    fn a_framework_without_its_files_says_what_it_wants() {
        let err =
            Framework::detect(&names(&["model.joblib"]), Some(Framework::TensorFlow)).unwrap_err();
        assert!(err.contains("holds model.joblib"), "{err}");
        assert!(err.contains("saved_model.pb"), "{err}");
        let err = Framework::detect(&names(&["notes.txt"]), None).unwrap_err();
        assert!(err.contains("model.joblib or model.pkl"), "{err}");
        let err = Framework::parse("PYTORCH").unwrap_err();
        assert!(err.contains("TENSORFLOW, SCIKIT_LEARN, XGBOOST"), "{err}");
        assert_eq!(
            Framework::parse("scikit_learn").unwrap(),
            Some(Framework::ScikitLearn)
        );
        assert_eq!(Framework::parse("FRAMEWORK_UNSPECIFIED").unwrap(), None);
    }
}
