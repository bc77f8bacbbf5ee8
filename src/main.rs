//! The `mlconsole` command: the console window (the default), the headless engine, and
//! the job wrapper the engine starts jobs through.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};

use mlconsole::engine::runtime::{self, locate::OrtSetting};
use mlconsole::engine::{self, EngineConfig};

#[derive(Parser)]
#[command(
    name = "mlconsole",
    version,
    about = "A fast native console for ML training jobs and model serving",
    disable_version_flag = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Print the version, the commit it was built from and the runtimes found, then exit
    #[arg(short = 'V', long)]
    version: bool,
    /// The local engine's data directory the console connects to [default: the platform's data directory]
    #[arg(long, global = false)]
    data_dir: Option<PathBuf>,
    /// Do not start the local engine when none answers
    #[arg(long)]
    no_start_engine: bool,
    /// Where the console keeps its connections [default: the platform's config directory]
    #[arg(long)]
    config_dir: Option<PathBuf>,
    /// Keep secrets in a file only you can read instead of the OS keyring
    #[arg(long)]
    no_keyring: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Run the local engine headless: jobs, logs and metrics over HTTP on 127.0.0.1.
    Engine(EngineArgs),
    /// Print every scalar of a TensorBoard log dir: run, tag, step, wall time, value.
    Scalars {
        /// The log dir: a folder, gs://bucket/prefix or s3://bucket/prefix (every folder
        /// below it holding event files is a run).
        dir: String,
        /// Print CSV with a header row instead of aligned columns.
        #[arg(long)]
        csv: bool,
    },
    /// Train a small real model (a multi-layer perceptron on the bundled handwritten
    /// digits, about half a minute), writing TensorBoard scalars, model.onnx and
    /// model.json into the job dir.
    SampleTrain {
        /// Where to write scalars and the model.
        #[arg(long)]
        job_dir: PathBuf,
        /// Epochs of gradient descent.
        #[arg(long, default_value_t = mlconsole::sample_train::DEFAULT_EPOCHS)]
        epochs: usize,
    },
    /// Predict every line of JSONL files with an ONNX model (what a batch prediction job
    /// runs): writes prediction.results-* and prediction.errors_stats-* into OUTPUT_PATH.
    BatchPredict {
        /// The model.onnx to predict with.
        #[arg(long)]
        model_file: PathBuf,
        /// The folder the results go to.
        #[arg(long)]
        output_path: PathBuf,
        /// JSONL files or globs, one instance a line.
        #[arg(required = true)]
        inputs: Vec<String>,
        /// The runtime to predict with: onnxruntime, tract, or auto (ONNX Runtime where found)
        #[arg(long, default_value = "auto")]
        runtime: String,
        /// The ONNX Runtime library: a path, `none`, or `auto` to look for it
        #[arg(long, default_value = "auto")]
        onnxruntime: String,
    },
    /// Fetch a batch job's bucket inputs, run its predictor, upload its outputs (started
    /// by the engine; not for direct use).
    #[command(hide = true)]
    BucketStage {
        /// A bucket URL or glob and the local folder it is fetched into.
        #[arg(long, num_args = 2, value_names = ["URL", "DIR"])]
        fetch: Vec<String>,
        /// A local folder and the bucket prefix its files are uploaded to.
        #[arg(long, num_args = 2, value_names = ["DIR", "URL"])]
        upload: Vec<String>,
        /// The predictor's command line.
        #[arg(last = true, required = true)]
        argv: Vec<String>,
    },
    /// Write shell completions (bash, zsh, fish) and the man page into a folder (what the
    /// Debian package installs; see packaging/build-deb.sh).
    #[command(hide = true)]
    GenerateAssets {
        /// The folder: completions go to `completions/`, the man page to `man/`.
        #[arg(long)]
        out: PathBuf,
    },
    /// Run one job and record how it ended (started by the engine; not for direct use).
    #[command(hide = true)]
    JobWrapper {
        /// The job's state directory.
        #[arg(long)]
        state_dir: PathBuf,
        /// The file-creation mask to run the job with, in octal
        #[arg(long, value_parser = parse_umask)]
        umask: Option<u32>,
        /// The job's command line.
        #[arg(last = true, required = true)]
        argv: Vec<String>,
    },
}

