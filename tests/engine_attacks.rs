//! Attacks on a real engine while it runs a job and serves a model: what any web page
//! the user visits could send to 127.0.0.1, and what a slow or greedy client does. The
//! engine stays up, every attack gets a 4xx or a closed connection, the job finishes
//! with all its lines and predictions answer throughout.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)] // tests: a broken expectation panics

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

use common::{TestEngine, is_state, python_job};
use mlconsole::domain::{JobState, LogStream};
use mlconsole::platform::Platform;
use serde_json::{Value, json};

const MODELS: &str = "/v1/projects/local/models";

fn address(engine: &TestEngine) -> String {
    engine.base.trim_start_matches("http://").to_owned()
}

/// Reads one HTTP/1.1 answer: its status and body (by Content-Length).
fn read_answer(stream: &mut TcpStream) -> Option<(u16, String)> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte).ok()? == 0 {
            return None;
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).to_string();
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).ok()?;
    Some((status, String::from_utf8_lossy(&body).to_string()))
}

/// True once the server has closed `stream` (a read answers end of file or an error).
fn closed_by_server(stream: &mut TcpStream, within: Duration) -> bool {
    stream.set_read_timeout(Some(within)).unwrap();
    let mut buf = [0u8; 256];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) => {
                return !matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                );
            }
        }
    }
}

fn deep(open: &str, inner: &str, close: &str, depth: usize) -> String {
    format!("{}{inner}{}", open.repeat(depth), close.repeat(depth))
}

