//! The engine's connection loop: HTTP/1.1 on loopback with a bound on connections served
//! at once and time limits on each request, so that no client, slow or hostile, can hold
//! the engine (a slowloris sending a byte a second, hundreds of idle sockets).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::sync::Semaphore;
use tower_service::Service;

use super::front::Api;
use crate::engine::Engine;

/// Limits that keep one client from holding the engine.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpLimits {
    /// Most connections served at once; past it the one idle the longest is closed to
    /// make room, or, when all are busy, new ones wait in the listen queue.
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

/// Serves `api` on `listener` until the process ends. At the bound on connections, a new
/// one makes room by closing the connection idle the longest (a kept-alive socket or a
/// client that never finished its headers), so that hundreds of idle or slow sockets
/// never lock the console out; when every connection is busy, it waits for one to end.
pub async fn serve(
    engine: &Arc<Engine>,
    api: Api,
    listener: tokio::net::TcpListener,
) -> std::io::Result<()> {
    let limits = engine.config().http.clone();
    raise_open_file_limit(limits.max_connections);
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let open = Arc::new(OpenConnections::default());
    loop {
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
        let permit = match permits.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                open.close_idlest();
                let Ok(permit) = permits.clone().acquire_owned().await else {
                    return Ok(());
                };
                permit
            }
        };
        // Small requests and answers: without NODELAY, Nagle and delayed ACKs add 40 ms.
        let _ = tcp.set_nodelay(true);
        let (id, activity) = open.add();
        let registered = Registered {
            open: open.clone(),
            id,
            _permit: permit,
        };
        let api = api.clone();
        let header_timeout = limits.header_timeout;
        let task = tokio::spawn(async move {
            // Dropped when the connection ends or is closed to make room.
            let _registered = registered;
            let service = hyper::service::service_fn(move |request: Request<_>| {
                let mut api = api.clone();
                let activity = activity.clone();
                async move {
                    activity.begin();
                    let answer = api.call(request.map(Body::new)).await;
                    activity.end();
                    answer
                }
            });
            let served = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout)
                .serve_connection(TokioIo::new(tcp), service)
                .await;
            if let Err(e) = served {
                tracing::debug!("a connection ended with an error: {e}");
            }
        });
        open.set_abort(id, task.abort_handle());
    }
}

/// One open connection, as the bound on connections sees it.
#[derive(Default)]
struct Activity {
    /// Requests being answered.
    busy: AtomicUsize,
    /// When it last began or ended a request (or opened), in ms since the engine started.
    last_active_ms: AtomicU64,
}

impl Activity {
    fn begin(&self) {
        self.busy.fetch_add(1, Ordering::Relaxed);
        self.touch();
    }

    fn end(&self) {
        self.busy.fetch_sub(1, Ordering::Relaxed);
        self.touch();
    }

    fn touch(&self) {
        self.last_active_ms.store(now_ms(), Ordering::Relaxed);
    }
}

/// Milliseconds on a clock that starts with the engine.
fn now_ms() -> u64 {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    let start = START.get_or_init(std::time::Instant::now);
    u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// An open connection's place in [`OpenConnections`] and its permit, given up together
/// when its task ends or is aborted.
struct Registered {
    open: Arc<OpenConnections>,
    id: u64,
    _permit: tokio::sync::OwnedSemaphorePermit,
}

impl Drop for Registered {
    fn drop(&mut self) {
        lock(&self.open.all).remove(&self.id);
    }
}

/// The connections open now: how active each is, and how to close it.
#[derive(Default)]
struct OpenConnections {
    next: AtomicU64,
    all: Mutex<HashMap<u64, OpenConnection>>,
}

/// How active one open connection is, and how to close it once its task is known.
type OpenConnection = (Arc<Activity>, Option<tokio::task::AbortHandle>);

impl OpenConnections {
    fn add(&self) -> (u64, Arc<Activity>) {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let activity = Arc::new(Activity::default());
        activity.touch();
        lock(&self.all).insert(id, (activity.clone(), None));
        (id, activity)
    }

    /// Records how to close connection `id` (if it has not ended already).
    fn set_abort(&self, id: u64, abort: tokio::task::AbortHandle) {
        if let Some(entry) = lock(&self.all).get_mut(&id) {
            entry.1 = Some(abort);
        }
    }

    /// Closes the idle connection that has been quiet the longest (dropping its task
    /// closes the socket and gives back its permit).
    fn close_idlest(&self) {
        let all = lock(&self.all);
        let idlest = all
            .values()
            .filter(|(activity, abort)| {
                abort.is_some() && activity.busy.load(Ordering::Relaxed) == 0
            })
            .min_by_key(|(activity, _)| activity.last_active_ms.load(Ordering::Relaxed));
        if let Some((_, Some(abort))) = idlest {
            abort.abort();
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
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
