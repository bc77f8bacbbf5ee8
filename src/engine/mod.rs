//! The local engine: a real server on 127.0.0.1 that runs training jobs as processes,
//! captures their logs, samples their resources and keeps its state in SQLite.
//!
//! Layout of the data directory:
//!
//! ```text
//! engine.lock   held while an engine runs on this directory
//! token         the bearer token clients must send (mode 0600)
//! engine.json   where the running engine listens
//! state.db      jobs, resource samples, models and versions (SQLite, WAL)
//! jobs/<id>/    a job's stdout.log, stderr.log, engine.log, log.idx, child.pid, exit.json
//! models/<m>/<v>/model.onnx   a version's artifact, copied in when it was created
//! ```

pub mod artifacts;
pub mod batch_predict;
pub mod bucket_artifacts;
pub mod bucket_stage;
pub mod combine;
pub mod gpus;
pub mod http;
pub mod joblog;
pub mod log_search;
pub mod model_tasks;
pub mod operations;
pub mod private_dir;
pub mod process_group;
pub mod registry;
pub mod runner;
pub mod runtime;
pub mod sampler;
pub mod serving;
pub mod store;
pub mod system_params;
pub mod tuning;
pub mod wrapper;

use std::collections::{HashMap, HashSet, VecDeque};
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;

use self::joblog::JobLog;
use self::registry::{ModelError, Registry};
use self::store::{Store, StoreError};

/// The port the engine listens on unless told otherwise.
pub const DEFAULT_PORT: u16 = 8471;

/// How an engine is set up.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Where the engine keeps its state.
    pub data_dir: PathBuf,
    /// TCP port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// How many jobs may run at once; more wait in QUEUED.
    pub max_running: usize,
    /// The Python interpreter that runs `pythonModule` jobs.
    pub python: String,
    /// How long a cancelled job has between SIGTERM and SIGKILL.
    pub cancel_grace: Duration,
    /// The `mlconsole` binary that provides `job-wrapper`.
    pub wrapper_exe: PathBuf,
    /// How long a model replica may idle before serving removes it.
    pub replica_idle: Duration,
    /// Most replicas of a version whose autoScaling gives no maxNodes.
    pub max_replicas: u32,
    /// Where to find ONNX Runtime.
    pub onnxruntime: runtime::locate::OrtSetting,
    /// Limits on connections and request times.
    pub http: http::server::HttpLimits,
    /// The file-creation mask jobs run with, when the engine runs under a stricter one
    /// of its own (`mlconsole engine` keeps its files private with 077).
    pub job_umask: Option<u32>,
    /// Where the GPUs jobs may ask for come from.
    pub gpus: gpus::GpuSetting,
    /// How to reach `gs://` and `s3://` artifacts and batch files (the environment's
    /// credentials and emulator endpoints).
    pub buckets: crate::buckets::BucketAccess,
}

impl EngineConfig {
    /// The defaults for `data_dir`: the default port, one running job per core,
    /// `python3`, a 10 s cancel grace, this very binary as the wrapper, and replicas
    /// that idle 5 minutes before they go, at most one per core.
    pub fn new(data_dir: PathBuf) -> io::Result<EngineConfig> {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Ok(EngineConfig {
            data_dir,
            port: DEFAULT_PORT,
            max_running: cores,
            python: "python3".into(),
            cancel_grace: Duration::from_secs(10),
            wrapper_exe: std::env::current_exe()?,
            replica_idle: Duration::from_secs(300),
            max_replicas: u32::try_from(cores).unwrap_or(2),
            onnxruntime: runtime::locate::OrtSetting::Search,
            http: http::server::HttpLimits::default(),
            job_umask: None,
            gpus: gpus::GpuSetting::Detect,
            buckets: crate::buckets::BucketAccess::from_env(),
        })
    }
}

/// The platform's data directory for mlconsole (e.g. `~/.local/share/mlconsole`).
pub fn default_data_dir() -> Option<PathBuf> {
    directories::ProjectDirs::from("dev", "mlconsole", "mlconsole").map(|d| d.data_dir().to_owned())
}

/// Why the engine could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Another engine holds the data directory.
    #[error(
        "another mlconsole engine is already running on {dir}{where_}; stop it first, or start this one with another --data-dir"
    )]
    AlreadyRunning {
        /// The data dir both engines use.
        dir: PathBuf,
        /// Where the other engine listens, when known.
        where_: String,
    },
    /// The data directory or a file in it cannot be used.
    #[error("cannot use the data directory {dir}: {source}")]
    DataDir {
        /// The data dir that could not be prepared.
        dir: PathBuf,
        /// Why not.
        source: io::Error,
    },
    /// The state database cannot be opened.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The models in the state database cannot be read.
    #[error(transparent)]
    Models(#[from] ModelError),
    /// The port cannot be bound.
    #[error(
        "cannot listen on 127.0.0.1:{port}: {source}; is another program using it? Try --port 0"
    )]
    Bind {
        /// The port asked for.
        port: u16,
        /// Why the port could not be taken.
        source: io::Error,
    },
}