#[derive(clap::Args)]
struct EngineArgs {
    /// Where the engine keeps its state [default: the platform's data directory]
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Port on 127.0.0.1; 0 picks a free one
    #[arg(long, default_value_t = engine::DEFAULT_PORT)]
    port: u16,
    /// Jobs that may run at once [default: number of cores]
    #[arg(long)]
    max_running: Option<usize>,
    /// Python interpreter for pythonModule jobs
    #[arg(long, default_value = "python3")]
    python: String,
    /// Seconds a cancelled job gets between SIGTERM and SIGKILL
    #[arg(long, default_value_t = 10.0)]
    cancel_grace_secs: f64,
    /// Seconds a model replica may idle before serving removes it
    #[arg(long, default_value_t = 300.0)]
    replica_idle_secs: f64,
    /// Most replicas a version runs when its autoScaling gives no maxNodes [default: number of cores]
    #[arg(long)]
    max_replicas: Option<u32>,
    /// Most connections served at once; past it a new one closes the one idle the longest
    #[arg(long, default_value_t = 512)]
    max_connections: usize,
    /// Seconds a client has to send a request's headers (also the longest a kept-alive connection idles)
    #[arg(long, default_value_t = 30.0)]
    header_timeout_secs: f64,
    /// Seconds a client has to send a request's body
    #[arg(long, default_value_t = 60.0)]
    body_timeout_secs: f64,
    /// The ONNX Runtime library to serve with: a path, or `none` for tract only [default: ORT_DYLIB_PATH, then the onnxruntime package of --python, then the system's libonnxruntime]
    #[arg(long)]
    onnxruntime: Option<String>,
    /// Pretend the machine has N GPUs instead of asking NVML (tests of the GPU scheduler
    /// on a machine without one)
    #[arg(long, hide = true)]
    fake_gpus: Option<u32>,
}

/// mimalloc: with it the engine answers ~20% more predictions a second than with glibc's
/// malloc (many small allocations a request; `benches/compare_predict.sh`).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    match run(Cli::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mlconsole: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(mut cli: Cli) -> anyhow::Result<()> {
    if cli.version {
        println!("{}", mlconsole::about::report("python3"));
        return Ok(());
    }
    match cli.command.take() {
        Some(Command::JobWrapper {
            state_dir,
            umask,
            argv,
        }) => engine::wrapper::run(&state_dir, &argv, umask).context("the job wrapper failed"),
        Some(Command::Engine(args)) => run_engine(args),
        Some(Command::Scalars { dir, csv }) => print_scalars(&dir, csv),
        Some(Command::SampleTrain { job_dir, epochs }) => {
            anyhow::ensure!(epochs >= 1, "--epochs must be at least 1");
            let mut stdout = std::io::stdout();
            mlconsole::sample_train::train(&job_dir, epochs, &mut stdout)
                .with_context(|| format!("sample training into {} failed", job_dir.display()))?;
            Ok(())
        }
        Some(Command::BatchPredict {
            model_file,
            output_path,
            inputs,
            runtime,
            onnxruntime,
        }) => {
            let choice = runtime::Choice::parse(Some(&runtime)).map_err(anyhow::Error::msg)?;
            runtime::onnxruntime::init(&OrtSetting::parse(&onnxruntime), "python3")
                .map_err(anyhow::Error::msg)?;
            mlconsole::engine::batch_predict::run(&model_file, &inputs, &output_path, choice)?;
            Ok(())
        }
        Some(Command::BucketStage {
            fetch,
            upload,
            argv,
        }) => {
            let plan = mlconsole::engine::bucket_stage::StagePlan {
                fetch: fetch
                    .chunks(2)
                    .map(|p| (p[0].clone(), PathBuf::from(&p[1])))
                    .collect(),
                upload: upload
                    .chunks(2)
                    .next()
                    .map(|p| (PathBuf::from(&p[0]), p[1].clone())),
            };
            let code = mlconsole::engine::bucket_stage::run(&plan, &argv)?;
            anyhow::ensure!(code == 0, "the predictor exited with code {code}");
            Ok(())
        }
        Some(Command::GenerateAssets { out }) => generate_assets(&out),
        None => run_console(&cli),
    }
}

/// Shell completions and the man page, made from the command line's own definition.
fn generate_assets(out: &std::path::Path) -> anyhow::Result<()> {
    use clap::CommandFactory;
    use clap_complete::Shell;
    let completions = out.join("completions");
    std::fs::create_dir_all(&completions)
        .with_context(|| format!("cannot create {}", completions.display()))?;
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        let path =
            clap_complete::generate_to(shell, &mut Cli::command(), "mlconsole", &completions)
                .with_context(|| format!("cannot write {shell} completions"))?;
        println!("{}", path.display());
    }
    let man = out.join("man");
    std::fs::create_dir_all(&man).with_context(|| format!("cannot create {}", man.display()))?;
    let page = man.join("mlconsole.1");
    let mut text = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .render(&mut text)
        .context("cannot render the man page")?;
    std::fs::write(&page, text).with_context(|| format!("cannot write {}", page.display()))?;
    println!("{}", page.display());
    Ok(())
}

