//! `mlconsole sample-train`: a real, small training job so a first run shows everything.
//!
//! Softmax (multinomial logistic) regression on Fisher's Iris data, bundled in
//! `assets/datasets/iris.csv`: 120 flowers to train on, 30 held out. It logs progress
//! like a Python trainer, writes TensorBoard scalars (`train/` loss and accuracy,
//! `eval/` accuracy) into the job dir, and saves the model there as `model.onnx` (for
//! serving) and `model.json` (its parameters, readable).

#![expect(
    clippy::needless_range_loop,
    reason = "the maths indexes weights, inputs and gradients by feature and class together"
)]

use std::io::Write;
use std::path::Path;

use serde::Serialize;

use crate::tensorboard::writer::EventWriter;

pub mod onnx;

const IRIS: &str = include_str!("../../assets/datasets/iris.csv");
/// The classes, in the order of the model's outputs.
pub const CLASSES: [&str; 3] = ["setosa", "versicolor", "virginica"];
const FEATURES: usize = 4;

/// The trained model: inputs are standardised with `mean` and `std`, then
/// `probabilities = softmax(x · weights + bias)`.
#[derive(Debug, Clone, Serialize)]
pub struct SoftmaxModel {
    /// Input feature names, in order.
    pub inputs: [&'static str; FEATURES],
    /// Output class names, in order.
    pub classes: [&'static str; 3],
    /// Per-feature mean of the training set.
    pub mean: [f64; FEATURES],
    /// Per-feature standard deviation of the training set.
    pub std: [f64; FEATURES],
    /// Weights, one row per feature.
    pub weights: [[f64; 3]; FEATURES],
    /// Bias per class.
    pub bias: [f64; 3],
}

impl SoftmaxModel {
    /// Class probabilities for raw (not standardised) measurements.
    pub fn predict(&self, x: &[f64; FEATURES]) -> [f64; 3] {
        let mut z = self.bias;
        for f in 0..FEATURES {
            let v = (x[f] - self.mean[f]) / self.std[f];
            for (c, zc) in z.iter_mut().enumerate() {
                *zc += v * self.weights[f][c];
            }
        }
        softmax(z)
    }
}

fn softmax(z: [f64; 3]) -> [f64; 3] {
    let max = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let e = z.map(|v| (v - max).exp());
    let sum: f64 = e.iter().sum();
    e.map(|v| v / sum)
}

/// A measured flower and its class.
type Example = ([f64; FEATURES], usize);

fn load_iris() -> anyhow::Result<Vec<Example>> {
    IRIS.lines()
        .skip(1)
        .enumerate()
        .map(|(i, line)| {
            let fields: Vec<&str> = line.split(',').collect();
            anyhow::ensure!(
                fields.len() == 5,
                "iris.csv line {}: expected 5 fields",
                i + 2
            );
            let mut x = [0.0; FEATURES];
            for (f, v) in x.iter_mut().enumerate() {
                *v = fields[f].parse()?;
            }
            let class = CLASSES
                .iter()
                .position(|c| *c == fields[4])
                .ok_or_else(|| {
                    anyhow::anyhow!("iris.csv line {}: unknown species {}", i + 2, fields[4])
                })?;
            Ok((x, class))
        })
        .collect()
}

/// Shuffles deterministically (a small LCG), so every run trains on the same split.
fn shuffle(examples: &mut [Example]) {
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    for i in (1..examples.len()).rev() {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let j = (state >> 33) as usize % (i + 1);
        examples.swap(i, j);
    }
}

/// Loss and accuracy of `model` on `data`.
fn evaluate(model: &SoftmaxModel, data: &[Example]) -> (f64, f64) {
    let mut loss = 0.0;
    let mut correct = 0;
    for (x, y) in data {
        let p = model.predict(x);
        loss -= p[*y].max(1e-12).ln();
        let best = (0..3).max_by(|a, b| p[*a].total_cmp(&p[*b])).unwrap_or(0);
        correct += usize::from(best == *y);
    }
    (loss / data.len() as f64, correct as f64 / data.len() as f64)
}

/// Trains for `epochs` epochs of full-batch gradient descent, logging to `log` and
/// writing scalars and `model.json` into `job_dir`. Returns the model and its held-out
/// accuracy.
pub fn train(
    job_dir: &Path,
    epochs: usize,
    log: &mut impl Write,
) -> anyhow::Result<(SoftmaxModel, f64)> {
    let mut examples = load_iris()?;
    shuffle(&mut examples);
    let (train_set, eval_set) = examples.split_at(120);
    writeln!(
        log,
        "INFO:sample_train:{} training examples, {} held out",
        train_set.len(),
        eval_set.len()
    )?;

    let mut mean = [0.0; FEATURES];
    let mut std = [0.0; FEATURES];
    for f in 0..FEATURES {
        mean[f] = train_set.iter().map(|(x, _)| x[f]).sum::<f64>() / train_set.len() as f64;
        let var = train_set
            .iter()
            .map(|(x, _)| (x[f] - mean[f]).powi(2))
            .sum::<f64>()
            / train_set.len() as f64;
        std[f] = var.sqrt().max(1e-9);
    }
    let mut model = SoftmaxModel {
        inputs: ["sepal_length", "sepal_width", "petal_length", "petal_width"],
        classes: CLASSES,
        mean,
        std,
        weights: [[0.0; 3]; FEATURES],
        bias: [0.0; 3],
    };
    let mut train_events = EventWriter::create(&job_dir.join("train"))?;
    let mut eval_events = EventWriter::create(&job_dir.join("eval"))?;
    let learning_rate = 0.5;
    for epoch in 1..=epochs {
        let mut grad_w = [[0.0; 3]; FEATURES];
        let mut grad_b = [0.0; 3];
        for (x, y) in train_set {
            let p = model.predict(x);
            for c in 0..3 {
                let err = p[c] - f64::from(u8::from(c == *y));
                grad_b[c] += err;
                for f in 0..FEATURES {
                    grad_w[f][c] += err * (x[f] - model.mean[f]) / model.std[f];
                }
            }
        }
        let n = train_set.len() as f64;
        for c in 0..3 {
            model.bias[c] -= learning_rate * grad_b[c] / n;
            for f in 0..FEATURES {
                model.weights[f][c] -= learning_rate * grad_w[f][c] / n;
            }
        }
        let (loss, accuracy) = evaluate(&model, train_set);
        let (eval_loss, eval_accuracy) = evaluate(&model, eval_set);
        let step = epoch as i64;
        train_events.add_scalar("loss", step, loss as f32)?;
        train_events.add_scalar("accuracy", step, accuracy as f32)?;
        eval_events.add_scalar("loss", step, eval_loss as f32)?;
        eval_events.add_scalar("accuracy", step, eval_accuracy as f32)?;
        if epoch % 10 == 0 || epoch == epochs {
            train_events.flush()?;
            eval_events.flush()?;
            writeln!(
                log,
                "INFO:sample_train:epoch {epoch} loss {loss:.4} accuracy {accuracy:.3} eval_accuracy {eval_accuracy:.3}"
            )?;
            log.flush()?;
        }
    }
    let (_, eval_accuracy) = evaluate(&model, eval_set);
    std::fs::write(
        job_dir.join("model.json"),
        serde_json::to_vec_pretty(&model)?,
    )?;
    let onnx_path = job_dir.join("model.onnx");
    std::fs::write(&onnx_path, onnx::to_onnx(&model))?;
    writeln!(
        log,
        "INFO:sample_train:done: held-out accuracy {eval_accuracy:.3}; model saved to {}",
        onnx_path.display()
    )?;
    Ok((model, eval_accuracy))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundled_data_is_the_iris_set() {
        let data = load_iris().unwrap();
        assert_eq!(data.len(), 150);
        for class in 0..3 {
            assert_eq!(data.iter().filter(|(_, y)| *y == class).count(), 50);
        }
    }

    #[test]
    fn softmax_is_a_distribution() {
        let p = softmax([1.0, 2.0, 3.0]);
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert!(p[2] > p[1] && p[1] > p[0]);
    }
}
