//! Two or more jobs side by side: how each was invoked (command or module, each flag of
//! its args, env), its labels, machine and resources, and its final metrics — with each
//! job's own id written as `{id}` so clones compare equal where only the id differs.

use std::collections::BTreeMap;

use super::Job;

/// One field and its value in each job (`None`: the job has no such field).
#[derive(Debug, Clone, PartialEq)]
pub struct DiffRow {
    /// E.g. `arg --learning_rate`, `env.BATCH`, `label team`.
    pub field: String,
    /// The value in each job, in the order given.
    pub values: Vec<Option<String>>,
}

impl DiffRow {
    /// True when not every job has the same value.
    pub fn differs(&self) -> bool {
        self.values.windows(2).any(|w| w[0] != w[1])
    }
}

/// The fields of `jobs` side by side, in a stable order; `final_metrics` adds each
/// job's last scalar values (by tag) where known.
pub fn diff(jobs: &[&Job], final_metrics: &[BTreeMap<String, f64>]) -> Vec<DiffRow> {
    let fields: Vec<BTreeMap<String, String>> = jobs
        .iter()
        .enumerate()
        .map(|(i, job)| {
            let mut f = fields_of(job);
            if let Some(metrics) = final_metrics.get(i) {
                for (tag, value) in metrics {
                    f.insert(format!("~ final {tag}"), format!("{value}"));
                }
            }
            f
        })
        .collect();
    let mut names: Vec<&String> = fields.iter().flat_map(|f| f.keys()).collect();
    names.sort();
    names.dedup();
    names
        .into_iter()
        .map(|name| DiffRow {
            field: name.trim_start_matches("~ ").to_owned(),
            values: fields.iter().map(|f| f.get(name).cloned()).collect(),
        })
        .collect()
}

/// Flags of an argument list: `--lr=0.1` and `--lr 0.1` are flag `--lr` with value
/// `0.1`; a flag followed by another (or nothing) has an empty value; other words are
/// positional, numbered in order.
pub fn flags(args: &[String]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut positional = 0;
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        if arg.starts_with('-') && arg.len() > 1 && arg.parse::<f64>().is_err() {
            if let Some((name, value)) = arg.split_once('=') {
                out.push((name.to_owned(), value.to_owned()));
            } else if let Some(next) = args
                .get(i + 1)
                .filter(|n| !(n.starts_with('-') && n.parse::<f64>().is_err()))
            {
                out.push((arg.clone(), next.clone()));
                i += 1;
            } else {
                out.push((arg.clone(), String::new()));
            }
        } else {
            out.push((format!("#{positional}"), arg.clone()));
            positional += 1;
        }
        i += 1;
    }
    out
}

fn fields_of(job: &Job) -> BTreeMap<String, String> {
    // A job's own id reads `{id}`: clones then differ only where they really do.
    let own = |text: &str| own_id(text, &job.job_id);
    let mut f = BTreeMap::new();
    let mut put = |key: &str, value: &str| {
        if !value.is_empty() {
            f.insert(key.to_owned(), own(value));
        }
    };
    put("name", job.display_name.as_deref().unwrap_or_default());
    for (k, v) in &job.labels {
        put(&format!("label {k}"), v);
    }
    if let Some(inv) = &job.invocation {
        put("ran in", &inv.working_dir);
    }
    let Some(input) = &job.training_input else {
        return f;
    };
    put("command", &super::shell_words(&input.command));
    put("module", input.python_module.as_deref().unwrap_or_default());
    put("packages", &input.package_uris.join(" "));
    put(
        "working dir",
        input.working_dir.as_deref().unwrap_or_default(),
    );
    put("job dir", input.job_dir.as_deref().unwrap_or_default());
    put("machine", input.master_type.as_deref().unwrap_or_default());
    put(
        "workers",
        &input
            .worker_count
            .map(|w| w.to_string())
            .unwrap_or_default(),
    );
    if let Some(config) = &input.master_config {
        put("image", config.image_uri.as_deref().unwrap_or_default());
        if let Some(a) = &config.accelerator_config {
            put("accelerator", &format!("{} × {}", a.count, a.kind));
        }
    }
    if let Some(r) = &input.resources {
        let text = |v: Option<String>| v.unwrap_or_default();
        put("cpus", &text(r.cpus.map(|v| v.to_string())));
        put("gpus", &text(r.gpus.map(|v| v.to_string())));
        put("memory", &text(r.memory_bytes.map(|v| v.to_string())));
    }
    put("pip", &input.pip_requirements.join(" "));
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for (name, value) in flags(&input.args) {
        // A flag given twice keeps both, numbered.
        let n = seen.entry(name.clone()).or_default();
        *n += 1;
        let key = if *n == 1 {
            format!("arg {name}")
        } else {
            format!("arg {name} ({n})")
        };
        // A flag without a value is there all the same.
        f.insert(key, own(&value));
    }
    for (k, v) in &input.env {
        f.insert(format!("env {k}"), own(v));
    }
    f
}

