//! The `DATA` stream (RFC 5321 §4.1.1.4, §4.5.2): undoes dot-stuffing and finds the end of the
//! data, which is `CRLF . CRLF` and nothing else. A bare `LF . LF`, `LF . CRLF` or
//! `CRLF . LF` is data: treating any of them as the end is what makes SMTP smuggling possible
//! (a second message hidden in the first, which this server would then accept as genuine).
//!
//! The size limit is enforced while reading: past it nothing more is kept, but the stream is
//! still read to its end so that the session stays in step with the client.

/// Where in a line the receiver is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// At the start of a line (after CRLF, or at the very start of the data).
    LineStart,
    /// Inside a line.
    Middle,
    /// Just after a CR inside a line.
    SawCr,
    /// A line started with a dot.
    Dot,
    /// A line started with a dot and a CR.
    DotCr,
}

/// Receives one message's data.
#[derive(Debug)]
pub struct DataReceiver {
    state: State,
    limit: usize,
    message: Vec<u8>,
    overflow: bool,
}

impl DataReceiver {
    /// A receiver keeping at most `limit` bytes.
    pub fn new(limit: usize) -> Self {
        Self {
            state: State::LineStart,
            limit,
            message: Vec::new(),
            overflow: false,
        }
    }

    /// Feeds received bytes. Returns `Some(n)` when the end of the data was found, `n` being the
    /// number of bytes of `input` it used (what follows is the next command); `None` when all of
    /// `input` was data.
    pub fn feed(&mut self, input: &[u8]) -> Option<usize> {
        let mut i = 0;
        while i < input.len() {
            match self.state {
                State::Middle => {
                    // Fast path: everything up to the next CR is plain data.
                    match memchr::memchr(b'\r', &input[i..]) {
                        Some(off) => {
                            self.keep(&input[i..i + off + 1]);
                            i += off + 1;
                            self.state = State::SawCr;
                        }
                        None => {
                            self.keep(&input[i..]);
                            return None;
                        }
                    }
                }
                State::LineStart => {
                    let b = input[i];
                    i += 1;
                    if b == b'.' {
                        self.state = State::Dot;
                    } else {
                        self.keep(&[b]);
                        self.state = if b == b'\r' {
                            State::SawCr
                        } else {
                            State::Middle
                        };
                    }
                }
                State::SawCr => {
                    let b = input[i];
                    i += 1;
                    self.keep(&[b]);
                    self.state = match b {
                        b'\n' => State::LineStart,
                        b'\r' => State::SawCr,
                        _ => State::Middle,
                    };
                }
                State::Dot => {
                    let b = input[i];
                    i += 1;
                    if b == b'\r' {
                        self.state = State::DotCr;
                    } else {
                        // A stuffed dot: the first dot of the line is dropped.
                        self.keep(&[b]);
                        self.state = State::Middle;
                    }
                }
                State::DotCr => {
                    if input[i] == b'\n' {
                        return Some(i + 1);
                    }
                    // ".<CR>x": the dot was stuffing; the CR is data. Look at x again.
                    self.keep(b"\r");
                    self.state = State::SawCr;
                }
            }
        }
        None
    }

    fn keep(&mut self, bytes: &[u8]) {
        if self.overflow {
            return;
        }
        if self.message.len() + bytes.len() > self.limit {
            self.overflow = true;
            self.message = Vec::new();
        } else {
            // What is allocated is what the memory budget counts.
            crate::budget::reserve_up_to(&mut self.message, bytes.len(), self.limit);
            self.message.extend_from_slice(bytes);
        }
    }

    /// Whether the message went over the limit (then it was not kept).
    pub fn overflowed(&self) -> bool {
        self.overflow
    }

    /// Bytes kept so far.
    pub fn kept(&self) -> usize {
        self.message.len()
    }

    /// Bytes of memory holding them (a growing buffer has room to spare).
    pub fn allocated(&self) -> usize {
        self.message.capacity()
    }

    /// Drops what was kept and keeps nothing more; the end of the data is still found.
    pub fn discard(&mut self) {
        self.limit = 0;
        self.message = Vec::new();
    }

    /// The message, dot-stuffing undone, ending with the CRLF before the final dot.
    pub fn into_message(self) -> Vec<u8> {
        self.message
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn receive(chunks: &[&[u8]]) -> (Option<Vec<u8>>, Vec<u8>) {
        let mut r = DataReceiver::new(1 << 20);
        for (n, chunk) in chunks.iter().enumerate() {
            if let Some(used) = r.feed(chunk) {
                let mut rest = chunk[used..].to_vec();
                for later in &chunks[n + 1..] {
                    rest.extend_from_slice(later);
                }
                return (Some(r.into_message()), rest);
            }
        }
        (None, Vec::new())
    }

    #[test]
    fn the_data_ends_at_crlf_dot_crlf_only() {
        let (msg, rest) = receive(&[b"Subject: x\r\n\r\nhello\r\n.\r\nQUIT\r\n"]);
        assert_eq!(msg.unwrap(), b"Subject: x\r\n\r\nhello\r\n");
        assert_eq!(rest, b"QUIT\r\n");
    }

    #[test]
    fn an_empty_message_ends_at_once() {
        let (msg, _) = receive(&[b".\r\n"]);
        assert_eq!(msg.unwrap(), b"");
    }

    #[test]
    fn stuffed_dots_are_removed() {
        let (msg, _) = receive(&[b"..leading\r\n.\r\n"]);
        assert_eq!(msg.unwrap(), b".leading\r\n");
        let (msg, _) = receive(&[b"a\r\n...\r\n.\r\n"]);
        assert_eq!(msg.unwrap(), b"a\r\n..\r\n");
        let (msg, _) = receive(&[b"a\r\n.\rx\r\n.\r\n"]);
        assert_eq!(msg.unwrap(), b"a\r\n\rx\r\n");
    }

    #[test]
    fn smuggling_sequences_are_data() {
        for sneaky in [
            &b"a\n.\nMAIL FROM:<x>\r\n"[..],
            b"a\n.\r\nRCPT\r\n",
            b"a\r\n.\nDATA\r\n",
            b"a\r.\r\nx\r\n",
        ] {
            let mut input = sneaky.to_vec();
            input.extend_from_slice(b".\r\n");
            let (msg, rest) = receive(&[&input]);
            let msg = msg.unwrap();
            assert!(rest.is_empty(), "{sneaky:?}");
            assert!(
                msg.len() >= sneaky.len() - 1,
                "{sneaky:?} ended early: {msg:?}"
            );
        }
    }

    #[test]
    fn the_end_is_found_across_chunk_boundaries() {
        let (msg, rest) = receive(&[b"body\r", b"\n", b".", b"\r", b"\nNOOP\r\n"]);
        assert_eq!(msg.unwrap(), b"body\r\n");
        assert_eq!(rest, b"NOOP\r\n");
    }

    #[test]
    fn past_the_limit_nothing_is_kept_but_the_end_is_still_found() {
        let mut r = DataReceiver::new(10);
        assert_eq!(r.feed(b"0123456789abcdef\r\n"), None);
        assert_eq!(r.feed(b".\r\nQUIT"), Some(3));
        assert!(r.overflowed());
        assert!(r.into_message().is_empty());
    }
}
