//! Random tokens from the operating system's generator.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// `n` random bytes. The OS generator failing is not something the server can work around
/// (every id and key would be guessable), so it aborts loudly instead of degrading.
pub fn bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    if let Err(e) = getrandom::fill(&mut buf) {
        panic!("the operating system's random number generator failed: {e}");
    }
    buf
}

/// `len` random characters from `[a-z0-9]`, without modulo bias.
pub fn lower_alnum(len: usize) -> String {
    const ALPHABET: &[u8; 36] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut out = String::with_capacity(len);
    while out.len() < len {
        for b in bytes::<32>() {
            // 252 = 7 * 36: rejecting the top four values keeps every character equally likely.
            if b < 252 && out.len() < len {
                out.push(ALPHABET[usize::from(b % 36)] as char);
            }
        }
    }
    out
}

/// URL-safe base64 (no padding) of `N` random bytes: 4 characters per 3 bytes.
pub fn url_safe_token<const N: usize>() -> String {
    URL_SAFE_NO_PAD.encode(bytes::<N>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lower_alnum_has_the_length_and_alphabet_asked_for() {
        let s = lower_alnum(8);
        assert_eq!(s.len(), 8);
        assert!(
            s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        );
        assert_ne!(lower_alnum(16), lower_alnum(16));
    }

    #[test]
    fn url_safe_token_of_30_bytes_is_40_characters() {
        let t = url_safe_token::<30>();
        assert_eq!(t.len(), 40);
        assert!(
            t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
    }
}
