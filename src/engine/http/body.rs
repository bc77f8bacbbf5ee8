//! Reading and refusing request bodies within a size and a time limit.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::response::Response;
use futures_util::StreamExt;

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
