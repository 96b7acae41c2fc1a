//! One SMTP session (RFC 5321, with PIPELINING, 8BITMIME, SMTPUTF8, SIZE, ENHANCEDSTATUSCODES
//! and STARTTLS), generic over the stream so that tests can drive it over an in-memory pipe.
//! The server only receives mail for its own inboxes: it is never a relay.

use std::future::Future;
use std::net::IpAddr;
use std::time::Duration;

use tokio::time::Instant;

use smtp_proto::{MAIL_BODY_BINARYMIME, Request};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::watch;

use super::data::DataReceiver;
use super::replies as r;
use crate::budget::{MESSAGE_PEAK_FACTOR, MemoryBudget};
use crate::mail::MailError;
use crate::mail::ingest::{Delivery, Envelope, Origin, Recipient};
use crate::metrics::Metrics;
use crate::net::rate_deadline;
use crate::store::Failure;

/// What `RCPT TO` finds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// An inbox that takes mail from this sender (as far as the envelope tells).
    Found(Recipient),
    /// No inbox here receives mail for the address.
    Unknown,
    /// The inbox's (or its account's) block list names the envelope sender.
    Blocked,
}

/// What a session needs from the rest of the server.
pub trait Backend: Send + Sync + 'static {
    /// The inbox that receives mail for `address` (lower case), if any, and whether its block
    /// lists refuse the envelope sender `mail_from` (empty for the null sender).
    fn recipient(
        &self,
        address: &str,
        mail_from: &str,
    ) -> impl Future<Output = Result<Lookup, Failure>> + Send;

    /// Stores a message; returns once it is committed.
    fn deliver(
        &self,
        envelope: Envelope,
        raw: Vec<u8>,
    ) -> impl Future<Output = Result<Delivery, MailError>> + Send;
}

/// Session settings.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// Our name.
    pub hostname: String,
    /// Largest message.
    pub max_message_size: usize,
    /// Recipients per transaction.
    pub max_recipients: usize,
    /// Longest command line, CRLF included.
    pub max_command_line: usize,
    /// The longest wait for a whole command line, from the moment the server is ready for it
    /// (trickling bytes does not extend it).
    pub idle_timeout: Duration,
    /// The longest the whole DATA phase may take.
    pub data_timeout: Duration,
    /// Bytes per second DATA must average after its first [`data_grace`] (0: no floor).
    pub min_data_rate: u64,
    /// Whether STARTTLS can be offered (a certificate is configured).
    pub starttls: bool,
    /// Bytes all sessions (and uploads) may hold in memory at once.
    pub memory: MemoryBudget,
    /// Where sessions, stored messages and refusals are counted.
    pub metrics: Metrics,
}

/// How a session ended.
#[derive(Debug)]
pub enum Ending<S> {
    /// The connection is finished.
    Closed,
    /// The client asked for TLS: here is the stream, to be wrapped and served again.
    StartTls(S),
}

/// Commands a client may get wrong before it is shown the door.
const MAX_ERRORS: u32 = 20;
/// The longest a session may last, however busy: with the per-IP and total session caps, a
/// client trickling NOOPs cannot keep slots forever.
const MAX_SESSION: Duration = Duration::from_secs(3600);

/// How long DATA may take before the data rate floor applies: the shorter of 30 s and the
/// idle timeout. After it, DATA must keep up `min_data_rate` on average (as Postfix's
/// `smtpd_min_data_rate` does), so a client trickling a byte now and then loses its session
/// in seconds instead of holding it for the whole DATA timeout.
fn data_grace(config: &SessionConfig) -> Duration {
    config.idle_timeout.min(Duration::from_secs(30))
}

/// The transaction being built.
#[derive(Debug, Default)]
struct Transaction {
    mail_from: Option<String>,
    recipients: Vec<Recipient>,
}

/// A session.
pub struct Session<'a, S, B> {
    stream: S,
    backend: &'a B,
    config: &'a SessionConfig,
    peer: Option<IpAddr>,
    tls: bool,
    shutdown: watch::Receiver<bool>,
    input: Vec<u8>,
    output: Vec<u8>,
    helo: Option<(String, bool)>,
    tx: Transaction,
    errors: u32,
    discarding: bool,
}

enum Next {
    Continue,
    Data,
    Quit,
    StartTls,
}

