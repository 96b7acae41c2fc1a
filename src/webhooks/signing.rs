//! The two signatures every delivery carries:
//!
//! * `X-AgentSend-Signature`: lowercase hex HMAC-SHA256 of the raw body, keyed with the whole
//!   secret string (`whsec_...`), as the hosted service signs;
//! * Standard Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature`):
//!   `v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">`, keyed with the base64-decoded
//!   part of the secret after `whsec_`, so that standardwebhooks / svix libraries verify it.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// Why a secret cannot sign.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the webhook secret cannot be used for Standard Webhooks signing: {0}")]
pub struct SigningError(String);

fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> Result<[u8; 32], SigningError> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).map_err(|e| SigningError(e.to_string()))?;
    for part in parts {
        mac.update(part);
    }
    Ok(mac.finalize().into_bytes().into())
}

/// `X-AgentSend-Signature`.
pub fn agentsend_signature(secret: &str, body: &[u8]) -> Result<String, SigningError> {
    Ok(hex::encode(hmac_sha256(secret.as_bytes(), &[body])?))
}

/// `webhook-signature` for message `id` sent at `timestamp` (unix seconds).
pub fn standard_signature(
    secret: &str,
    id: &str,
    timestamp: i64,
    body: &[u8],
) -> Result<String, SigningError> {
    let encoded = secret.strip_prefix("whsec_").unwrap_or(secret);
    let key = STANDARD
        .decode(encoded)
        .map_err(|e| SigningError(e.to_string()))?;
    let ts = timestamp.to_string();
    let mac = hmac_sha256(&key, &[id.as_bytes(), b".", ts.as_bytes(), b".", body])?;
    Ok(format!("v1,{}", STANDARD.encode(mac)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_webhooks_known_answer() {
        // The public test vector of the Standard Webhooks specification.
        let sig = standard_signature(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1_614_265_330,
            br#"{"test": 2432232314}"#,
        )
        .unwrap();
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn a_hex_secret_signs_as_the_standardwebhooks_python_library_does() {
        // Expected value from `standardwebhooks` 1.x: Webhook(secret).sign(id, 1700000000, body).
        let secret = format!("whsec_{}", "0123456789abcdef".repeat(3));
        let sig = standard_signature(
            &secret,
            "0b6b4c1e-6a55-4f5e-9d43-8c1a2b3c4d5e",
            1_700_000_000,
            br#"{"a":1}"#,
        )
        .unwrap();
        assert_eq!(sig, "v1,N7jPe6rYqka53BCTLtUxvFmAJINVT7bar7k/mCSGydk=");
    }

    #[test]
    fn our_secrets_work_for_both_schemes() {
        let secret = crate::domain::webhook::WebhookSecret::generate();
        let hex_sig = agentsend_signature(secret.expose(), b"{}").unwrap();
        assert_eq!(hex_sig.len(), 64);
        let sig = standard_signature(secret.expose(), "id", 1, b"{}").unwrap();
        assert!(sig.starts_with("v1,"));
    }
}
