//! A small SMTP client over real TCP, for driving the listener exactly as a peer would.

use std::net::SocketAddr;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};

/// A connection; generic so that it can continue over TLS.
pub struct SmtpClient<S> {
    stream: BufReader<S>,
}

/// Bare LF to CRLF (the corpus keeps upstream line endings; SMTP needs CRLF).
pub fn crlf(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + data.len() / 40);
    let mut prev = 0u8;
    for &b in data {
        if b == b'\n' && prev != b'\r' {
            out.push(b'\r');
        }
        out.push(b);
        prev = b;
    }
    out
}

/// Dot-stuffing (RFC 5321 §4.5.2) and the terminating `.` line.
pub fn dot_stuffed(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 16);
    let mut line_start = true;
    for (i, &b) in data.iter().enumerate() {
        if line_start && b == b'.' {
            out.push(b'.');
        }
        out.push(b);
        line_start = b == b'\n' && i > 0 && data[i - 1] == b'\r';
    }
    if !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    out
}

impl SmtpClient<tokio::net::TcpStream> {
    /// Connects and reads the greeting.
    pub async fn connect(addr: SocketAddr) -> Self {
        let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let mut client = Self {
            stream: BufReader::new(stream),
        };
        let (code, text) = client.reply().await;
        assert_eq!(code, 220, "greeting: {text}");
        client
    }
}

/// A TCP connection to `addr` from the loopback address `source` (127.0.0.0/8 is all
/// loopback, so tests can play several client hosts).
pub async fn connect_from(addr: SocketAddr, source: [u8; 4]) -> tokio::net::TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::from((source, 0))).unwrap();
    socket.connect(addr).await.unwrap()
}

impl<S: AsyncRead + AsyncWrite + Unpin> SmtpClient<S> {
    /// Continues over another stream (after STARTTLS).
    pub fn over(stream: S) -> Self {
        Self {
            stream: BufReader::new(stream),
        }
    }

    /// The stream, for the TLS handshake.
    pub fn into_inner(self) -> S {
        self.stream.into_inner()
    }

    /// Sends raw bytes.
    pub async fn send(&mut self, bytes: &[u8]) {
        self.stream.get_mut().write_all(bytes).await.unwrap();
        self.stream.get_mut().flush().await.unwrap();
    }

    /// Sends raw bytes; `false` once the server has closed the connection.
    pub async fn try_send(&mut self, bytes: &[u8]) -> bool {
        self.stream.get_mut().write_all(bytes).await.is_ok()
    }

    /// Reads one reply, all its lines; returns the code and the text (lines joined by `\n`).
    /// A closed connection is code 0.
    pub async fn reply(&mut self) -> (u16, String) {
        let mut text = Vec::new();
        loop {
            let mut line = String::new();
            let n = self.stream.read_line(&mut line).await.unwrap_or(0);
            if n == 0 {
                return (0, text.join("\n"));
            }
            let code: u16 = line.get(..3).and_then(|c| c.parse().ok()).unwrap_or(0);
            let more = line.as_bytes().get(3) == Some(&b'-');
            text.push(line.get(4..).unwrap_or("").trim_end().to_owned());
            if !more {
                return (code, text.join("\n"));
            }
        }
    }

    /// Sends a command line and checks the reply code; returns the text.
    pub async fn cmd(&mut self, line: &str, code: u16) -> String {
        self.send(format!("{line}\r\n").as_bytes()).await;
        let (got, text) = self.reply().await;
        assert_eq!(got, code, "{line} -> {got} {text}");
        text
    }

    /// One whole transaction; returns the final reply to the data.
    pub async fn deliver(&mut self, from: &str, to: &[&str], data: &[u8]) -> (u16, String) {
        self.cmd(&format!("MAIL FROM:<{from}>"), 250).await;
        for rcpt in to {
            self.cmd(&format!("RCPT TO:<{rcpt}>"), 250).await;
        }
        self.cmd("DATA", 354).await;
        self.send(&dot_stuffed(data)).await;
        self.reply().await
    }
}

/// Sends one message in a fresh session: EHLO, the transaction, QUIT.
pub async fn send_mail(addr: SocketAddr, from: &str, to: &[&str], data: &[u8]) -> (u16, String) {
    let mut client = SmtpClient::connect(addr).await;
    client.cmd("EHLO test.example", 250).await;
    let result = client.deliver(from, to, data).await;
    client.cmd("QUIT", 221).await;
    result
}
