//! `mlconsole sample-train`: a real training job, long enough that a first run shows the
//! console alive (a RUNNING job, its log growing, CPU and memory curves, scalar charts
//! filling in) and small enough to finish in about half a minute on a laptop.
//!
//! A multi-layer perceptron (64 → 384 → 192 → 10, ReLU, softmax) learns to read the UCI
//! handwritten digits (1,797 8×8 images, bundled in `assets/datasets/digits.csv.gz`;
//! 1,437 to train on, 360 held out) by mini-batch gradient descent with momentum and a
//! cosine learning-rate schedule, each epoch on the training images shifted by up to a
//! pixel at random (so it keeps learning instead of memorising). Every epoch it logs a line and writes TensorBoard
//! scalars (`train/` and `eval/` loss and accuracy, `train/learning_rate`) into the job
//! dir; at the end it saves the model as `model.onnx` (for serving) and `model.json`.
//! No time is spent sleeping: all of it is training.

use std::io::{Read as _, Write};
use std::path::Path;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::tensorboard::writer::EventWriter;

pub mod onnx;

const DIGITS: &[u8] = include_bytes!("../../assets/datasets/digits.csv.gz");
/// Pixels per image.
pub const INPUTS: usize = 64;
/// Units of the hidden layers.
pub const HIDDEN: [usize; 2] = [384, 192];
/// Classes (the digits 0–9).
pub const CLASSES: usize = 10;
/// Epochs of the default run (about 25 s on a 2-core laptop in a release build).
pub const DEFAULT_EPOCHS: usize = 400;
const BATCH: usize = 32;
const MOMENTUM: f32 = 0.9;
const LEARNING_RATE: f32 = 0.05;
const HELD_OUT: usize = 360;

/// One dense layer: `out = in · weights + bias`, weights row-major `[inputs][outputs]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Dense {
    /// Width of the layer's input.
    pub inputs: usize,
    /// Width of the layer's output.
    pub outputs: usize,
    /// `inputs × outputs` weights, row by row.
    pub weights: Vec<f32>,
    /// One bias per output.
    pub bias: Vec<f32>,
}

impl Dense {
    fn new(inputs: usize, outputs: usize, rng: &mut Lcg) -> Dense {
        // He initialisation, for ReLU.
        let scale = (2.0 / inputs as f32).sqrt();
        Dense {
            inputs,
            outputs,
            weights: (0..inputs * outputs)
                .map(|_| rng.normal() * scale)
                .collect(),
            bias: vec![0.0; outputs],
        }
    }

    fn forward(&self, x: &[f32], out: &mut [f32]) {
        out.copy_from_slice(&self.bias);
        for (i, &xi) in x.iter().enumerate() {
            if xi == 0.0 {
                continue;
            }
            let row = &self.weights[i * self.outputs..(i + 1) * self.outputs];
            for (o, w) in out.iter_mut().zip(row) {
                *o += xi * w;
            }
        }
    }
}

/// The trained network; inputs are pixel values 0–16, scaled by 1/16 inside.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Mlp {
    /// The layers, input first.
    pub layers: Vec<Dense>,
}

impl Mlp {
    /// Class probabilities of one image (64 pixel values, 0–16).
    pub fn predict(&self, pixels: &[f32]) -> Vec<f32> {
        let x: Vec<f32> = pixels.iter().map(|p| p / 16.0).collect();
        let acts = self.activations(&x);
        softmax(acts.last().map(Vec::as_slice).unwrap_or_default())
    }

    /// Every layer's output (ReLU applied but on the last, which is the logits).
    fn activations(&self, x: &[f32]) -> Vec<Vec<f32>> {
        let mut acts: Vec<Vec<f32>> = Vec::with_capacity(self.layers.len());
        for (l, layer) in self.layers.iter().enumerate() {
            let mut out = vec![0.0; layer.outputs];
            let input = if l == 0 { x } else { &acts[l - 1] };
            layer.forward(input, &mut out);
            if l + 1 < self.layers.len() {
                for v in &mut out {
                    *v = v.max(0.0);
                }
            }
            acts.push(out);
        }
        acts
    }
}

fn softmax(z: &[f32]) -> Vec<f32> {
    let max = z.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let e: Vec<f32> = z.iter().map(|v| (v - max).exp()).collect();
    let sum: f32 = e.iter().sum();
    e.iter().map(|v| v / sum).collect()
}