/// Jobs waiting for a slot and jobs holding one.
#[derive(Default)]
struct Slots {
    queue: VecDeque<String>,
    running: HashSet<String>,
    /// Which GPUs are free and which job holds the others.
    gpus: gpus::GpuLedger,
    /// Jobs whose log already says they wait for GPUs.
    waiting_for_gpus: HashSet<String>,
}

/// The shared state of a running engine.
pub struct Engine {
    config: EngineConfig,
    store: Store,
    token: String,
    slots: Mutex<Slots>,
    wake_scheduler: Notify,
    /// Logs of jobs not yet finished, shared by the API, the scheduler and supervisors.
    open_logs: Mutex<HashMap<String, Arc<Mutex<JobLog>>>>,
    registry: Registry,
    /// Versions an earlier engine left CREATING, loaded again by [`serve`].
    unfinished_versions: Mutex<Vec<registry::Unfinished>>,
    operations: operations::Operations,
    /// The machine's GPUs (or why there are none).
    gpu_inventory: gpus::GpuInventory,
    /// The machine's CPU and memory, read for the status strip (CPU use needs the
    /// previous read).
    machine: Mutex<Option<sysinfo::System>>,
    /// What was read of each running trial's metrics, by trial job id.
    trial_readers: Mutex<HashMap<String, tuning::metrics::TrialReader>>,
    /// Kept open for the engine's life: the lock on the data directory.
    _lock: File,
}

impl Engine {
    /// Takes the data directory, makes or reads the token and opens the store. Jobs left
    /// running by an earlier engine are picked up by [`Engine::recover`].
    pub fn open(config: EngineConfig) -> Result<Arc<Engine>, StartError> {
        let dir = config.data_dir.clone();
        let data_err = |source| StartError::DataDir {
            dir: dir.clone(),
            source,
        };
        private_dir::create_private_dir(&dir.join("jobs")).map_err(data_err)?;
        let lock = take_lock(&dir)?;
        let token = load_or_make_token(&dir.join("token")).map_err(data_err)?;
        let store = Store::open(&dir.join("state.db"))?;
        let script = runtime::python::install_predictor(&dir).map_err(data_err)?;
        let (registry, unfinished) = Registry::open(
            &dir.join("state.db"),
            dir.join("models"),
            config.max_replicas,
            registry::WorkerSettings {
                python: config.python.clone(),
                script,
                idle: config.replica_idle,
            },
        )?;
        // After the store exists, so that a database an older engine made 0644 is caught.
        let tightened = private_dir::tighten(&dir).map_err(data_err)?;
        if !tightened.is_empty() {
            tracing::warn!(
                "made private what others could read in the data directory: {}",
                tightened.join(", ")
            );
        }
        let gpu_inventory = gpus::GpuInventory::discover(&config.gpus);
        tracing::info!("GPUs: {}", gpu_inventory.describe());
        Ok(Arc::new(Engine {
            config,
            store,
            token,
            slots: Mutex::new(Slots {
                gpus: gpus::GpuLedger::new(&gpu_inventory),
                ..Slots::default()
            }),
            gpu_inventory,
            wake_scheduler: Notify::new(),
            open_logs: Mutex::default(),
            registry,
            unfinished_versions: Mutex::new(unfinished),
            operations: operations::Operations::default(),
            trial_readers: Mutex::default(),
            machine: Mutex::new(None),
            _lock: lock,
        }))
    }

    /// The machine's size and load: one node, its cores and GPUs (and how many jobs
    /// hold), CPU use since the last call, memory.
    pub fn machine_summary(&self) -> crate::domain::ClusterSummary {
        let mut guard = self.machine.lock().unwrap_or_else(|e| e.into_inner());
        if guard.is_none() {
            *guard = sysinfo::System::new().ok();
        }
        let (cpu_percent, memory_used, memory_total) = match guard.as_mut() {
            Some(system) => {
                system.refresh_cpu_usage();
                system.refresh_memory();
                (
                    f64::from(system.global_cpu_usage()),
                    system.used_memory(),
                    system.total_memory(),
                )
            }
            None => (0.0, 0, 0),
        };
        drop(guard);
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let gpus = self.gpu_inventory.devices.len();
        let free = self
            .slots
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .gpus
            .free_count();
        crate::domain::ClusterSummary {
            nodes: 1,
            cpus: cores as f64,
            gpus: gpus as f64,
            cpu_percent,
            memory_used,
            memory_total,
            gpus_in_use: (gpus > 0).then(|| (gpus - free.min(gpus)) as f64),
        }
    }