/// `text` with each whole-word `id` (not inside a longer name) written `{id}`.
fn own_id(text: &str, id: &str) -> String {
    if id.is_empty() {
        return text.to_owned();
    }
    let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(id) {
        let before = rest[..at].chars().next_back().or(out.chars().next_back());
        let after = rest[at + id.len()..].chars().next();
        out.push_str(&rest[..at]);
        if word(before) || word(after) {
            out.push_str(id);
        } else {
            out.push_str("{id}");
        }
        rest = &rest[at + id.len()..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::TrainingInput;

    fn job(id: &str, args: &[&str]) -> Job {
        Job {
            job_id: id.into(),
            training_input: Some(TrainingInput {
                python_module: Some("trainer.task".into()),
                args: args.iter().map(|s| s.to_string()).collect(),
                job_dir: Some(format!("/data/job-dirs/{id}")),
                ..TrainingInput::default()
            }),
            labels: [("team".to_owned(), "vision".to_owned())].into(),
            ..Job::default()
        }
    }

    #[test]
    fn only_whole_words_are_the_job_s_own_id() {
        assert_eq!(own_id("/d/job-dirs/a", "a"), "/d/job-dirs/{id}");
        assert_eq!(own_id("trainer.task", "a"), "trainer.task");
        assert_eq!(
            own_id("run_1 run_10 x/run_1/y", "run_1"),
            "{id} run_10 x/{id}/y"
        );
    }

    #[test]
    fn flags_in_both_spellings_positionals_and_negative_numbers() {
        let args: Vec<String> = [
            "--lr=0.1", "--epochs", "3", "--fast", "--shift", "-2", "data.csv",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(
            flags(&args),
            [
                ("--lr".to_owned(), "0.1".to_owned()),
                ("--epochs".into(), "3".into()),
                ("--fast".into(), String::new()),
                ("--shift".into(), "-2".into()),
                ("#0".into(), "data.csv".into()),
            ]
        );
    }

    #[test]
    fn two_clones_differ_in_exactly_the_changed_arg() {
        let a = job("run_1", &["--lr", "0.1", "--epochs=3"]);
        let b = job("run_2", &["--lr", "0.01", "--epochs=3"]);
        let rows = diff(&[&a, &b], &[]);
        let differing: Vec<&DiffRow> = rows.iter().filter(|r| r.differs()).collect();
        assert_eq!(differing.len(), 1, "{rows:#?}");
        assert_eq!(differing[0].field, "arg --lr");
        assert_eq!(
            differing[0].values,
            [Some("0.1".to_owned()), Some("0.01".to_owned())]
        );
        let job_dir = rows.iter().find(|r| r.field == "job dir").unwrap();
        assert_eq!(job_dir.values[0].as_deref(), Some("/data/job-dirs/{id}"));
    }

    #[test]
    fn a_field_only_one_job_has_and_final_metrics_differ() {
        let a = job("a", &["--fast"]);
        let b = job("b", &[]);
        let metrics = [
            BTreeMap::from([("accuracy".to_owned(), 0.91)]),
            BTreeMap::from([("accuracy".to_owned(), 0.93)]),
        ];
        let rows = diff(&[&a, &b], &metrics);
        let differing: Vec<String> = rows
            .iter()
            .filter(|r| r.differs())
            .map(|r| r.field.clone())
            .collect();
        assert_eq!(differing, ["arg --fast", "final accuracy"]);
        assert_eq!(
            rows.last().unwrap().field,
            "final accuracy",
            "metrics sort last"
        );
    }
}