/// A deterministic random source (so every run trains the same way).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }

    fn uniform(&mut self) -> f32 {
        (self.next() as f32 + 1.0) / (u32::MAX as f32 / 2.0 + 2.0)
    }

    /// A standard normal value (Box–Muller).
    fn normal(&mut self) -> f32 {
        let (u, v) = (self.uniform().min(1.0), self.uniform());
        (-2.0 * u.ln()).sqrt() * (std::f32::consts::TAU * v).cos()
    }

    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.next() as usize % (i + 1);
            items.swap(i, j);
        }
    }
}

/// An image (pixels scaled to 0–1) and its digit.
type Example = (Vec<f32>, usize);

/// The bundled digits, in file order.
pub fn load_digits() -> anyhow::Result<Vec<(Vec<f32>, usize)>> {
    let mut text = String::new();
    flate2::read::GzDecoder::new(DIGITS).read_to_string(&mut text)?;
    text.lines()
        .enumerate()
        .map(|(i, line)| {
            let fields: Vec<&str> = line.split(',').collect();
            anyhow::ensure!(
                fields.len() == INPUTS + 1,
                "digits.csv line {}: expected {} fields",
                i + 1,
                INPUTS + 1
            );
            let pixels = fields[..INPUTS]
                .iter()
                .map(|v| v.trim().parse::<f32>())
                .collect::<Result<Vec<f32>, _>>()?;
            let digit: usize = fields[INPUTS].trim().parse()?;
            anyhow::ensure!(digit < CLASSES, "digits.csv line {}: digit {digit}", i + 1);
            Ok((pixels, digit))
        })
        .collect()
}

/// Mean loss and accuracy of `model` on `data`.
fn evaluate(model: &Mlp, data: &[Example]) -> (f32, f32) {
    let mut loss = 0.0;
    let mut correct = 0;
    for (x, y) in data {
        let acts = model.activations(x);
        let p = softmax(acts.last().map(Vec::as_slice).unwrap_or_default());
        loss -= p[*y].max(1e-12).ln();
        let best = (0..CLASSES)
            .max_by(|a, b| p[*a].total_cmp(&p[*b]))
            .unwrap_or(0);
        correct += usize::from(best == *y);
    }
    (loss / data.len() as f32, correct as f32 / data.len() as f32)
}

/// Gradients of one batch, accumulated, and the momentum of each parameter.
struct Trainer {
    grads: Vec<(Vec<f32>, Vec<f32>)>,
    velocity: Vec<(Vec<f32>, Vec<f32>)>,
}

impl Trainer {
    fn new(model: &Mlp) -> Trainer {
        let zeros = || {
            model
                .layers
                .iter()
                .map(|l| (vec![0.0; l.weights.len()], vec![0.0; l.bias.len()]))
                .collect::<Vec<_>>()
        };
        Trainer {
            grads: zeros(),
            velocity: zeros(),
        }
    }

    /// Adds the gradient of one example's cross-entropy loss; answers the loss and
    /// whether the model already reads the example right.
    fn backward(&mut self, model: &Mlp, x: &[f32], y: usize) -> (f32, bool) {
        let acts = model.activations(x);
        let mut delta = softmax(acts.last().map(Vec::as_slice).unwrap_or_default());
        let loss = -delta[y].max(1e-12).ln();
        let right = (0..CLASSES).all(|c| delta[c] <= delta[y]);
        delta[y] -= 1.0;
        for l in (0..model.layers.len()).rev() {
            let layer = &model.layers[l];
            let input = if l == 0 { x } else { &acts[l - 1] };
            let (gw, gb) = &mut self.grads[l];
            for (b, d) in gb.iter_mut().zip(&delta) {
                *b += d;
            }
            for (i, &xi) in input.iter().enumerate() {
                if xi == 0.0 {
                    continue;
                }
                let row = &mut gw[i * layer.outputs..(i + 1) * layer.outputs];
                for (g, d) in row.iter_mut().zip(&delta) {
                    *g += xi * d;
                }
            }
            if l > 0 {
                let mut back = vec![0.0; layer.inputs];
                for i in 0..layer.inputs {
                    if input[i] <= 0.0 {
                        continue; // ReLU passes no gradient where it was off
                    }
                    let row = &layer.weights[i * layer.outputs..(i + 1) * layer.outputs];
                    back[i] = row.iter().zip(&delta).map(|(w, d)| w * d).sum();
                }
                delta = back;
            }
        }
        (loss, right)
    }