impl<'a, S, B> Session<'a, S, B>
where
    S: AsyncRead + AsyncWrite + Unpin,
    B: Backend,
{
    /// A session over `stream` (already TLS if `tls`).
    pub fn new(
        stream: S,
        backend: &'a B,
        config: &'a SessionConfig,
        peer: Option<IpAddr>,
        tls: bool,
        shutdown: watch::Receiver<bool>,
    ) -> Self {
        Self {
            stream,
            backend,
            config,
            peer,
            tls,
            shutdown,
            input: Vec::new(),
            output: Vec::new(),
            helo: None,
            tx: Transaction::default(),
            errors: 0,
            discarding: false,
        }
    }

    /// Greets (unless this is the same session after STARTTLS) and serves until the client
    /// quits, times out or misbehaves, or the server shuts down.
    pub async fn run(mut self) -> std::io::Result<Ending<S>> {
        if !self.tls {
            self.reply(
                220,
                "",
                &format!("{} ESMTP AgentSend ready", self.config.hostname),
            );
        }
        let ends_at = Instant::now() + MAX_SESSION;
        // Each command must arrive whole within the idle timeout of the server being ready
        // for it: a byte now and then does not keep a session.
        let mut command_due = Instant::now() + self.config.idle_timeout;
        loop {
            // Answer every complete command already received (PIPELINING), then flush.
            while let Some(line) = self.take_line() {
                command_due = Instant::now() + self.config.idle_timeout;
                let next = match line {
                    Ok(line) => self.command(&line).await,
                    Err(()) => {
                        self.error(500, r::LINE_TOO_LONG);
                        Next::Continue
                    }
                };
                match next {
                    Next::Continue => {}
                    Next::Quit => {
                        self.flush().await?;
                        // FIN, or TLS close_notify first.
                        let _ = self.stream.shutdown().await;
                        return Ok(Ending::Closed);
                    }
                    Next::StartTls => {
                        self.flush().await?;
                        return Ok(Ending::StartTls(self.stream));
                    }
                    Next::Data => {
                        self.flush().await?;
                        if !self.data().await? {
                            return Ok(Ending::Closed);
                        }
                        command_due = Instant::now() + self.config.idle_timeout;
                    }
                }
                if self.errors >= MAX_ERRORS {
                    self.reply(421, "4.7.0", r::TOO_MANY_ERRORS);
                    self.flush().await?;
                    return Ok(Ending::Closed);
                }
            }
            if Instant::now() >= ends_at {
                self.reply(421, "4.4.2", r::SESSION_TOO_LONG);
                self.flush().await?;
                return Ok(Ending::Closed);
            }
            self.flush().await?;
            if !self.read_more(command_due, r::TIMEOUT).await? {
                return Ok(Ending::Closed);
            }
        }
    }

    /// Reads into the input buffer, waiting until `due` at most. `false` when the session must
    /// end (EOF, timeout, shutdown; the last two are told to the client, a timeout with
    /// `why`).
    async fn read_more(&mut self, due: Instant, why: &str) -> std::io::Result<bool> {
        // Straight into the input buffer's spare capacity (no zeroed scratch buffer).
        self.input.reserve(16 * 1024);
        let read = tokio::select! {
            r = tokio::time::timeout_at(due, self.stream.read_buf(&mut self.input)) => r,
            _ = self.shutdown.changed() => {
                self.reply(421, "4.3.2", r::SHUTTING_DOWN);
                self.flush().await?;
                return Ok(false);
            }
        };
        match read {
            Err(_) => {
                self.reply(421, "4.4.2", why);
                self.flush().await?;
                Ok(false)
            }
            Ok(Ok(0)) => Ok(false),
            Ok(Ok(_)) => Ok(true),
            Ok(Err(e)) => Err(e),
        }
    }

    /// The next complete line, or `Err` for one longer than the limit (dropped). A line that
    /// grows past the limit before its end arrives is dropped as it comes, so the buffer never
    /// holds more than the limit.
    fn take_line(&mut self) -> Option<Result<Vec<u8>, ()>> {
        match memchr::memchr(b'\n', &self.input) {
            Some(pos) => {
                let line: Vec<u8> = self.input.drain(..=pos).collect();
                if std::mem::take(&mut self.discarding) || line.len() > self.config.max_command_line
                {
                    Some(Err(()))
                } else {
                    Some(Ok(line))
                }
            }
            None => {
                if self.input.len() > self.config.max_command_line {
                    self.discarding = true;
                    self.input.clear();
                }
                None
            }
        }
    }

    fn reply(&mut self, code: u16, enhanced: &str, text: &str) {
        if code >= 400 {
            self.config.metrics.smtp_rejection(code, enhanced);
        }
        let line = if enhanced.is_empty() {
            format!("{code} {text}\r\n")
        } else {
            format!("{code} {enhanced} {text}\r\n")
        };
        self.output.extend_from_slice(line.as_bytes());
    }

    fn error(&mut self, code: u16, (enhanced, text): (&str, &str)) {
        self.errors += 1;
        self.reply(code, enhanced, text);
    }

    /// Sends the pending replies. A client that does not read them (its buffers full) gets the
    /// idle timeout, then the connection is dropped: it cannot hold a session slot forever.
    async fn flush(&mut self) -> std::io::Result<()> {
        if !self.output.is_empty() {
            let write = async {
                self.stream.write_all(&self.output).await?;
                self.stream.flush().await
            };
            tokio::time::timeout(self.config.idle_timeout, write)
                .await
                .map_err(|_| {
                    std::io::Error::new(std::io::ErrorKind::TimedOut, "client not reading")
                })??;
            self.output.clear();
        }
        Ok(())
    }

    async fn command(&mut self, line: &[u8]) -> Next {
        let request = Request::parse(&mut line.iter());
        // smtp-proto wraps a SIZE too large for a usize around to a small number (and refuses
        // some as malformed): the value is read again here, where too large stays too large.
        let oversized = declared_size(line).is_some_and(|n| n > self.config.max_message_size);
        match request {
            Ok(Request::Ehlo { host }) => {
                self.tx = Transaction::default();
                self.helo = Some((host.to_string(), true));
                self.ehlo(&host);
            }
            Ok(Request::Helo { host }) => {
                self.tx = Transaction::default();
                self.helo = Some((host.to_string(), false));
                let text = format!("{} Hello {host}", self.config.hostname);
                self.reply(250, "", &text);
            }
            Ok(Request::Mail { from }) => self.mail(&from.address, oversized, from.flags),
            Err(smtp_proto::Error::InvalidParameter { param: "SIZE" }) if oversized => {
                self.reply(552, "5.3.4", r::TOO_BIG);
            }
            Ok(Request::Rcpt { to }) => self.rcpt(&to.address).await,
            Ok(Request::Data) => {
                if self.tx.mail_from.is_none() {
                    self.error(503, r::NEED_MAIL);
                } else if self.tx.recipients.is_empty() {
                    self.error(554, r::NO_RECIPIENTS);
                } else {
                    self.reply(354, "", "End data with <CR><LF>.<CR><LF>");
                    return Next::Data;
                }
            }
            Ok(Request::Rset) => {
                self.tx = Transaction::default();
                self.reply(250, "2.0.0", "Reset");
            }
            Ok(Request::Noop { .. }) => self.reply(250, "2.0.0", "OK"),
            Ok(Request::Quit) => {
                self.reply(221, "2.0.0", "Bye");
                return Next::Quit;
            }
            Ok(Request::Vrfy { .. }) => self.reply(
                252,
                "2.5.0",
                "Cannot verify addresses; send the mail and see",
            ),
            Ok(Request::Help { .. }) => self.reply(214, "2.0.0", "See RFC 5321"),
            Ok(Request::StartTls) => {
                if !self.config.starttls {
                    self.error(502, r::NO_STARTTLS);
                } else if self.tls {
                    self.error(503, r::ALREADY_TLS);
                } else {
                    self.reply(220, "2.0.0", "Ready to start TLS");
                    // Nothing sent before the handshake may count afterwards (RFC 3207 §4.2,
                    // the STARTTLS command injection attacks).
                    self.input.clear();
                    return Next::StartTls;
                }
            }
            Ok(
                Request::Expn { .. }
                | Request::Auth { .. }
                | Request::Bdat { .. }
                | Request::Burl { .. }
                | Request::Etrn { .. }
                | Request::Atrn { .. }
                | Request::Lhlo { .. },
            ) => self.error(502, r::NOT_IMPLEMENTED),
            Err(smtp_proto::Error::UnknownCommand) => self.error(500, r::UNKNOWN_COMMAND),
            Err(smtp_proto::Error::InvalidSenderAddress) => self.error(501, r::BAD_SENDER),
            Err(smtp_proto::Error::InvalidRecipientAddress) => self.error(501, r::BAD_RECIPIENT),
            Err(smtp_proto::Error::UnsupportedParameter { .. }) => {
                self.error(555, r::UNSUPPORTED_PARAMETER)
            }
            Err(_) => self.error(501, r::SYNTAX),
        }
        Next::Continue
    }

    /// When DATA that began at `started` and has brought `received` bytes falls below the
    /// minimum rate (`None`: no floor).
    fn rate_due(&self, started: Instant, received: u64) -> Option<Instant> {
        let rate = self.config.min_data_rate;
        (rate > 0).then(|| rate_deadline(started, data_grace(self.config), received, rate))
    }

    fn ehlo(&mut self, host: &str) {
        let mut lines = vec![
            format!("{} Hello {host}", self.config.hostname),
            format!("SIZE {}", self.config.max_message_size),
            "8BITMIME".to_owned(),
            "PIPELINING".to_owned(),
            "ENHANCEDSTATUSCODES".to_owned(),
            "SMTPUTF8".to_owned(),
        ];
        if self.config.starttls && !self.tls {
            lines.push("STARTTLS".to_owned());
        }
        let last = lines.len() - 1;
        for (n, line) in lines.iter().enumerate() {
            let sep = if n == last { ' ' } else { '-' };
            self.output
                .extend_from_slice(format!("250{sep}{line}\r\n").as_bytes());
        }
    }

    fn mail(&mut self, from: &str, oversized: bool, flags: u64) {
        if self.helo.is_none() {
            self.error(503, r::NEED_HELO);
        } else if self.tx.mail_from.is_some() {
            self.error(503, r::NESTED_MAIL);
        } else if oversized {
            self.reply(552, "5.3.4", r::TOO_BIG);
        } else if flags & MAIL_BODY_BINARYMIME != 0 {
            // BINARYMIME needs CHUNKING, which is not offered.
            self.error(555, r::UNSUPPORTED_PARAMETER);
        } else {
            self.tx.mail_from = Some(from.to_owned());
            self.reply(250, "2.1.0", "Sender OK");
        }
    }

    async fn rcpt(&mut self, to: &str) {
        if self.tx.mail_from.is_none() {
            self.error(503, r::NEED_MAIL);
            return;
        }
        if self.tx.recipients.len() >= self.config.max_recipients {
            self.reply(452, "4.5.3", "Too many recipients");
            return;
        }
        let address = to.to_lowercase();
        let mail_from = self.tx.mail_from.clone().unwrap_or_default();
        match self.backend.recipient(&address, &mail_from).await {
            Ok(Lookup::Found(recipient)) => {
                // The same inbox twice gets one copy (a return path of one of its messages
                // is a recipient of its own: the report is about that message).
                if !self.tx.recipients.iter().any(|r| {
                    r.inbox_id == recipient.inbox_id && r.report_for == recipient.report_for
                }) {
                    self.tx.recipients.push(recipient);
                }
                self.reply(250, "2.1.5", "Recipient OK");
            }
            Ok(Lookup::Unknown) => self.error(550, r::NO_SUCH_MAILBOX),
            Ok(Lookup::Blocked) => self.error(550, r::SENDER_BLOCKED),
            Err(e) => {
                log::error!("looking up an SMTP recipient failed: {e}");
                self.reply(451, "4.3.0", r::TEMPORARY_FAILURE);
            }
        }
    }

    /// Receives the data and stores the message. `false` when the session must end.
    async fn data(&mut self) -> std::io::Result<bool> {
        let mut receiver = DataReceiver::new(self.config.max_message_size);
        // What the message will need in memory counts against the shared budget (held until
        // it is stored): its buffer, and the parse and store copies to come. Past the budget the
        // rest is read and dropped, and the client is told to retry later.
        let mut reserved = self.config.memory.reservation();
        let mut out_of_memory = false;
        // The whole DATA phase has a deadline (RFC 5321 §4.5.3.2.6); within it, the data must
        // keep coming at the minimum rate once the grace period is over.
        let started = Instant::now();
        let deadline = started + self.config.data_timeout;
        let mut received: u64 = 0;
        loop {
            received = received.saturating_add(self.input.len() as u64);
            let end = receiver.feed(&self.input);
            if !out_of_memory && !receiver.overflowed() && !reserved.grow_to(peak(&receiver)) {
                out_of_memory = true;
                receiver.discard();
            }
            if out_of_memory || receiver.overflowed() {
                // Nothing is kept any more: the budget is free for others while the rest of
                // the data is read.
                reserved = self.config.memory.reservation();
            }
            if let Some(used) = end {
                self.input.drain(..used);
                break;
            }
            self.input.clear();
            let (due, why) = match self.rate_due(started, received) {
                Some(slow) if slow < deadline => (slow, r::DATA_TOO_SLOW),
                _ => (deadline, r::DATA_TOO_LONG),
            };
            if !self.read_more(due, why).await? {
                return Ok(false);
            }
        }
        let tx = std::mem::take(&mut self.tx);
        // (A discarded message also counts as overflowed: this check comes first.)
        if out_of_memory {
            self.reply(452, "4.3.1", r::BUSY);
            return Ok(true);
        }
        if receiver.overflowed() {
            self.reply(552, "5.3.4", r::TOO_BIG);
            return Ok(true);
        }
        let (helo, extended) = self.helo.clone().unwrap_or_default();
        let envelope = Envelope {
            mail_from: tx.mail_from.unwrap_or_default(),
            recipients: tx.recipients,
            origin: Origin {
                helo,
                peer: self.peer,
                // RFC 3848 names; STARTTLS is an extension, so TLS implies ESMTP.
                protocol: match (extended, self.tls) {
                    (_, true) => "ESMTPS",
                    (true, false) => "ESMTP",
                    (false, false) => "SMTP",
                },
            },
        };
        match self
            .backend
            .deliver(envelope, receiver.into_message())
            .await
        {
            Ok(Delivery { copies, refused }) => match copies.first() {
                Some(copy) => {
                    self.config.metrics.smtp_message();
                    let text = format!("Message accepted as {}", copy.message_id);
                    self.reply(250, "2.0.0", &text);
                }
                // Every recipient's lists refused the sender (`From`, or an allow list).
                None if !refused.is_empty() => self.error(550, r::SENDER_REFUSED),
                // Every recipient inbox was deleted or suspended while the data was sent.
                None => self.error(550, r::NO_SUCH_MAILBOX),
            },
            Err(e) => {
                log::error!("storing a received message failed: {e}");
                self.reply(451, "4.3.0", r::TEMPORARY_FAILURE);
            }
        }
        Ok(true)
    }
}

