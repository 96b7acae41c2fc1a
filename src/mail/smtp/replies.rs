//! Reply texts. Error replies carry their enhanced status code (RFC 3463); the numeric code
//! is given where they are used, as it depends on the situation.

/// A message over `smtp.max_message_size`.
pub const TOO_BIG: &str = "Message size exceeds the fixed limit";
/// The store failed; the client should try again later.
pub const TEMPORARY_FAILURE: &str = "Temporary failure, try again later";
/// Too much mail arriving at once for the memory budget (`452 4.3.1`).
pub const BUSY: &str = "Insufficient system resources, try again later";
/// The server is stopping.
pub const SHUTTING_DOWN: &str = "Service shutting down, try again later";
/// The client said nothing for too long.
pub const TIMEOUT: &str = "Timeout, closing connection";
/// The DATA phase went past its deadline.
pub const DATA_TOO_LONG: &str = "DATA took too long, closing connection";
/// DATA arrived slower than the minimum data rate.
pub const DATA_TOO_SLOW: &str = "DATA too slow, closing connection";
/// The session went past its longest allowed duration.
pub const SESSION_TOO_LONG: &str = "Session too long, closing connection";
/// Too many bad commands.
pub const TOO_MANY_ERRORS: &str = "Too many errors, closing connection";

/// A command line over the limit (RFC 5321 §4.5.3.1.4).
pub const LINE_TOO_LONG: (&str, &str) = ("5.5.2", "Line too long");
/// Not a command this server knows.
pub const UNKNOWN_COMMAND: (&str, &str) = ("5.5.1", "Command unrecognized");
/// A command this server does not offer.
pub const NOT_IMPLEMENTED: (&str, &str) = ("5.5.1", "Command not implemented");
/// Malformed arguments.
pub const SYNTAX: (&str, &str) = ("5.5.4", "Syntax error in parameters or arguments");
/// MAIL before EHLO/HELO.
pub const NEED_HELO: (&str, &str) = ("5.5.1", "Send EHLO or HELO first");
/// RCPT or DATA before MAIL.
pub const NEED_MAIL: (&str, &str) = ("5.5.1", "Send MAIL FROM first");
/// A second MAIL in one transaction.
pub const NESTED_MAIL: (&str, &str) = ("5.5.1", "Sender already given");
/// DATA without an accepted recipient.
pub const NO_RECIPIENTS: (&str, &str) = ("5.5.1", "No valid recipients");
/// A recipient that is not an active inbox here (and this server relays nothing).
pub const NO_SUCH_MAILBOX: (&str, &str) = ("5.1.1", "Mailbox unavailable");
/// A recipient whose allow or block list refuses the envelope sender (at `RCPT`).
pub const SENDER_BLOCKED: (&str, &str) = ("5.7.1", "Sender blocked by the recipient");
/// Every recipient's allow or block list refuses the sender (at the end of `DATA`: the `From`
/// header, or an allow list that neither the envelope sender nor `From` is on).
pub const SENDER_REFUSED: (&str, &str) = ("5.7.1", "Sender not accepted by the recipient");
/// A malformed sender address.
pub const BAD_SENDER: (&str, &str) = ("5.1.7", "Invalid sender address");
/// A malformed recipient address.
pub const BAD_RECIPIENT: (&str, &str) = ("5.1.3", "Invalid recipient address");
/// A MAIL/RCPT parameter not offered.
pub const UNSUPPORTED_PARAMETER: (&str, &str) = ("5.5.4", "Parameter not supported");
/// STARTTLS without a certificate.
pub const NO_STARTTLS: (&str, &str) = ("5.5.1", "STARTTLS not available");
/// STARTTLS inside TLS.
pub const ALREADY_TLS: (&str, &str) = ("5.5.1", "TLS already active");