    /// Moves the parameters against the mean gradient of `n` examples.
    fn step(&mut self, model: &mut Mlp, learning_rate: f32, n: usize) {
        let scale = learning_rate / n as f32;
        for (l, layer) in model.layers.iter_mut().enumerate() {
            let (gw, gb) = &mut self.grads[l];
            let (vw, vb) = &mut self.velocity[l];
            for ((w, g), v) in layer
                .weights
                .iter_mut()
                .zip(gw.iter_mut())
                .zip(vw.iter_mut())
            {
                *v = MOMENTUM * *v - scale * *g;
                *w += *v;
                *g = 0.0;
            }
            for ((b, g), v) in layer.bias.iter_mut().zip(gb.iter_mut()).zip(vb.iter_mut()) {
                *v = MOMENTUM * *v - scale * *g;
                *b += *v;
                *g = 0.0;
            }
        }
    }
}

/// `image` (8×8, row by row) moved by -1, 0 or 1 pixel across and down as `roll` says,
/// into `out`; pixels moved in from outside are blank.
fn shift(image: &[f32], out: &mut [f32], roll: usize) {
    let (dx, dy) = ((roll % 3) as isize - 1, ((roll / 3) % 3) as isize - 1);
    for row in 0..8isize {
        for col in 0..8isize {
            let (r, c) = (row - dy, col - dx);
            out[(row * 8 + col) as usize] = if (0..8).contains(&r) && (0..8).contains(&c) {
                image[(r * 8 + c) as usize]
            } else {
                0.0
            };
        }
    }
}

/// The learning rate of `epoch` (from 1) of `epochs`: a cosine from the start rate down
/// to a hundredth of it.
fn learning_rate(epoch: usize, epochs: usize) -> f32 {
    let t = (epoch - 1) as f32 / epochs.max(2).saturating_sub(1) as f32;
    let floor = LEARNING_RATE / 100.0;
    floor + (LEARNING_RATE - floor) * 0.5 * (1.0 + (std::f32::consts::PI * t).cos())
}