/// The memory a message being received will need at its peak: its buffer, and the copies
/// parsing and storing it make (see [`crate::budget::MESSAGE_PEAK_FACTOR`]).
fn peak(receiver: &DataReceiver) -> usize {
    receiver.allocated() + (MESSAGE_PEAK_FACTOR - 1) * receiver.kept()
}

/// The `SIZE=` parameter of a `MAIL FROM` line (RFC 1870), saturating at `usize::MAX` however
/// many digits it has; `None` for other lines and for a missing or malformed value.
fn declared_size(line: &[u8]) -> Option<usize> {
    if !line.get(..5)?.eq_ignore_ascii_case(b"MAIL ") {
        return None;
    }
    // Parameters follow the closing bracket of the path.
    let params = &line[memchr::memrchr(b'>', line)? + 1..];
    params
        .split(|b| b.is_ascii_whitespace())
        .find_map(|p| {
            let value = p
                .get(..5)?
                .eq_ignore_ascii_case(b"SIZE=")
                .then(|| &p[5..])?;
            (!value.is_empty() && value.iter().all(u8::is_ascii_digit)).then_some(value)
        })
        .map(|digits| {
            digits.iter().fold(0usize, |n, d| {
                n.saturating_mul(10).saturating_add(usize::from(d - b'0'))
            })
        })
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use tokio::io::{AsyncBufReadExt, BufReader, DuplexStream, duplex};

    use super::*;
    use crate::domain::{AccountId, InboxId, MessageId, ThreadId};
    use crate::mail::ingest::StoredCopy;

    /// Accepts `bob@x.test` and keeps what is delivered.
    #[derive(Default)]
    struct Fake {
        delivered: Mutex<Vec<Vec<u8>>>,
    }

    impl Backend for Fake {
        fn recipient(
            &self,
            address: &str,
            mail_from: &str,
        ) -> impl Future<Output = Result<Lookup, Failure>> + Send {
            let found = match address {
                _ if mail_from == "spam@x.test" => Lookup::Blocked,
                "bob@x.test" => Lookup::Found(Recipient {
                    address: address.to_owned(),
                    inbox_id: InboxId::new(),
                    account_id: AccountId::new(),
                    report_for: None,
                }),
                _ => Lookup::Unknown,
            };
            async move { Ok(found) }
        }

        fn deliver(
            &self,
            envelope: Envelope,
            raw: Vec<u8>,
        ) -> impl Future<Output = Result<Delivery, MailError>> + Send {
            self.delivered.lock().unwrap().push(raw);
            let copies = envelope
                .recipients
                .iter()
                .map(|r| StoredCopy {
                    account_id: r.account_id,
                    inbox_id: r.inbox_id,
                    message_id: MessageId::new(),
                    thread_id: ThreadId::new(),
                })
                .collect();
            async move {
                Ok(Delivery {
                    copies,
                    refused: Vec::new(),
                })
            }
        }
    }

    fn config(starttls: bool, idle: Duration) -> SessionConfig {
        SessionConfig {
            hostname: "mx.test".to_owned(),
            max_message_size: 1 << 20,
            max_recipients: 10,
            max_command_line: 512,
            idle_timeout: idle,
            data_timeout: Duration::from_secs(10),
            min_data_rate: 0,
            starttls,
            memory: MemoryBudget::new(4 << 20),
            metrics: Metrics::disabled(),
        }
    }

    struct Client(BufReader<DuplexStream>);

    impl Client {
        async fn send(&mut self, bytes: &[u8]) {
            self.0.get_mut().write_all(bytes).await.unwrap();
        }

        async fn code(&mut self) -> u16 {
            loop {
                let mut line = String::new();
                if self.0.read_line(&mut line).await.unwrap() == 0 {
                    return 0;
                }
                if line.as_bytes().get(3) != Some(&b'-') {
                    return line[..3].parse().unwrap();
                }
            }
        }

        async fn cmd(&mut self, line: &str) -> u16 {
            self.send(format!("{line}\r\n").as_bytes()).await;
            self.code().await
        }
    }

    /// Runs a session over an in-memory pipe of `capacity` bytes.
    fn start(
        backend: &'static Fake,
        config: &'static SessionConfig,
        capacity: usize,
    ) -> (
        Client,
        tokio::task::JoinHandle<std::io::Result<Ending<DuplexStream>>>,
    ) {
        let (client, server) = duplex(capacity);
        let (_tx, shutdown) = watch::channel(false);
        let task = tokio::spawn(async move {
            let _keep = _tx;
            Session::new(server, backend, config, None, false, shutdown)
                .run()
                .await
        });
        (Client(BufReader::new(client)), task)
    }

    fn leak<T>(t: T) -> &'static T {
        Box::leak(Box::new(t))
    }

    #[tokio::test]
    async fn a_message_past_the_memory_budget_is_refused_for_now_and_the_session_goes_on() {
        let backend = leak(Fake::default());
        let mut cfg = config(false, Duration::from_secs(5));
        cfg.memory = MemoryBudget::new(512 * 1024);
        let cfg = leak(cfg);
        // Another session holds most of the budget: 448 KiB. The message needs its 50 KB
        // four times over (buffer, parse, store).
        let mut other = cfg.memory.reservation();
        assert!(other.grow_to(400 * 1024));
        let (mut c, _task) = start(backend, cfg, 1 << 16);
        assert_eq!(c.code().await, 220);
        assert_eq!(c.cmd("EHLO a").await, 250);
        async fn transaction(c: &mut Client) -> u16 {
            let body = format!("Subject: x\r\n\r\n{}\r\n.\r\n", "y".repeat(50_000));
            assert_eq!(c.cmd("MAIL FROM:<a@b.test>").await, 250);
            assert_eq!(c.cmd("RCPT TO:<bob@x.test>").await, 250);
            assert_eq!(c.cmd("DATA").await, 354);
            c.send(body.as_bytes()).await;
            c.code().await
        }
        assert_eq!(transaction(&mut c).await, 452);

        assert!(backend.delivered.lock().unwrap().is_empty());
        assert_eq!(
            cfg.memory.in_use(),
            448 * 1024,
            "the refused message holds nothing"
        );
        // Once the other message is stored, the retry goes through.
        drop(other);
        assert_eq!(transaction(&mut c).await, 250);
        assert_eq!(backend.delivered.lock().unwrap().len(), 1);
        assert_eq!(cfg.memory.in_use(), 0);
    }

    #[tokio::test]
    async fn a_message_over_the_size_limit_holds_no_budget_while_the_rest_is_read() {
        let backend = leak(Fake::default());
        let cfg = leak(config(false, Duration::from_secs(5)));
        let (mut c, _task) = start(backend, cfg, 1 << 16);
        assert_eq!(c.code().await, 220);
        assert_eq!(c.cmd("EHLO a").await, 250);
        assert_eq!(c.cmd("MAIL FROM:<a@b.test>").await, 250);
        assert_eq!(c.cmd("RCPT TO:<bob@x.test>").await, 250);
        assert_eq!(c.cmd("DATA").await, 354);
        let line = [b'z'; 998];
        for _ in 0..1100 {
            c.send(&line).await;
            c.send(b"\r\n").await;
        }
        // The pipe holds 64 KiB, so the session has read past the 1 MiB limit by now.
        tokio::task::yield_now().await;
        assert_eq!(
            cfg.memory.in_use(),
            0,
            "an overflowed message holds nothing"
        );
        c.send(b".\r\n").await;
        assert_eq!(c.code().await, 552);
        assert!(backend.delivered.lock().unwrap().is_empty());
    }

    #[test]
    fn declared_sizes_saturate_instead_of_wrapping() {
        assert_eq!(declared_size(b"MAIL FROM:<a@b> SIZE=1000\r\n"), Some(1000));
        assert_eq!(
            declared_size(b"mail from:<> body=8bitmime size=7\r\n"),
            Some(7)
        );
        assert_eq!(
            declared_size(b"MAIL FROM:<a@b> SIZE=99999999999999999999999\r\n"),
            Some(usize::MAX)
        );
        assert_eq!(declared_size(b"MAIL FROM:<a@b>\r\n"), None);
        assert_eq!(declared_size(b"MAIL FROM:<a@b> SIZE=12x\r\n"), None);
        assert_eq!(declared_size(b"RCPT TO:<a@b> SIZE=1\r\n"), None);
    }

    #[tokio::test]
    async fn an_overflowing_or_oversized_size_is_refused_with_552() {
        let (mut c, _task) = start(
            leak(Fake::default()),
            leak(config(false, Duration::from_secs(5))),
            4096,
        );
        assert_eq!(c.code().await, 220);
        assert_eq!(c.cmd("EHLO a").await, 250);
        for size in ["99999999999999999999999", "18446744073709551617", "1048577"] {
            assert_eq!(
                c.cmd(&format!("MAIL FROM:<a@b.test> SIZE={size}")).await,
                552
            );
        }
        assert_eq!(c.cmd("MAIL FROM:<a@b.test> SIZE=1048576").await, 250);
    }

    #[tokio::test]
    async fn a_command_trickled_a_byte_at_a_time_still_times_out() {
        let (mut c, task) = start(
            leak(Fake::default()),
            leak(config(false, Duration::from_millis(300))),
            4096,
        );
        assert_eq!(c.code().await, 220);
        let started = Instant::now();
        // A byte every 100 ms never lets a 300 ms idle timeout run out between reads; the
        // command as a whole still has to arrive within it.
        for b in b"NOOP NOOP NOOP NOOP" {
            if c.0.get_mut().write_all(&[*b]).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            if task.is_finished() {
                break;
            }
        }
        assert_eq!(c.code().await, 421);
        assert!(started.elapsed() < Duration::from_secs(1));
    }

    #[tokio::test]
    async fn data_slower_than_the_minimum_rate_loses_the_session() {
        let mut cfg = config(false, Duration::from_millis(200));
        cfg.min_data_rate = 1000;
        let (mut c, _task) = start(leak(Fake::default()), leak(cfg), 4096);
        assert_eq!(c.code().await, 220);
        assert_eq!(c.cmd("EHLO a").await, 250);
        assert_eq!(c.cmd("MAIL FROM:<a@b.test>").await, 250);
        assert_eq!(c.cmd("RCPT TO:<bob@x.test>").await, 250);
        assert_eq!(c.cmd("DATA").await, 354);
        let started = Instant::now();
        // 10 bytes every 50 ms (200 bytes/s) is a fifth of the floor.
        loop {
            if c.0.get_mut().write_all(b"xxxxxxxxxx").await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
            if started.elapsed() > Duration::from_secs(2) {
                break;
            }
        }
        assert_eq!(c.code().await, 421);
        assert!(started.elapsed() < Duration::from_secs(2));
    }

    #[tokio::test]
    async fn a_command_split_across_reads_is_one_command() {
        let (mut c, _task) = start(
            leak(Fake::default()),
            leak(config(false, Duration::from_secs(5))),
            4096,
        );
        assert_eq!(c.code().await, 220);
        c.send(b"NO").await;
        tokio::task::yield_now().await;
        c.send(b"OP\r\n").await;
        assert_eq!(c.code().await, 250);
    }

    #[tokio::test]
    async fn ehlo_in_the_middle_of_a_transaction_resets_it() {
        let (mut c, _task) = start(
            leak(Fake::default()),
            leak(config(false, Duration::from_secs(5))),
            4096,
        );
        assert_eq!(c.code().await, 220);
        assert_eq!(c.cmd("EHLO a").await, 250);
        assert_eq!(c.cmd("MAIL FROM:<a@b.test>").await, 250);
        assert_eq!(c.cmd("RCPT TO:<bob@x.test>").await, 250);
        assert_eq!(c.cmd("EHLO again").await, 250);
        assert_eq!(c.cmd("DATA").await, 503);
    }

    #[tokio::test]
    async fn commands_pipelined_after_starttls_are_thrown_away() {
        let backend = leak(Fake::default());
        let (mut c, task) = start(backend, leak(config(true, Duration::from_secs(5))), 4096);
        assert_eq!(c.code().await, 220);
        c.send(b"EHLO a\r\nSTARTTLS\r\nMAIL FROM:<evil@x.test>\r\nRCPT TO:<bob@x.test>\r\n")
            .await;
        assert_eq!(c.code().await, 250);
        assert_eq!(c.code().await, 220);
        // The session hands the stream over for the handshake with nothing else answered.
        let ending = task.await.unwrap().unwrap();
        assert!(matches!(ending, Ending::StartTls(_)));
        let mut rest = String::new();
        let n = tokio::time::timeout(Duration::from_millis(50), c.0.read_line(&mut rest)).await;
        assert!(n.is_err() || rest.is_empty(), "unexpected reply: {rest}");
    }

    #[tokio::test]
    async fn a_client_that_never_reads_loses_its_session() {
        let (mut c, task) = start(
            leak(Fake::default()),
            leak(config(false, Duration::from_millis(200))),
            64,
        );
        // Many pipelined commands and no reading: the replies fill the pipe. Once the session
        // gives up the pipe closes, and sending fails.
        for _ in 0..200 {
            if c.0.get_mut().write_all(b"NOOP\r\n").await.is_err() {
                break;
            }
        }
        let ended = tokio::time::timeout(Duration::from_secs(5), task).await;
        assert!(
            ended.is_ok(),
            "the session ended instead of waiting forever"
        );
    }

    #[tokio::test]
    async fn a_blocked_sender_is_refused_per_recipient_with_5_7_1_and_the_session_goes_on() {
        let (mut c, _task) = start(
            leak(Fake::default()),
            leak(config(false, Duration::from_secs(5))),
            4096,
        );
        assert_eq!(c.code().await, 220);
        assert_eq!(c.cmd("EHLO a").await, 250);
        assert_eq!(c.cmd("MAIL FROM:<spam@x.test>").await, 250);
        c.send(b"RCPT TO:<bob@x.test>\r\n").await;
        let mut line = String::new();
        c.0.read_line(&mut line).await.unwrap();
        assert!(line.starts_with("550 5.7.1 "), "{line}");
        assert_eq!(c.cmd("DATA").await, 554);
        assert_eq!(c.cmd("RSET").await, 250);
        assert_eq!(c.cmd("MAIL FROM:<ham@x.test>").await, 250);
        assert_eq!(c.cmd("RCPT TO:<bob@x.test>").await, 250);
    }

    #[tokio::test]
    async fn a_message_is_delivered_with_dot_stuffing_undone() {
        let backend = leak(Fake::default());
        let (mut c, _task) = start(backend, leak(config(false, Duration::from_secs(5))), 4096);
        assert_eq!(c.code().await, 220);
        assert_eq!(c.cmd("HELO a").await, 250);
        assert_eq!(c.cmd("MAIL FROM:<>").await, 250);
        assert_eq!(c.cmd("RCPT TO:<bob@x.test>").await, 250);
        assert_eq!(c.cmd("DATA").await, 354);
        c.send(b"Subject: x\r\n\r\n..dot\r\n.\r\n").await;
        assert_eq!(c.code().await, 250);
        assert_eq!(
            backend.delivered.lock().unwrap()[0],
            b"Subject: x\r\n\r\n.dot\r\n"
        );
    }
}
