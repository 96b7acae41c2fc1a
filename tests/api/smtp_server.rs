//! A scriptable SMTP server on 127.0.0.1:0, standing in for a smarthost or an MX host that
//! answers as a test needs (temporary and permanent refusals) and records what arrives.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// One transaction as received.
#[derive(Debug, Clone, Default)]
pub struct Transaction {
    /// `MAIL FROM` address.
    pub from: String,
    /// Accepted `RCPT TO` addresses.
    pub to: Vec<String>,
    /// The data, dot-stuffing undone, without the final `.` line.
    pub data: Vec<u8>,
}

#[derive(Default)]
struct Shared {
    received: Mutex<Vec<Transaction>>,
    /// Replies for the next RCPT commands, in order; `250` once empty.
    rcpt_replies: Mutex<VecDeque<&'static str>>,
    /// Replies to the next end-of-data, in order; `250` once empty.
    data_replies: Mutex<VecDeque<&'static str>>,
}

/// The server.
pub struct ScriptedSmtp {
    /// Its port on 127.0.0.1.
    pub port: u16,
    shared: Arc<Shared>,
}

impl ScriptedSmtp {
    /// Starts it; it accepts connections until the test ends.
    pub async fn start() -> Self {
        Self::start_on(0).await
    }

    /// Starts it on a given port (0: any).
    pub async fn start_on(port: u16) -> Self {
        let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let shared = Arc::new(Shared::default());
        let s = shared.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(session(stream, s.clone()));
            }
        });
        Self { port, shared }
    }

    /// The next RCPT replies (e.g. `"451 4.3.0 try later"`).
    pub fn rcpt_replies(&self, replies: impl IntoIterator<Item = &'static str>) {
        self.shared.rcpt_replies.lock().unwrap().extend(replies);
    }

    /// Transactions completed with 250.
    pub fn received(&self) -> Vec<Transaction> {
        self.shared.received.lock().unwrap().clone()
    }

    /// Waits (up to 10 s) for `n` transactions.
    pub async fn wait_for(&self, n: usize) -> Vec<Transaction> {
        crate::helpers::eventually(&format!("{n} SMTP transactions"), || async {
            let got = self.received();
            (got.len() >= n).then_some(got)
        })
        .await
    }
}

async fn session(stream: tokio::net::TcpStream, shared: Arc<Shared>) {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    let _ = write.write_all(b"220 scripted.test ESMTP\r\n").await;
    let mut tx = Transaction::default();
    loop {
        let mut line = String::new();
        if lines.read_line(&mut line).await.unwrap_or(0) == 0 {
            return;
        }
        let upper = line.to_ascii_uppercase();
        let reply: String = if upper.starts_with("EHLO") {
            "250-scripted.test\r\n250-PIPELINING\r\n250 8BITMIME\r\n".to_owned()
        } else if upper.starts_with("HELO") {
            "250 scripted.test\r\n".to_owned()
        } else if upper.starts_with("MAIL FROM:") {
            tx = Transaction {
                from: address(&line),
                ..Transaction::default()
            };
            "250 2.1.0 ok\r\n".to_owned()
        } else if upper.starts_with("RCPT TO:") {
            let reply = shared
                .rcpt_replies
                .lock()
                .unwrap()
                .pop_front()
                .unwrap_or("250 2.1.5 ok");
            if reply.starts_with('2') {
                tx.to.push(address(&line));
            }
            format!("{reply}\r\n")
        } else if upper.starts_with("DATA") {
            let _ = write.write_all(b"354 go ahead\r\n").await;
            let mut data = Vec::new();
            loop {
                let mut l = Vec::new();
                if lines.read_until(b'\n', &mut l).await.unwrap_or(0) == 0 {
                    return;
                }
                if l == b".\r\n" {
                    break;
                }
                let l = if l.starts_with(b"..") {
                    &l[1..]
                } else {
                    &l[..]
                };
                data.extend_from_slice(l);
            }
            tx.data = data;
            let reply = shared
                .data_replies
                .lock()
                .unwrap()
                .pop_front()
                .unwrap_or("250 2.0.0 queued");
            if reply.starts_with('2') {
                shared
                    .received
                    .lock()
                    .unwrap()
                    .push(std::mem::take(&mut tx));
            }
            format!("{reply}\r\n")
        } else if upper.starts_with("RSET") || upper.starts_with("NOOP") {
            "250 2.0.0 ok\r\n".to_owned()
        } else if upper.starts_with("QUIT") {
            let _ = write.write_all(b"221 2.0.0 bye\r\n").await;
            return;
        } else {
            "502 5.5.1 not implemented\r\n".to_owned()
        };
        if write.write_all(reply.as_bytes()).await.is_err() {
            return;
        }
    }
}

fn address(line: &str) -> String {
    line.split_once('<')
        .and_then(|(_, rest)| rest.split_once('>'))
        .map(|(a, _)| a.to_owned())
        .unwrap_or_default()
}
