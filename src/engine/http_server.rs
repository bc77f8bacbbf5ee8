//! The engine's connection loop: HTTP/1.1 on loopback with a bound on connections served
//! at once and time limits on each request, so that no client, slow or hostile, can hold
//! the engine (a slowloris sending a byte a second, hundreds of idle sockets).

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::response::Response;
use futures_util::StreamExt;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::sync::Semaphore;
use tower_service::Service;

use super::Engine;
use super::fast_predict::Api;

/// Limits that keep one client from holding the engine.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpLimits {
    /// Most connections served at once; more wait in the listen queue until one closes.
    pub max_connections: usize,
    /// Time a client has to send a request's headers; also the longest a kept-alive
    /// connection may idle between requests.
    pub header_timeout: Duration,
    /// Time a client has to send a request's body once its headers arrived.
    pub body_timeout: Duration,
}

impl Default for HttpLimits {
    /// 512 connections, 30 s for headers (and idling), 60 s for a body (32 MiB on
    /// loopback takes milliseconds).
    fn default() -> HttpLimits {
        HttpLimits {
            max_connections: 512,
            header_timeout: Duration::from_secs(30),
            body_timeout: Duration::from_secs(60),
        }
    }
}

/// Serves `api` on `listener` until the process ends.
pub async fn serve(
    engine: &Arc<Engine>,
    api: Api,
    listener: tokio::net::TcpListener,
) -> std::io::Result<()> {
    let limits = engine.config().http.clone();
    raise_open_file_limit(limits.max_connections);
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    loop {
        // Taken before accepting: past the bound, connections wait in the kernel's queue.
        let Ok(permit) = permits.clone().acquire_owned().await else {
            return Ok(());
        };
        let tcp = match listener.accept().await {
            Ok((tcp, _)) => tcp,
            Err(e) => {
                // Out of file descriptors or a connection reset before it was taken:
                // neither ends the engine.
                tracing::warn!("accepting a connection failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        // Small requests and answers: without NODELAY, Nagle and delayed ACKs add 40 ms.
        let _ = tcp.set_nodelay(true);
        let api = api.clone();
        let header_timeout = limits.header_timeout;
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request: Request<_>| {
                let mut api = api.clone();
                async move { api.call(request.map(Body::new)).await }
            });
            let served = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout)
                .serve_connection(TokioIo::new(tcp), service)
                .await;
            if let Err(e) = served {
                tracing::debug!("a connection ended with an error: {e}");
            }
            drop(permit);
        });
    }
}

/// Lets the process hold its connections plus its own files (the default soft limit
/// is often 1024 while the hard one is far higher).
fn raise_open_file_limit(connections: usize) {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) else {
        return;
    };
    let wanted = (connections as u64).saturating_add(256).min(hard);
    if wanted > soft {
        let _ = setrlimit(Resource::RLIMIT_NOFILE, wanted, hard);
    }
}

/// Why a request body could not be read.
pub enum BodyError {
    /// The client took longer than the body timeout to send it.
    TooSlow(Duration),
    /// Larger than the limit, or the connection failed while reading.
    Unreadable(String),
}

/// Reads a body of at most `max` bytes within `timeout`.
pub async fn read_body(body: Body, max: usize, timeout: Duration) -> Result<Bytes, BodyError> {
    match tokio::time::timeout(timeout, axum::body::to_bytes(body, max)).await {
        Err(_) => Err(BodyError::TooSlow(timeout)),
        Ok(read) => read.map_err(|e| BodyError::Unreadable(e.to_string())),
    }
}

/// Reads and throws away a refused request's body, so that a kept-alive connection can
/// carry the client's next request; false when the body was larger than `max` or too
/// slow (the connection is then to be closed).
pub async fn drain_body(body: Body, max: usize, timeout: Duration) -> bool {
    let drain = async {
        let mut stream = body.into_data_stream();
        let mut seen = 0usize;
        while let Some(chunk) = stream.next().await {
            match chunk {
                Ok(chunk) => {
                    seen = seen.saturating_add(chunk.len());
                    if seen > max {
                        return false;
                    }
                }
                Err(_) => return false,
            }
        }
        true
    };
    tokio::time::timeout(timeout, drain).await.unwrap_or(false)
}

/// Marks an answer as the last on its connection.
pub fn closing(mut answer: Response) -> Response {
    answer.headers_mut().insert(
        axum::http::header::CONNECTION,
        axum::http::HeaderValue::from_static("close"),
    );
    answer
}
