//! `mlconsole batch-predict`: the process a batch prediction job runs. Reads JSONL files
//! (one instance a line), predicts in batches with the version's model, and writes
//! `prediction.results-0000K-of-0000N` (one per input file, one prediction a line) and
//! `prediction.errors_stats-00000-of-00001` (one bad line a line). Bad lines are counted
//! and reported, not fatal.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context as _;
use serde_json::Value;

use super::runtime::{self, Choice, LoadedModel, Session};
use crate::domain::predict::{self, assemble};

/// Lines predicted in one model run.
const BATCH: usize = 256;
/// Lines between progress messages.
const PROGRESS_EVERY: u64 = 10_000;

/// What a batch prediction did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    /// Instances predicted and written.
    pub predictions: u64,
    /// Lines that could not be.
    pub errors: u64,
}

/// Predicts every line of the files `inputs` (paths or globs) match into `output`, with
/// the runtime `choice` picks.
pub fn run(
    model_file: &Path,
    inputs: &[String],
    output: &Path,
    choice: Choice,
) -> anyhow::Result<Summary> {
    let files = expand(inputs)?;
    let model = runtime::load(model_file, choice).map_err(anyhow::Error::msg)?;
    println!(
        "Batch prediction over {} file(s) with {} on {}",
        files.len(),
        model_file.display(),
        model.runtime
    );
    let session = runtime::session(&model).map_err(anyhow::Error::msg)?;
    std::fs::create_dir_all(output)
        .with_context(|| format!("cannot create the output folder {}", output.display()))?;
    let errors_path = output.join("prediction.errors_stats-00000-of-00001");
    let errors = BufWriter::new(
        File::create(&errors_path)
            .with_context(|| format!("cannot create {}", errors_path.display()))?,
    );
    let mut batch = Predictor {
        model,
        session,
        errors,
        summary: Summary::default(),
        started: Instant::now(),
        next_report: PROGRESS_EVERY,
    };
    for (index, file) in files.iter().enumerate() {
        let name = format!("prediction.results-{index:05}-of-{:05}", files.len());
        let results_path = output.join(name);
        let mut results = BufWriter::new(
            File::create(&results_path)
                .with_context(|| format!("cannot create {}", results_path.display()))?,
        );
        let reader = BufReader::new(
            File::open(file).with_context(|| format!("cannot read {}", file.display()))?,
        );
        let mut pending: Vec<(u64, Value)> = Vec::with_capacity(BATCH);
        for (number, line) in reader.lines().enumerate() {
            let number = number as u64 + 1;
            let line = line.with_context(|| format!("cannot read {}", file.display()))?;
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<Value>(&line) {
                Ok(instance) => pending.push((number, instance)),
                Err(e) => batch.error(file, number, &format!("not valid JSON: {e}"))?,
            }
            if pending.len() == BATCH {
                batch.flush(file, &mut pending, &mut results)?;
            }
        }
        batch.flush(file, &mut pending, &mut results)?;
        results.flush()?;
        println!("Finished {} → {}", file.display(), results_path.display());
    }
    batch.errors.flush()?;
    let summary = batch.summary;
    println!(
        "Done: {} predictions, {} errors, in {:.1} s; results in {}",
        summary.predictions,
        summary.errors,
        batch.started.elapsed().as_secs_f64(),
        output.display()
    );
    if summary.errors > 0 {
        eprintln!(
            "WARNING: {} line(s) could not be predicted; see {}",
            summary.errors,
            errors_path.display()
        );
    }
    Ok(summary)
}

/// A model at work on a batch job: its session, the errors file and the counts.
struct Predictor {
    model: LoadedModel,
    session: Session,
    errors: BufWriter<File>,
    summary: Summary,
    started: Instant,
    /// Lines done after which the next progress message is printed.
    next_report: u64,
}

impl Predictor {
    /// Predicts the pending lines: all in one run, or line by line when the run fails so
    /// that one bad line does not take its neighbours with it.
    fn flush(
        &mut self,
        file: &Path,
        pending: &mut Vec<(u64, Value)>,
        results: &mut impl Write,
    ) -> anyhow::Result<()> {
        if pending.is_empty() {
            return Ok(());
        }
        let instances: Vec<Value> = pending.iter().map(|(_, v)| v.clone()).collect();
        match predict_lines(&self.model, &mut self.session, &instances) {
            Ok(lines) => self.write(results, &lines)?,
            Err(_) if pending.len() > 1 => {
                for (number, instance) in pending.iter() {
                    let one = std::slice::from_ref(instance);
                    match predict_lines(&self.model, &mut self.session, one) {
                        Ok(lines) => self.write(results, &lines)?,
                        Err(e) => self.error(file, *number, &e)?,
                    }
                }
            }
            Err(e) => self.error(file, pending[0].0, &e)?,
        }
        pending.clear();
        let done = self.summary.predictions + self.summary.errors;
        if done >= self.next_report {
            self.next_report = done + PROGRESS_EVERY;
            println!(
                "Predicted {} lines ({} errors) in {:.1} s",
                self.summary.predictions,
                self.summary.errors,
                self.started.elapsed().as_secs_f64()
            );
        }
        Ok(())
    }

    fn write(&mut self, results: &mut impl Write, lines: &[String]) -> anyhow::Result<()> {
        for line in lines {
            writeln!(results, "{line}")?;
        }
        self.summary.predictions += lines.len() as u64;
        Ok(())
    }

    /// Records a line that could not be predicted.
    fn error(&mut self, file: &Path, line: u64, message: &str) -> anyhow::Result<()> {
        self.summary.errors += 1;
        // `assemble` names "instance 0"; the line number is what helps here.
        let message = message.strip_prefix("instance 0: ").unwrap_or(message);
        let record = serde_json::json!({
            "inputFile": file.display().to_string(),
            "line": line,
            "error": message,
        });
        writeln!(self.errors, "{record}")?;
        Ok(())
    }
}

/// The files `patterns` name, in order, each once.
fn expand(patterns: &[String]) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for pattern in patterns {
        let matched: Vec<PathBuf> = glob::glob(pattern)
            .with_context(|| format!("{pattern:?} is not a valid path or glob"))?
            .filter_map(Result::ok)
            .filter(|p| p.is_file())
            .collect();
        anyhow::ensure!(!matched.is_empty(), "no file matches {pattern:?}");
        for file in matched {
            if !files.contains(&file) {
                files.push(file);
            }
        }
    }
    Ok(files)
}

/// One prediction (JSON text) per instance.
fn predict_lines(
    model: &LoadedModel,
    session: &mut Session,
    instances: &[Value],
) -> Result<Vec<String>, String> {
    let batches = assemble(instances, &model.inputs)?;
    let mut runs = Vec::with_capacity(batches.len());
    for batch in &batches {
        runs.push((batch.instances, runtime::run(session, batch)?));
    }
    let text = predict::write_predictions(&runs, &model.outputs);
    let answer: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    Ok(answer
        .get("predictions")
        .and_then(Value::as_array)
        .map(|p| p.iter().map(Value::to_string).collect())
        .unwrap_or_default())
}
