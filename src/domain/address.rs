//! Host names, inbox local parts and RFC 5321 mailboxes.

use std::fmt;

use serde::{Serialize, Serializer};

/// Why a value is not a valid host name, local part or address. The text is shown to API
/// users as-is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct AddressError(&'static str);

/// A lower-case ASCII host name (RFC 1123): labels of 1–63 letters, digits and hyphens, not
/// starting or ending with a hyphen, at most 253 characters in all. A trailing dot is dropped.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DomainName(String);

impl DomainName {
    /// Validates and lower-cases a host name.
    pub fn parse(raw: &str) -> Result<Self, AddressError> {
        let s = raw.strip_suffix('.').unwrap_or(raw).to_ascii_lowercase();
        if s.is_empty() {
            return Err(AddressError("must not be empty"));
        }
        if !s.is_ascii() {
            return Err(AddressError(
                "must be an ASCII host name (write internationalised names as xn-- A-labels)",
            ));
        }
        if s.len() > 253 {
            return Err(AddressError("must be at most 253 characters"));
        }
        for label in s.split('.') {
            let valid = !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-');
            if !valid {
                return Err(AddressError(
                    "must be a host name: dot-separated labels of letters, digits and hyphens",
                ));
            }
        }
        Ok(Self(s))
    }

    /// The name, lower case.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DomainName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The local part of an inbox address, as the hosted service allows them:
/// lower case, `^[a-z0-9](?:[a-z0-9._-]{0,62}[a-z0-9])?$`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LocalPart(String);

impl LocalPart {
    /// Lower-cases and validates a local part.
    pub fn parse(raw: &str) -> Result<Self, AddressError> {
        let s = raw.to_ascii_lowercase();
        let bytes = s.as_bytes();
        let edge_ok = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
        let inner_ok = |b: u8| edge_ok(b) || matches!(b, b'.' | b'_' | b'-');
        let valid = match bytes {
            [] => false,
            [only] => edge_ok(*only),
            [first, middle @ .., last] => {
                bytes.len() <= 64
                    && edge_ok(*first)
                    && edge_ok(*last)
                    && middle.iter().all(|b| inner_ok(*b))
            }
        };
        if !valid {
            return Err(AddressError(
                "must be 1 to 64 characters of a-z, 0-9, '.', '_' or '-', starting and ending \
                 with a letter or digit",
            ));
        }
        // Stricter than the hosted pattern: "a..b" is not a valid RFC 5321 dot-atom, and an
        // inbox with such an address could never receive mail from a conforming MTA.
        if s.contains("..") {
            return Err(AddressError("must not contain two dots in a row"));
        }
        Ok(Self(s))
    }

    /// The local part, lower case.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for LocalPart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An RFC 5321 mailbox (`Local-part "@" ( Domain / address-literal )`), at most 254 octets.
/// The local part keeps its case (it is the receiving server's to interpret); the domain is
/// lower-cased.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EmailAddress {
    address: String,
    at: usize,
}

impl EmailAddress {
    /// Validates a bare address (no display name, no angle brackets).
    pub fn parse(raw: &str) -> Result<Self, AddressError> {
        if raw.len() > 254 {
            return Err(AddressError("must be at most 254 characters"));
        }
        let Some(at) = raw.rfind('@') else {
            return Err(AddressError(
                "must be an email address like name@example.com",
            ));
        };
        let (local, domain) = (&raw[..at], &raw[at + 1..]);
        if local.is_empty() || local.len() > 64 {
            return Err(AddressError(
                "the part before '@' must be 1 to 64 characters",
            ));
        }
        if !is_dot_atom(local) && !is_quoted_string(local) {
            return Err(AddressError(
                "the part before '@' has characters that need quoting or are not allowed",
            ));
        }
        let domain = if is_address_literal(domain) {
            domain.to_ascii_lowercase()
        } else {
            DomainName::parse(domain)
                .map_err(|_| AddressError("the part after '@' must be a valid domain name"))?
                .0
        };
        Ok(Self {
            address: format!("{local}@{domain}"),
            at,
        })
    }

    /// An address made of an inbox local part and a domain, both already valid.
    pub fn from_parts(local: &LocalPart, domain: &DomainName) -> Self {
        Self {
            address: format!("{local}@{domain}"),
            at: local.as_str().len(),
        }
    }

    /// The whole address.
    pub fn as_str(&self) -> &str {
        &self.address
    }

