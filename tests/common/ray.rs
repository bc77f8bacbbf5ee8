//! A real Ray head node for tests: `ray start --head --block` as a child with its own
//! ports and temp dir, shared by the tests of a binary, and killed with its whole session
//! when the test process ends (never `ray stop`, which kills every cluster here).

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// A running single-node cluster.
pub struct RayCluster {
    /// `http://127.0.0.1:PORT`.
    pub dashboard: String,
    /// Where the Serve proxy will listen (`http://127.0.0.1:PORT`).
    pub serve: String,
    /// The cluster's temp dir.
    pub temp_dir: PathBuf,
    /// The token, for a cluster started with `RAY_AUTH_MODE=token`.
    pub token: Option<String>,
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `n` different free ports, none given to a cluster of this process before: each is
/// held until all are picked, so the OS cannot hand out one of them twice.
fn free_ports(n: usize) -> Vec<u16> {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut given = GIVEN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut held = Vec::new();
    let mut ports = Vec::new();
    while ports.len() < n {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        if !given.contains(&port) {
            given.push(port);
            ports.push(port);
        }
        held.push(listener);
    }
    ports
}

/// The `ray` command: on PATH, else in the venv `.ci/run` makes.
pub fn ray_command() -> PathBuf {
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join("ray");
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    let venv = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default()
        .join(".cache/mlconsole-venv/bin/ray");
    assert!(
        venv.is_file(),
        "ray is not installed: pip install \"ray[default,serve]\" onnxruntime (.ci/run does, into ~/.cache/mlconsole-venv)"
    );
    venv
}

/// The cluster every Ray test of this binary shares, started on first use.
pub fn shared() -> &'static RayCluster {
    static CLUSTER: OnceLock<RayCluster> = OnceLock::new();
    CLUSTER.get_or_init(|| RayCluster::start(None))
}

impl RayCluster {
    /// Starts a head node (with token authentication when `token` is given) and waits
    /// for its dashboard; a head node that exits at once (a port taken meanwhile by
    /// another process here) is started again on other ports.
    pub fn start(token: Option<&str>) -> RayCluster {
        const TRIES: u32 = 3;
        for attempt in 1..=TRIES {
            match RayCluster::start_once(token, attempt) {
                Ok(cluster) => return cluster,
                Err(log) if attempt < TRIES => {
                    eprintln!("the Ray head node exited; starting it again on other ports: {log}");
                }
                Err(log) => panic!("the Ray head node exited {TRIES} times; its log: {log}"),
            }
        }
        unreachable!("the last try panics")
    }

    fn start_once(token: Option<&str>, attempt: u32) -> Result<RayCluster, String> {
        let ray = ray_command();
        let bin = ray.parent().unwrap().to_owned();
        let ports = free_ports(12);
        // A worker port range of its own, outside the others and the ephemeral range.
        let base =
            20_000 + (std::process::id() % 50) as u16 * 100 + u16::from(token.is_some()) * 5_000;
        let temp_dir = PathBuf::from(format!(
            "/tmp/mlc-ray-{}-{}{attempt}",
            std::process::id(),
            if token.is_some() { "t" } else { "s" }
        ));
        let _ = std::fs::remove_dir_all(&temp_dir);
        std::fs::create_dir_all(&temp_dir).unwrap();
        let args = [
            "start".to_owned(),
            "--head".into(),
            "--block".into(),
            "--num-cpus=2".into(),
            "--node-ip-address=127.0.0.1".into(),
            format!("--port={}", ports[0]),
            "--dashboard-host=127.0.0.1".into(),
            format!("--dashboard-port={}", ports[1]),
            format!("--ray-client-server-port={}", ports[2]),
            format!("--dashboard-agent-listen-port={}", ports[3]),
            format!("--dashboard-agent-grpc-port={}", ports[4]),
            format!("--runtime-env-agent-port={}", ports[5]),
            format!("--metrics-export-port={}", ports[6]),
            format!("--node-manager-port={}", ports[7]),
            format!("--object-manager-port={}", ports[8]),
            format!("--min-worker-port={base}"),
            format!("--max-worker-port={}", base + 99),
            "--object-store-memory=100000000".into(),
            format!("--temp-dir={}", temp_dir.display()),
        ];
        // The watchdog runs the head node in a session of its own and, once this test
        // process is gone, ends everything in that session. `exited` marks a head node
        // that ended by itself.
        let script = format!(
            "trap '' TERM; (\"$0\" \"$@\" > {log} 2>&1; echo $? > {exited}) & \
             while kill -0 {pid} 2>/dev/null; do sleep 0.5; done; \
             pkill -TERM -s 0; sleep 3; pkill -KILL -s 0",
            log = temp_dir.join("head.log").display(),
            exited = temp_dir.join("exited").display(),
            pid = std::process::id(),
        );
        let mut command = Command::new("setsid");
        command
            .arg("sh")
            .arg("-c")
            .arg(script)
            .arg(&ray)
            .args(&args)
            .env("PATH", prepend_path(&bin))
            // Two servers Ray starts on fixed ports unless told: a picked port could be
            // one of them (44217 was, in CI), and two clusters here would share them.
            .env("AUTOSCALER_METRIC_PORT", ports[10].to_string())
            .env("DASHBOARD_METRIC_PORT", ports[11].to_string())
            .env("RAY_USAGE_STATS_ENABLED", "0")
            .env("RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S", "0")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(token) = token {
            command
                .env("RAY_AUTH_MODE", "token")
                .env("RAY_AUTH_TOKEN", token);
        }
        let mut watchdog = command.spawn().expect("setsid and sh start the head node");
        std::thread::spawn(move || watchdog.wait());
        let cluster = RayCluster {
            dashboard: format!("http://127.0.0.1:{}", ports[1]),
            serve: format!("http://127.0.0.1:{}", ports[9]),
            temp_dir,
            token: token.map(str::to_owned),
        };
        cluster.wait_ready()?;
        Ok(cluster)
    }

    /// Waits for the dashboard; the head node's log if it exited first.
    fn wait_ready(&self) -> Result<(), String> {
        let started = Instant::now();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(3))
            .build()
            .unwrap();
        loop {
            let mut request = client.get(format!("{}/api/version", self.dashboard));
            if let Some(token) = &self.token {
                request = request.bearer_auth(token);
            }
            let answered = runtime
                .block_on(async { request.send().await.is_ok_and(|r| r.status().is_success()) });
            if answered {
                eprintln!(
                    "ray head node ready in {:?} at {}",
                    started.elapsed(),
                    self.dashboard
                );
                return Ok(());
            }
            if self.temp_dir.join("exited").exists() {
                return Err(
                    std::fs::read_to_string(self.temp_dir.join("head.log")).unwrap_or_default()
                );
            }
            assert!(
                started.elapsed() < Duration::from_secs(90),
                "the Ray head node did not answer at {} in 90 s; its log: {}",
                self.dashboard,
                std::fs::read_to_string(self.temp_dir.join("head.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(300));
        }
    }
}

fn prepend_path(dir: &std::path::Path) -> std::ffi::OsString {
    let mut paths = vec![dir.to_owned()];
    if let Some(existing) = std::env::var_os("PATH") {
        paths.extend(std::env::split_paths(&existing));
    }
    std::env::join_paths(paths).unwrap()
}