fn run_console(cli: &Cli) -> anyhow::Result<()> {
    let data_dir = match &cli.data_dir {
        Some(dir) => dir.clone(),
        None => engine::default_data_dir()
            .context("cannot find a data directory for this user; pass --data-dir")?,
    };
    let config_dir = match &cli.config_dir {
        Some(dir) => dir.clone(),
        None => mlconsole::backend::settings::default_config_dir()
            .context("cannot find a config directory for this user; pass --config-dir")?,
    };
    let exe = std::env::current_exe().context("cannot find the mlconsole binary")?;
    mlconsole::ui::run(mlconsole::backend::BackendSettings {
        alert_poll: std::time::Duration::from_secs(10),
        config_dir,
        data_dir,
        start_engine_with: (!cli.no_start_engine).then(|| exe.clone()),
        sample_trainer: Some(exe),
        sample_epochs: None,
        use_os_keyring: !cli.no_keyring,
        buckets: mlconsole::buckets::BucketAccess::from_env(),
    })
}

fn print_scalars(dir: &str, csv: bool) -> anyhow::Result<()> {
    use std::io::Write;
    let location = mlconsole::buckets::Location::parse(dir)?;
    let reader = mlconsole::tensorboard::AnyLogDir::open(
        &location,
        &mlconsole::buckets::BucketAccess::from_env(),
    )
    .map_err(anyhow::Error::msg)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let (logdir, read) = runtime.block_on(reader.refresh());
    read.map_err(anyhow::Error::msg)
        .with_context(|| format!("cannot read the log dir {location}"))?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    if csv {
        writeln!(out, "run,tag,step,wall_time,value")?;
    }
    for (run, data) in logdir.runs() {
        for (tag, points) in &data.tags {
            for p in points {
                if csv {
                    writeln!(
                        out,
                        "{},{},{},{},{}",
                        csv_field(run),
                        csv_field(tag),
                        p.step,
                        p.wall_time,
                        p.value
                    )?;
                } else {
                    writeln!(
                        out,
                        "{run}\t{tag}\t{}\t{}\t{}",
                        p.step, p.wall_time, p.value
                    )?;
                }
            }
        }
    }
    out.flush()?;
    let problems = logdir.problems();
    if problems.corrupt_records > 0 || problems.broken_files > 0 {
        eprintln!(
            "mlconsole: skipped {} corrupt records; {} files could be read only up to damage in their framing",
            problems.corrupt_records, problems.broken_files
        );
    }
    Ok(())
}

/// A number of seconds above zero, as a duration.
fn positive_secs(secs: f64, flag: &str) -> anyhow::Result<Duration> {
    anyhow::ensure!(
        secs.is_finite() && secs > 0.0,
        "{flag} must be a number of seconds above 0"
    );
    Ok(Duration::from_secs_f64(secs))
}

/// An octal file-creation mask such as `022`.
fn parse_umask(text: &str) -> Result<u32, String> {
    u32::from_str_radix(text, 8)
        .ok()
        .filter(|m| *m <= 0o777)
        .ok_or_else(|| format!("{text:?} is not an octal mask such as 022"))
}

/// A CSV field, quoted when it must be.
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

fn run_engine(args: EngineArgs) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        // Colours on a terminal only: engine.log, which the console appends to, stays plain.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let data_dir = match args.data_dir {
        Some(dir) => dir,
        None => engine::default_data_dir()
            .context("cannot find a data directory for this user; pass --data-dir")?,
    };
    let mut config = EngineConfig::new(data_dir).context("cannot find the mlconsole binary")?;
    // Everything the engine writes is the user's alone; jobs get the user's own mask back.
    config.job_umask = Some(engine::private_dir::set_umask(0o077));
    config.port = args.port;
    if let Some(n) = args.max_running {
        anyhow::ensure!(n >= 1, "--max-running must be at least 1");
        config.max_running = n;
    }
    config.python = args.python;
    config.onnxruntime = args
        .onnxruntime
        .as_deref()
        .map_or(OrtSetting::Search, OrtSetting::parse);
    anyhow::ensure!(
        args.cancel_grace_secs.is_finite() && args.cancel_grace_secs >= 0.0,
        "--cancel-grace-secs must be a number of seconds ≥ 0"
    );
    config.cancel_grace = Duration::from_secs_f64(args.cancel_grace_secs);
    anyhow::ensure!(
        args.replica_idle_secs.is_finite() && args.replica_idle_secs >= 0.0,
        "--replica-idle-secs must be a number of seconds ≥ 0"
    );
    config.replica_idle = Duration::from_secs_f64(args.replica_idle_secs);
    anyhow::ensure!(
        args.max_connections >= 1,
        "--max-connections must be at least 1"
    );
    config.http.max_connections = args.max_connections;
    config.http.header_timeout = positive_secs(args.header_timeout_secs, "--header-timeout-secs")?;
    config.http.body_timeout = positive_secs(args.body_timeout_secs, "--body-timeout-secs")?;
    if let Some(n) = args.fake_gpus {
        config.gpus = engine::gpus::GpuSetting::Fake(n);
    }
    if let Some(n) = args.max_replicas {
        anyhow::ensure!(n >= 1, "--max-replicas must be at least 1");
        config.max_replicas = n;
    }
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(engine::serve(config))
}
