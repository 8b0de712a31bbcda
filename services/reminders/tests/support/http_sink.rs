//! A real HTTP/1.1 endpoint on 127.0.0.1 that records every request and answers from a
//! script: per path, a number of failures before it starts accepting.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// One request as received.
#[derive(Clone, Debug)]
pub struct Received {
    /// Path and query.
    pub target: String,
    /// Header names in lower case.
    pub headers: HashMap<String, String>,
    pub body: String,
}

impl Received {
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }
}

#[derive(Default)]
struct State {
    received: Vec<Received>,
    /// Failures (HTTP 500) still to give per path.
    failures_left: HashMap<String, u32>,
}

pub struct HttpSink {
    pub base_url: String,
    state: Arc<Mutex<State>>,
    task: tokio::task::JoinHandle<()>,
}

impl HttpSink {
    /// Starts the endpoint; `failures` says how many times each path answers 500 first.
    pub async fn start(failures: &[(&str, u32)]) -> HttpSink {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base_url = format!("http://{}", listener.local_addr().expect("addr"));
        let state = Arc::new(Mutex::new(State {
            received: Vec::new(),
            failures_left: failures
                .iter()
                .map(|(p, n)| ((*p).to_owned(), *n))
                .collect(),
        }));
        let shared = state.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    return;
                };
                tokio::spawn(serve(socket, shared.clone()));
            }
        });
        HttpSink {
            base_url,
            state,
            task,
        }
    }

    pub fn received(&self) -> Vec<Received> {
        self.state.lock().expect("sink state").received.clone()
    }

    pub fn calls_to(&self, path: &str) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| r.path() == path)
            .collect()
    }
}

impl Drop for HttpSink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(mut socket: tokio::net::TcpStream, state: Arc<Mutex<State>>) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        match socket.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let target = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .unwrap_or("")
        .to_owned();
    let headers: HashMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    while buf.len() < head_end + length {
        match socket.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let body = String::from_utf8_lossy(&buf[head_end..head_end + length]).into_owned();
    let fail = {
        let mut state = state.lock().expect("sink state");
        let path = target.split('?').next().unwrap_or("").to_owned();
        state.received.push(Received {
            target,
            headers,
            body,
        });
        match state.failures_left.get_mut(&path) {
            Some(n) if *n > 0 => {
                *n -= 1;
                true
            }
            _ => false,
        }
    };
    let (status, answer) = if fail {
        (
            "500 Internal Server Error",
            r#"{"errcode":-1,"errmsg":"busy"}"#,
        )
    } else {
        ("200 OK", r#"{"errcode":0,"errmsg":"ok"}"#)
    };
    let response = format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{answer}",
        answer.len()
    );
    let _ = socket.write_all(response.as_bytes()).await;
    let _ = socket.shutdown().await;
}