    /// The engine's settings.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// The engine's state store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The bearer token clients must present.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// The models and versions.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The long-running operations of model and version changes.
    pub fn operations(&self) -> &operations::Operations {
        &self.operations
    }

    /// The directory holding a job's logs and process records.
    pub fn job_state_dir(&self, job_id: &str) -> PathBuf {
        self.config.data_dir.join("jobs").join(job_id)
    }
}

/// Binds 127.0.0.1:`config.port`, prints `listening on http://127.0.0.1:PORT`, and serves
/// until the process ends.
pub async fn serve(config: EngineConfig) -> anyhow::Result<()> {
    let engine = Engine::open(config)?;
    let port = engine.config.port;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|source| StartError::Bind { port, source })?;
    let addr = listener.local_addr()?;
    let info =
        serde_json::json!({ "pid": std::process::id(), "address": format!("http://{addr}") });
    wrapper::write_atomically(
        &engine.config.data_dir.join("engine.json"),
        info.to_string().as_bytes(),
    )?;
    let (setting, python) = (
        engine.config.onnxruntime.clone(),
        engine.config.python.clone(),
    );
    let ort = tokio::task::spawn_blocking(move || runtime::onnxruntime::init(&setting, &python))
        .await?
        .map_err(anyhow::Error::msg)?;
    match ort {
        runtime::onnxruntime::Availability::Ready(ort) => tracing::info!(
            "serving with ONNX Runtime {} from {} (found through {}); tract for versions that ask for it",
            ort.version,
            ort.library.display(),
            ort.found_by
        ),
        runtime::onnxruntime::Availability::Missing {
            summary,
            tried,
            how,
        } => tracing::warn!(
            "serving with tract only: ONNX Runtime {summary}{}. Models with ONNX-ML operators (scikit-learn, XGBoost, LightGBM) need it. {how}",
            if tried.is_empty() {
                String::new()
            } else {
                format!(" (tried {tried})")
            }
        ),
    }
    engine.recover()?;
    tokio::spawn(engine.clone().schedule());
    tokio::spawn(sampler::run(engine.clone()));
    engine.start_serving();
    println!("listening on http://{addr}");
    io::stdout().flush()?;
    http::serve(engine, listener).await?;
    Ok(())
}

fn take_lock(dir: &Path) -> Result<File, StartError> {
    let path = dir.join("engine.lock");
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|source| StartError::DataDir {
            dir: dir.to_owned(),
            source,
        })?;
    match lock.try_lock() {
        Ok(()) => Ok(lock),
        Err(std::fs::TryLockError::WouldBlock) => {
            let where_ = std::fs::read_to_string(dir.join("engine.json"))
                .ok()
                .and_then(|s| serde_json::from_str::<serde_json::Value>(&s).ok())
                .and_then(|v| {
                    Some(format!(
                        " (pid {}, {})",
                        v.get("pid")?,
                        v.get("address")?.as_str()?
                    ))
                })
                .unwrap_or_default();
            Err(StartError::AlreadyRunning {
                dir: dir.to_owned(),
                where_,
            })
        }
        Err(std::fs::TryLockError::Error(source)) => Err(StartError::DataDir {
            dir: dir.to_owned(),
            source,
        }),
    }
}

/// Reads the token at `path`, or makes a new random one readable only by this user.
pub fn load_or_make_token(path: &Path) -> io::Result<String> {
    match File::open(path) {
        Ok(mut file) => {
            let mut token = String::new();
            file.read_to_string(&mut token)?;
            // Tighten permissions a user may have loosened by accident.
            let mode = file.metadata()?.permissions().mode();
            if mode & 0o077 != 0 {
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
            }
            let token = token.trim().to_owned();
            if token.len() >= 32 {
                return Ok(token);
            }
            Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "the token file {} is damaged; delete it to make a new token",
                    path.display()
                ),
            ))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let mut bytes = [0u8; 32];
            getrandom::fill(&mut bytes).map_err(|e| io::Error::other(e.to_string()))?;
            let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            let mut file = OpenOptions::new()
                .create_new(true)
                .write(true)
                .mode(0o600)
                .open(path)?;
            file.write_all(token.as_bytes())?;
            Ok(token)
        }
        Err(e) => Err(e),
    }
}
