//! A TCP relay standing in for a domain controller that goes away: `stop` closes every
//! relayed connection and the listener, so the port refuses from then on; `freeze` keeps
//! every connection open but relays nothing more (a DC that stopped answering).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

pub struct Proxy {
    pub port: u16,
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
    accept: JoinHandle<()>,
    frozen: Arc<AtomicBool>,
}

/// Copies one direction, holding every byte read once frozen.
async fn relay(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    frozen: Arc<AtomicBool>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        while frozen.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

impl Proxy {
    /// Relays 127.0.0.1:<port> to `target` (host:port).
    pub async fn start(target: &str) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let tasks: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let frozen: Arc<AtomicBool> = Arc::default();
        let target = target.to_string();
        let (relays, flag) = (tasks.clone(), frozen.clone());
        let accept = tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                let Ok(outbound) = TcpStream::connect(&target).await else {
                    continue;
                };
                let (in_read, in_write) = inbound.into_split();
                let (out_read, out_write) = outbound.into_split();
                let mut list = relays.lock().unwrap();
                list.push(tokio::spawn(relay(in_read, out_write, flag.clone())));
                list.push(tokio::spawn(relay(out_read, in_write, flag.clone())));
            }
        });
        Proxy {
            port,
            tasks,
            accept,
            frozen,
        }
    }

    /// Stops relaying, keeping every connection open.
    pub fn freeze(&self) {
        self.frozen.store(true, Ordering::SeqCst);
    }

    /// Closes the listener and every relayed connection.
    pub async fn stop(&self) {
        self.accept.abort();
        for t in self.tasks.lock().unwrap().drain(..) {
            t.abort();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