    /// The part before the last `@`.
    pub fn local_part(&self) -> &str {
        &self.address[..self.at]
    }

    /// The part after the last `@`, lower case.
    pub fn domain(&self) -> &str {
        &self.address[self.at + 1..]
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.address)
    }
}

impl Serialize for EmailAddress {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.address)
    }
}

/// RFC 5322 `atext`.
fn is_atext(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~".contains(&b)
}

/// `Dot-string` of RFC 5321: atoms separated by single dots.
fn is_dot_atom(s: &str) -> bool {
    s.split('.')
        .all(|atom| !atom.is_empty() && atom.bytes().all(is_atext))
}

/// `Quoted-string` of RFC 5321: `"` (qtextSMTP / `\` printable)* `"`.
fn is_quoted_string(s: &str) -> bool {
    let Some(inner) = s.strip_prefix('"').and_then(|s| s.strip_suffix('"')) else {
        return false;
    };
    let mut bytes = inner.bytes();
    while let Some(b) = bytes.next() {
        match b {
            b'\\' => match bytes.next() {
                Some(32..=126) => {}
                _ => return false,
            },
            32 | 33 | 35..=91 | 93..=126 => {}
            _ => return false,
        }
    }
    true
}

/// `[1.2.3.4]` or `[IPv6:...]`.
fn is_address_literal(s: &str) -> bool {
    let Some(inner) = s.strip_prefix('[').and_then(|s| s.strip_suffix(']')) else {
        return false;
    };
    match inner.get(..5) {
        Some(tag) if tag.eq_ignore_ascii_case("IPv6:") => {
            inner[5..].parse::<std::net::Ipv6Addr>().is_ok()
        }
        _ => inner.parse::<std::net::Ipv4Addr>().is_ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domain_names_are_lower_cased_host_names() {
        assert_eq!(
            DomainName::parse("Mail.Example.COM.").unwrap().as_str(),
            "mail.example.com"
        );
        assert!(DomainName::parse("localhost").is_ok());
        assert!(DomainName::parse("xn--bcher-kva.example").is_ok());
        for bad in [
            "",
            ".",
            "a..b",
            "-a.com",
            "a-.com",
            "a_b.com",
            "bücher.de",
            "a b.com",
        ] {
            assert!(DomainName::parse(bad).is_err(), "{bad}");
        }
        assert!(DomainName::parse(&format!("{}.com", "a".repeat(64))).is_err());
    }

    #[test]
    fn inbox_local_parts_follow_the_hosted_pattern() {
        for good in ["a", "7", "agent-x1y2", "first.last", "a_b", "Support"] {
            assert!(LocalPart::parse(good).is_ok(), "{good}");
        }
        assert_eq!(LocalPart::parse("Support").unwrap().as_str(), "support");
        assert!(LocalPart::parse(&"a".repeat(64)).is_ok());
        for bad in ["", "-a", "a-", ".a", "a.", "a..b", "a+b", "a b", "ä", "a@b"] {
            assert!(LocalPart::parse(bad).is_err(), "{bad}");
        }
        assert!(LocalPart::parse(&"a".repeat(65)).is_err());
    }

    #[test]
    fn mailboxes_follow_rfc_5321() {
        for good in [
            "a@b.c",
            "First.Last+tag@Example.COM",
            "\"john doe\"@example.com",
            "user@[192.0.2.1]",
            "user@[IPv6:2001:db8::1]",
            "o'brien@example.ie",
            "postmaster@localhost",
        ] {
            assert!(EmailAddress::parse(good).is_ok(), "{good}");
        }
        let a = EmailAddress::parse("First.Last@Example.COM").unwrap();
        assert_eq!(a.as_str(), "First.Last@example.com");
        assert_eq!(a.local_part(), "First.Last");
        assert_eq!(a.domain(), "example.com");
        for bad in [
            "",
            "plain",
            "@example.com",
            "a@",
            "a..b@example.com",
            ".a@example.com",
            "a b@example.com",
            "a@exa mple.com",
            "a\r\nBcc: x@y.z@example.com",
            "a@b@",
            "\"unterminated@example.com",
            "a@[300.1.1.1]",
        ] {
            assert!(EmailAddress::parse(bad).is_err(), "{bad:?}");
        }
        assert!(EmailAddress::parse(&format!("{}@example.com", "a".repeat(65))).is_err());
    }
}
