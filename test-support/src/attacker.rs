//! An attacker's server: a listener on a loopback address the outbound policy does not allow,
//! which records every request that reaches it. Attack tests send their attack, then assert that
//! it recorded nothing.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// What reached the attacker: the first bytes of each connection (request line, headers, body).
#[derive(Clone)]
pub struct Attacker {
    /// Where it listens, as `ip:port`.
    pub address: SocketAddr,
    received: Arc<Mutex<Vec<String>>>,
}

impl Attacker {
    /// Listens on `127.0.0.2` (any loopback address but the fixtures' `127.0.0.1`), or on
    /// `127.0.0.1` when `fixture_address` is true (for names that resolve to it).
    pub async fn start(fixture_address: bool) -> Attacker {
        let ip = if fixture_address { "127.0.0.1" } else { "127.0.0.2" };
        let listener = TcpListener::bind((ip, 0)).await.expect("bind the attacker's loopback listener");
        let address = listener.local_addr().expect("address");
        let received = Arc::new(Mutex::new(Vec::new()));
        let log = received.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let log = log.clone();
                tokio::spawn(async move {
                    let mut buffer = vec![0u8; 16 * 1024];
                    let read = tokio::time::timeout(std::time::Duration::from_secs(2), stream.read(&mut buffer)).await.ok().and_then(Result::ok).unwrap_or(0);
                    log.lock().expect("not poisoned").push(String::from_utf8_lossy(&buffer[..read]).into_owned());
                    let _ = stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}").await;
                });
            }
        });
        Attacker { address, received }
    }

    /// `host:port` to put in a URL.
    pub fn host(&self) -> String {
        self.address.to_string()
    }

    /// Everything it received so far.
    pub fn received(&self) -> Vec<String> {
        self.received.lock().expect("not poisoned").clone()
    }

    /// Asserts that nothing at all reached it.
    pub fn assert_untouched(&self, attack: &str) {
        let received = self.received();
        assert!(received.is_empty(), "{attack}: the attacker received {} request(s): {:?}", received.len(), received);
    }
}
