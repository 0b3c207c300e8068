//! The local server: every handler of the route table on one loopback port, over the embedded
//! store and the local key. Requests are turned into the same `http::Request<lambda_http::Body>`
//! the Lambda runtime hands the functions, so a handler cannot tell the two apart.

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use lambda_http::Body;
use tokio::net::TcpListener;

use super::{handle, ApiError, Response};
use crate::state::AppState;

/// Requests larger than this are refused, as API Gateway would.
const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Serves every route on `listener` until the task is dropped or the process ends.
pub async fn serve(state: AppState, listener: TcpListener) -> std::io::Result<()> {
    loop {
        let (stream, peer) = listener.accept().await?;
        let state = state.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let state = state.clone();
                async move { Ok::<_, Infallible>(answer(&state, request, peer).await) }
            });
            if let Err(error) = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await {
                tracing::debug!(%error, "connection ended with an error");
            }
        });
    }
}

async fn answer(state: &AppState, request: hyper::Request<Incoming>, _peer: SocketAddr) -> hyper::Response<Full<Bytes>> {
    let (parts, body) = request.into_parts();
    let response = match Limited::new(body, MAX_BODY_BYTES).collect().await {
        Ok(collected) => {
            let bytes = collected.to_bytes();
            let body = if bytes.is_empty() {
                Body::Empty
            } else {
                match String::from_utf8(bytes.to_vec()) {
                    Ok(text) => Body::Text(text),
                    Err(e) => Body::Binary(e.into_bytes()),
                }
            };
            handle(state, http::Request::from_parts(parts, body)).await
        }
        Err(_) => ApiError::InvalidRequest(format!("the request body is larger than {MAX_BODY_BYTES} bytes")).into_response(),
    };
    into_hyper(response)
}

fn into_hyper(response: Response) -> hyper::Response<Full<Bytes>> {
    let (parts, body) = response.into_parts();
    let bytes = match body {
        Body::Empty => Bytes::new(),
        Body::Text(text) => Bytes::from(text),
        Body::Binary(binary) => Bytes::from(binary),
        _ => Bytes::new(),
    };
    hyper::Response::from_parts(parts, Full::new(bytes))
}
