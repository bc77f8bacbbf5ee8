//! The ceiling for the predict benchmark: an axum server that parses the same
//! `{"instances": [...]}` JSON and answers at once, without a model.
//!
//!     cargo bench --bench bare_axum -- PORT

use axum::Router;
use axum::body::Bytes;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::post;
use axum::serve::ListenerExt;

async fn predict(body: Bytes) -> impl IntoResponse {
    match serde_json::from_slice::<serde_json::Value>(&body) {
        Ok(v) if v.get("instances").is_some_and(serde_json::Value::is_array) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            "{\"predictions\":[0]}",
        ),
        _ => (
            StatusCode::BAD_REQUEST,
            [(header::CONTENT_TYPE, "application/json")],
            "{\"error\":{}}",
        ),
    }
}

fn main() -> std::io::Result<()> {
    let port: u16 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(8472);
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await?
            .tap_io(|tcp| {
                let _ = tcp.set_nodelay(true);
            });
        println!("listening on http://127.0.0.1:{port}");
        let app = Router::new().route("/v1/projects/local/models/{model}", post(predict));
        axum::serve(listener, app).await
    })
}
