//! The baseline for warm throughput: a plain hyper HTTP/1.1 server answering a fixed JSON body of
//! about the size of an issued token, on the same runtime as the local server.
//!
//!   hello-hyper 127.0.0.1:PORT

use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;

const BODY: &str = r#"{"access_token":"hello-world-token-of-a-plausible-length-0123456789","token_type":"bearer","expires_at":null,"scopes":[],"connection_id":"conn_0123456789abcdef","installation_id":null,"connector":{"uid":"keys/acme","provider":"custom"},"metadata":{}}"#;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let address = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:0".into());
    let listener = tokio::net::TcpListener::bind(&address).await?;
    println!("{}", serde_json::json!({"listening": format!("http://{}", listener.local_addr()?)}));
    loop {
        let (stream, _) = listener.accept().await?;
        tokio::spawn(async move {
            let service = service_fn(|_request| async {
                let response = hyper::Response::builder()
                    .header("content-type", "application/json")
                    .body(Full::new(Bytes::from_static(BODY.as_bytes())))
                    .expect("a static response");
                Ok::<_, Infallible>(response)
            });
            let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
        });
    }
}