fn escape(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

async fn serve_iris(engine: &TestEngine) {
    let (code, body) = engine
        .post_raw(MODELS, &json!({"name": "iris"}).to_string())
        .await;
    assert_eq!(code, 200, "{body}");
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/models/iris_logreg.onnx");
    let version = json!({"name": "v1", "deploymentUri": fixture});
    let (code, body) = engine
        .post_raw(&format!("{MODELS}/iris/versions"), &version.to_string())
        .await;
    assert_eq!(code, 200, "{body}");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, v) = engine.get(&format!("{MODELS}/iris/versions/v1")).await;
        if v["state"] == "READY" {
            return;
        }
        assert_ne!(v["state"], "FAILED", "{v}");
        assert!(
            Instant::now() < deadline,
            "the version never got ready: {v}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn predict(engine: &TestEngine) -> (u16, Value) {
    engine
        .post_raw(
            &format!("{MODELS}/iris:predict"),
            r#"{"instances": [[5.1, 3.5, 1.4, 0.2]]}"#,
        )
        .await
}

#[tokio::test(flavor = "multi_thread")]
async fn attacks_leave_the_engine_serving_a_job_and_a_model() {
    let engine = TestEngine::start(&[
        "--header-timeout-secs",
        "2",
        "--body-timeout-secs",
        "2",
        "--max-connections",
        "256",
    ]);
    serve_iris(&engine).await;
    let (code, before) = predict(&engine).await;
    assert_eq!(code, 200, "{before}");
    let lines = 80;
    let job = python_job(
        "steady",
        &format!(
            "import time\nfor i in range({lines}):\n    print(f'line {{i}}', flush=True)\n    time.sleep(0.1)"
        ),
    );
    engine.platform.submit_job(&job).await.unwrap();
    let addr = address(&engine);

    // 200 idle connections, held open while everything else goes on.
    let mut idle: Vec<TcpStream> = (0..200)
        .map(|_| TcpStream::connect(&addr).unwrap())
        .collect();

    // A slowloris: a header a byte a second, and a body a byte a second.
    let slow_headers = std::thread::spawn({
        let addr = addr.clone();
        move || {
            let mut stream = TcpStream::connect(&addr).unwrap();
            let started = Instant::now();
            for byte in b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaa" {
                if stream.write_all(&[*byte]).is_err() {
                    break;
                }
                std::thread::sleep(Duration::from_secs(1));
                if started.elapsed() > Duration::from_secs(8) {
                    break;
                }
            }
            closed_by_server(&mut stream, Duration::from_secs(5))
        }
    });
    let slow_body = std::thread::spawn({
        let (addr, token) = (addr.clone(), engine.token.clone());
        move || {
            let mut stream = TcpStream::connect(&addr).unwrap();
            let head = format!(
                "POST /v1/projects/local/jobs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
            );
            stream.write_all(head.as_bytes()).unwrap();
            for _ in 0..5 {
                if stream.write_all(b" ").is_err() {
                    break;
                }
                std::thread::sleep(Duration::from_secs(1));
            }
            read_answer(&mut stream)
        }
    });

    // The attack as reported: 20 000 nested parentheses in `fields`, sent raw.
    for path in ["/healthz", "/v1/projects/local/jobs"] {
        let mut stream = TcpStream::connect(&addr).unwrap();
        let request = format!(
            "GET {path}?fields={} HTTP/1.1\r\nHost: x\r\n\r\n",
            deep("a(", "b", ")", 20_000)
        );
        stream.write_all(request.as_bytes()).unwrap();
        let status = read_answer(&mut stream).map(|a| a.0);
        assert!(
            status.is_some_and(|s| (400..500).contains(&s)),
            "{path}: {status:?}"
        );
    }
    // Deep nesting before the token: the token is checked first, nothing is parsed.
    let deep_fields = escape(&deep("a(", "b", ")", 5_000));
    let (code, body) = engine
        .http
        .get(engine.url(&format!("/v1/projects/local/jobs?fields={deep_fields}")))
        .send()
        .await
        .map(|r| (r.status().as_u16(), r))
        .unwrap();
    assert_eq!(code, 401, "{:.300?}", body.text().await);
    // The health check needs no token, and refuses the mask with a 400.
    let r = engine
        .http
        .get(engine.url(&format!("/healthz?fields={deep_fields}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let error: Value = r.json().await.unwrap();
    assert_eq!(error["error"]["status"], "INVALID_ARGUMENT");
    assert!(
        error["error"]["message"].as_str().unwrap().len() < 1000,
        "{error:.300}"
    );
    // After the token: a 400 in Google's shape.
    let (code, error) = engine
        .get(&format!("/v1/projects/local/jobs?fields={deep_fields}"))
        .await;
    assert_eq!(code, 400, "{error:.300}");
    let nested = escape(&deep("a(", "b", ")", 100));
    let (code, error) = engine
        .get(&format!("/v1/projects/local/jobs?fields={nested}"))
        .await;
    assert_eq!(code, 400, "{error:.300}");
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("nested")
    );
    for filter in [
        deep("(", "state=RUNNING", ")", 5_000),
        "NOT ".repeat(5_000) + "state=RUNNING",
        "-".repeat(20_000) + "state=RUNNING",
        vec!["state=RUNNING"; 2_000].join(" OR "),
    ] {
        let (code, error) = engine
            .get(&format!(
                "/v1/projects/local/jobs?filter={}",
                escape(&filter)
            ))
            .await;
        assert_eq!(code, 400, "{error:.300}");
        assert_eq!(error["error"]["status"], "INVALID_ARGUMENT");
    }
    let logging = json!({"resourceNames": ["projects/local"], "filter": deep("(", "severity>=ERROR", ")", 10_000)});
    let (code, error) = engine
        .post_raw("/v2/entries:list", &logging.to_string())
        .await;
    assert_eq!(code, 400, "{error:.300}");
    // JSON nested far deeper than any real body.
    let deep_json = deep("[", "1", "]", 100_000);
    let (code, error) = engine
        .post_raw(
            "/v1/projects/local/jobs",
            &format!(r#"{{"jobId": "x", "labels": {deep_json}}}"#),
        )
        .await;
    assert_eq!(code, 400, "{error:.300}");
    let (code, error) = engine
        .post_raw(
            &format!("{MODELS}/iris:predict"),
            &format!(r#"{{"instances": {deep_json}}}"#),
        )
        .await;
    assert_eq!(code, 400, "{error:.300}");

    // 32 MiB without a token: refused, drained, and the connection still carries the
    // next request.
    let big = vec![b'x'; 32 << 20];
    let mut stream = TcpStream::connect(&addr).unwrap();
    let head = format!(
        "POST {MODELS}/iris:predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        big.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(&big).unwrap();
    let (status, answer) = read_answer(&mut stream).expect("an answer to the big body");
    assert_eq!(status, 401, "{answer}");
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    assert_eq!(read_answer(&mut stream).map(|a| a.0), Some(200));
    // The health check needs no token: what is sent to it is read and dropped, not kept.
    let head = format!(
        "POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
        big.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(&big).unwrap();
    let (status, answer) = read_answer(&mut stream).expect("an answer to the big health POST");
    assert_eq!(status, 405, "{answer}");
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    assert_eq!(read_answer(&mut stream).map(|a| a.0), Some(200));
    // Past the limit without a token: refused and the connection closed.
    let huge = format!(
        "POST /v1/projects/local/jobs HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
        (32 << 20) + 4096
    );
    let mut stream = TcpStream::connect(&addr).unwrap();
    stream.write_all(huge.as_bytes()).unwrap();
    let _ = stream.write_all(&big);
    let _ = stream.write_all(&[b'x'; 8192]);
    let answer = read_answer(&mut stream);
    assert_eq!(answer.as_ref().map(|a| a.0), Some(401), "{answer:?}");

    // Predictions answer while all that goes on, and the idle connections are held.
    let (code, during) = predict(&engine).await;
    assert_eq!(code, 200, "{during}");
    assert_eq!(during, before);

    assert!(slow_headers.join().unwrap(), "the slowloris is closed");
    let slow = slow_body.join().unwrap();
    assert_eq!(slow.as_ref().map(|a| a.0), Some(408), "{slow:?}");
    // Idle connections are closed once the header timeout passes.
    let closed = idle
        .iter_mut()
        .take(5)
        .all(|s| closed_by_server(s, Duration::from_secs(5)));
    assert!(closed, "idle connections are closed by the server");
    drop(idle);

    let done = engine
        .wait_job(
            "steady",
            Duration::from_secs(60),
            is_state(JobState::Succeeded),
        )
        .await;
    assert_eq!(done.state, JobState::Succeeded);
    let printed: Vec<String> = engine
        .all_logs("steady")
        .await
        .into_iter()
        .filter(|e| e.stream == LogStream::Stdout)
        .map(|e| e.text)
        .collect();
    let expected: Vec<String> = (0..lines).map(|i| format!("line {i}")).collect();
    assert_eq!(printed, expected, "every line of the job, in order");
    let (code, after) = predict(&engine).await;
    assert_eq!((code, after), (200, before));
    let health = engine
        .http
        .get(engine.url("/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200, "the engine is alive");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_data_dir_is_private_and_loose_modes_are_tightened_at_start() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    let mut engine = TestEngine::start(&[]);
    let job = python_job("secret_env", "import os; print('ok')");
    engine.platform.submit_job(&job).await.unwrap();
    engine.wait_finished("secret_env").await;
    let data = engine.data_dir.clone();
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&data.join("jobs")), 0o700);
    assert_eq!(mode(&data.join("state.db")), 0o600);
    let job_dir = data.join("jobs/secret_env");
    assert_eq!(mode(&job_dir), 0o700);
    for file in [
        "stdout.log",
        "stderr.log",
        "log.idx",
        "engine.log",
        "exit.json",
    ] {
        assert_eq!(mode(&job_dir.join(file)), 0o600, "{file}");
    }

    engine.kill_engine();
    for path in [data.clone(), data.join("jobs")] {
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    std::fs::set_permissions(
        data.join("state.db"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    engine.restart();
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&data.join("jobs")), 0o700);
    assert_eq!(mode(&data.join("state.db")), 0o600);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreadable_row_is_skipped_and_the_engine_starts() {
    let mut engine = TestEngine::start(&[]);
    for id in ["kept", "damaged"] {
        let job = python_job(id, "print('done')");
        engine.platform.submit_job(&job).await.unwrap();
        engine.wait_finished(id).await;
    }
    engine.kill_engine();
    let db = rusqlite::Connection::open(engine.data_dir.join("state.db")).unwrap();
    db.execute(
        "UPDATE jobs SET body = '{\"jobId\": 7, truncated' WHERE job_id = 'damaged'",
        [],
    )
    .unwrap();
    drop(db);
    engine.restart();
    let (code, page) = engine.get("/v1/projects/local/jobs").await;
    assert_eq!(code, 200, "{page}");
    let ids: Vec<&str> = page["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|j| j["jobId"].as_str())
        .collect();
    assert_eq!(
        ids,
        ["kept"],
        "the readable job is served, the other skipped"
    );
    let (code, _) = engine.get("/v1/projects/local/jobs/kept").await;
    assert_eq!(code, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_flood_of_idle_and_slow_sockets_never_locks_clients_out() {
    let engine = TestEngine::start(&["--max-connections", "16"]);
    let addr = address(&engine);
    // Four times the bound: half idle, half stuck in the middle of their headers.
    let mut held: Vec<TcpStream> = (0..64)
        .map(|i| {
            let mut stream = TcpStream::connect(&addr).unwrap();
            if i % 2 == 0 {
                stream.write_all(b"GET /healthz HTTP/1.1\r\nHo").unwrap();
            }
            stream
        })
        .collect();
    let started = Instant::now();
    let (code, page) = engine.get("/v1/projects/local/jobs").await;
    assert_eq!(code, 200, "{page}");
    let r = engine
        .http
        .get(engine.url("/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "answered in {:?}",
        started.elapsed()
    );
    // The flood's oldest sockets were closed to make room.
    let closed = held
        .iter_mut()
        .take(16)
        .map(|s| closed_by_server(s, Duration::from_secs(2)))
        .filter(|closed| *closed)
        .count();
    assert_eq!(closed, 16, "the first sockets of the flood are closed");
}