/// Trains for `epochs` epochs, logging to `log` and writing scalars, `model.onnx` and
/// `model.json` into `job_dir`. Returns the model and its held-out accuracy.
pub fn train(job_dir: &Path, epochs: usize, log: &mut impl Write) -> anyhow::Result<(Mlp, f32)> {
    let started = Instant::now();
    let mut rng = Lcg(0x2545_f491_4f6c_dd1d);
    let mut examples: Vec<Example> = load_digits()?
        .into_iter()
        .map(|(pixels, y)| (pixels.iter().map(|p| p / 16.0).collect(), y))
        .collect();
    rng.shuffle(&mut examples);
    let (eval_set, train_set) = examples.split_at(HELD_OUT);
    let mut train_set = train_set.to_vec();
    writeln!(
        log,
        "INFO:sample_train:handwritten digits: {} images to train on, {} held out; an MLP {INPUTS}-{}-{}-{CLASSES}, {epochs} epochs",
        train_set.len(),
        eval_set.len(),
        HIDDEN[0],
        HIDDEN[1]
    )?;
    log.flush()?;
    let sizes = [INPUTS, HIDDEN[0], HIDDEN[1], CLASSES];
    let mut model = Mlp {
        layers: sizes
            .windows(2)
            .map(|w| Dense::new(w[0], w[1], &mut rng))
            .collect(),
    };
    let mut trainer = Trainer::new(&model);
    let mut train_events = EventWriter::create(&job_dir.join("train"))?;
    let mut eval_events = EventWriter::create(&job_dir.join("eval"))?;
    let mut eval_accuracy = 0.0;
    for epoch in 1..=epochs {
        let epoch_started = Instant::now();
        let rate = learning_rate(epoch, epochs);
        rng.shuffle(&mut train_set);
        let mut shifted = vec![0.0; INPUTS];
        let (mut loss_sum, mut right) = (0.0, 0usize);
        for batch in train_set.chunks(BATCH) {
            for (x, y) in batch {
                shift(x, &mut shifted, rng.next() as usize);
                let (loss, ok) = trainer.backward(&model, &shifted, *y);
                loss_sum += loss;
                right += usize::from(ok);
            }
            trainer.step(&mut model, rate, batch.len());
        }
        // As frameworks report it: over the epoch's (shifted) training batches.
        let n = train_set.len() as f32;
        let (loss, accuracy) = (loss_sum / n, right as f32 / n);
        let (eval_loss, accuracy_held_out) = evaluate(&model, eval_set);
        eval_accuracy = accuracy_held_out;
        let step = epoch as i64;
        train_events.add_scalar("loss", step, loss)?;
        train_events.add_scalar("accuracy", step, accuracy)?;
        train_events.add_scalar("learning_rate", step, rate)?;
        eval_events.add_scalar("loss", step, eval_loss)?;
        eval_events.add_scalar("accuracy", step, eval_accuracy)?;
        train_events.flush()?;
        eval_events.flush()?;
        writeln!(
            log,
            "INFO:sample_train:epoch {epoch}/{epochs} loss {loss:.4} accuracy {accuracy:.3} eval_loss {eval_loss:.4} eval_accuracy {eval_accuracy:.3} lr {rate:.4} ({:.2} s)",
            epoch_started.elapsed().as_secs_f64()
        )?;
        log.flush()?;
    }
    std::fs::write(job_dir.join("model.json"), serde_json::to_vec(&model)?)?;
    let onnx_path = job_dir.join("model.onnx");
    std::fs::write(&onnx_path, onnx::to_onnx(&model))?;
    writeln!(
        log,
        "INFO:sample_train:done in {:.1} s: held-out accuracy {eval_accuracy:.3}; model saved to {}",
        started.elapsed().as_secs_f64(),
        onnx_path.display()
    )?;
    Ok((model, eval_accuracy))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundled_data_is_the_uci_digits_set() {
        let data = load_digits().unwrap();
        assert_eq!(data.len(), 1797);
        for digit in 0..CLASSES {
            let n = data.iter().filter(|(_, y)| *y == digit).count();
            assert!((170..=190).contains(&n), "digit {digit}: {n}");
        }
        assert!(
            data.iter()
                .all(|(x, _)| x.iter().all(|p| (0.0..=16.0).contains(p)))
        );
    }

    #[test]
    fn gradients_match_finite_differences() {
        let mut rng = Lcg(7);
        let mut model = Mlp {
            layers: vec![Dense::new(3, 4, &mut rng), Dense::new(4, 2, &mut rng)],
        };
        let x = [0.3, 0.9, 0.5];
        let mut trainer = Trainer::new(&model);
        trainer.backward(&model, &x, 1);
        let loss = |m: &Mlp| {
            let acts = m.activations(&x);
            -softmax(&acts[1])[1].ln()
        };
        for (l, i) in [(0, 5), (1, 3)] {
            let analytic = trainer.grads[l].0[i];
            let h = 1e-3;
            model.layers[l].weights[i] += h;
            let up = loss(&model);
            model.layers[l].weights[i] -= 2.0 * h;
            let down = loss(&model);
            model.layers[l].weights[i] += h;
            let numeric = (up - down) / (2.0 * h);
            assert!(
                (analytic - numeric).abs() < 1e-2,
                "layer {l} weight {i}: {analytic} vs {numeric}"
            );
        }
    }

    #[test]
    fn shifts_move_the_image_and_blank_the_edge() {
        let image: Vec<f32> = (0..64).map(|i| i as f32).collect();
        let mut out = vec![0.0; 64];
        shift(&image, &mut out, 4); // dx = 0, dy = 0
        assert_eq!(out, image);
        shift(&image, &mut out, 5); // one to the right
        assert_eq!(out[0], 0.0);
        assert_eq!(out[1], image[0]);
        shift(&image, &mut out, 7); // one down
        assert_eq!(&out[..8], &[0.0; 8]);
        assert_eq!(out[8], image[0]);
    }

    #[test]
    fn the_learning_rate_falls_from_its_start_to_a_hundredth() {
        assert!((learning_rate(1, 100) - LEARNING_RATE).abs() < 1e-6);
        assert!((learning_rate(100, 100) - LEARNING_RATE / 100.0).abs() < 1e-6);
        assert!(learning_rate(50, 100) < learning_rate(10, 100));
    }
}
