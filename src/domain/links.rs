//! Links the server hands out. Presigned attachment download links:
//! `{base}/attachments/{id}/download?expires={unix seconds}&signature={hex}`, where the
//! signature is an HMAC-SHA256 over the id and the expiry with a server secret: anyone holding
//! the link can download until it expires, and changing any part of it invalidates it. Claim
//! links of sandbox accounts: `{base}/claim/{token}`, the token an HMAC of the
//! account id, so the same link can be handed out again without storing it (only its hash is
//! stored, to find the account). Message views of the web interface:
//! `/ui/frame/{id}?images={0|1}&expires={unix seconds}&signature={hex}`, signed the same way over
//! the message id, the image consent and the expiry, so that a sandboxed frame (which cannot
//! send the API key) shows one message's HTML for a short while.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

use super::{AccountId, AttachmentId, MessageId, Timestamp};

/// Why a link is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkError {
    /// The signature does not match the id and expiry (altered, or made for another id or
    /// by another server).
    Invalid,
    /// Correctly signed, but past its expiry.
    Expired,
}

/// Signs and checks expiring links: an HMAC-SHA256 with a server secret over what the link
/// gives (`subject`) and its expiry in Unix seconds.
#[derive(Clone)]
struct Signer {
    secret: Vec<u8>,
    ttl: Duration,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secret.
        f.debug_struct("Signer")
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl Signer {
    /// The expiry and signature of a fresh link to `subject`, valid from `now`.
    fn sign(&self, subject: &str, now: Timestamp) -> (i64, String) {
        let expires = now.plus(self.ttl).as_secs();
        let signature = hex::encode(self.mac(subject, expires).finalize().into_bytes());
        (expires, signature)
    }

    /// Checks a link's expiry and signature for `subject` at `now`. A bad signature is reported
    /// before an expiry, so an altered expiry can never pass for a merely expired link.
    fn check(
        &self,
        subject: &str,
        expires: &str,
        signature: &str,
        now: Timestamp,
    ) -> Result<(), LinkError> {
        // Only the canonical form that `sign` produces is signed: no sign, no leading zeros.
        let expires_secs = match expires.parse::<i64>() {
            Ok(n) if expires.bytes().all(|b| b.is_ascii_digit()) && n.to_string() == expires => n,
            _ => return Err(LinkError::Invalid),
        };
        let signature = hex::decode(signature).map_err(|_| LinkError::Invalid)?;
        // Constant-time comparison.
        self.mac(subject, expires_secs)
            .verify_slice(&signature)
            .map_err(|_| LinkError::Invalid)?;
        if now.as_secs() >= expires_secs {
            return Err(LinkError::Expired);
        }
        Ok(())
    }

    fn mac(&self, subject: &str, expires: i64) -> Hmac<Sha256> {
        // HMAC takes keys of any length; the secret is 32 random bytes.
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.secret)
            .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
        mac.update(format!("{subject}\n{expires}").as_bytes());
        mac
    }
}

/// Makes and checks download links.
#[derive(Debug, Clone)]
pub struct DownloadLinks {
    base_url: String,
    signer: Signer,
}

impl DownloadLinks {
    /// Links under `base_url` (scheme, host, optional port and path prefix; a trailing slash is
    /// ignored), signed with `secret`, valid for `ttl`.
    pub fn new(base_url: &str, secret: Vec<u8>, ttl: Duration) -> Self {
        Self {
            base_url: base_url.trim_end_matches('/').to_owned(),
            signer: Signer { secret, ttl },
        }
    }

    /// A fresh link to `id`, valid from `now` for the configured time.
    pub fn url(&self, id: AttachmentId, now: Timestamp) -> String {
        let (expires, signature) = self.signer.sign(&Self::subject(id), now);
        format!(
            "{}/attachments/{id}/download?expires={expires}&signature={signature}",
            self.base_url,
        )
    }

    /// Checks a link's query values for `id` at `now`.
    pub fn check(
        &self,
        id: AttachmentId,
        expires: &str,
        signature: &str,
        now: Timestamp,
    ) -> Result<(), LinkError> {
        self.signer
            .check(&Self::subject(id), expires, signature, now)
    }

    fn subject(id: AttachmentId) -> String {
        format!("agentsend attachment download\n{id}")
    }
}

/// Makes and checks the signed addresses of message views (an HTML body in a frame).
#[derive(Debug, Clone)]
pub struct ViewLinks {
    signer: Signer,
}

impl ViewLinks {
    /// Views signed with `secret`, valid for `ttl`.
    pub fn new(secret: Vec<u8>, ttl: Duration) -> Self {
        Self {
            signer: Signer { secret, ttl },
        }
    }

    /// The path (and query) of a fresh view of message `id`, remote images allowed or not.
    pub fn path(&self, id: MessageId, images: bool, now: Timestamp) -> String {
        let (expires, signature) = self.signer.sign(&Self::subject(id, images), now);
        format!(
            "/ui/frame/{id}?images={}&expires={expires}&signature={signature}",
            u8::from(images),
        )
    }

    /// Checks a view's query values for `id` at `now`.
    pub fn check(
        &self,
        id: MessageId,
        images: bool,
        expires: &str,
        signature: &str,
        now: Timestamp,
    ) -> Result<(), LinkError> {
        self.signer
            .check(&Self::subject(id, images), expires, signature, now)
    }

    fn subject(id: MessageId, images: bool) -> String {
        format!("agentsend message view\n{id}\n{}", u8::from(images))
    }
}

/// Makes claim links and finds their accounts' token hashes.
#[derive(Clone)]
pub struct ClaimLinks {
    base_url: String,
    secret: Vec<u8>,
}

impl std::fmt::Debug for ClaimLinks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClaimLinks")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl ClaimLinks {
    /// Links under `base_url`, tokens made with `secret`.
    pub fn new(base_url: &str, secret: Vec<u8>) -> Self {
        Self {
            base_url: base_url.trim_end_matches('/').to_owned(),
            secret,
        }
    }

    /// The account's claim token (43 URL-safe characters).
    pub fn token(&self, account_id: AccountId) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.secret)
            .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
        mac.update(format!("agentsend account claim\n{account_id}").as_bytes());
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }

    /// The account's claim link.
    pub fn url(&self, account_id: AccountId) -> String {
        format!("{}/claim/{}", self.base_url, self.token(account_id))
    }

    /// What is stored to find the account of a token (SHA-256 hex; the token itself is not
    /// stored).
    pub fn hash(token: &str) -> String {
        hex::encode(Sha256::digest(token.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(url: &str) -> (String, String) {
        let q = url.split_once('?').unwrap().1;
        let mut expires = String::new();
        let mut signature = String::new();
        for pair in q.split('&') {
            let (k, v) = pair.split_once('=').unwrap();
            match k {
                "expires" => expires = v.to_owned(),
                "signature" => signature = v.to_owned(),
                _ => panic!("unexpected parameter {k}"),
            }
        }
        (expires, signature)
    }

    #[test]
    fn a_view_is_valid_for_its_message_and_consent_until_it_expires() {
        let views = ViewLinks::new(vec![3; 32], Duration::from_secs(600));
        let id = MessageId::new();
        let now = Timestamp::from_millis(1_800_000_000_000);
        let path = views.path(id, false, now);
        assert!(path.starts_with(&format!("/ui/frame/{id}?images=0&expires=1800000600&")));
        let signature = path.rsplit_once("signature=").unwrap().1;
        assert_eq!(views.check(id, false, "1800000600", signature, now), Ok(()));
        // Consent to images is part of what is signed.
        assert_eq!(
            views.check(id, true, "1800000600", signature, now),
            Err(LinkError::Invalid)
        );
        assert_eq!(
            views.check(MessageId::new(), false, "1800000600", signature, now),
            Err(LinkError::Invalid)
        );
        assert_eq!(
            views.check(id, false, "01800000600", signature, now),
            Err(LinkError::Invalid)
        );
        assert_eq!(
            views.check(
                id,
                false,
                "1800000600",
                signature,
                now.plus(Duration::from_secs(600))
            ),
            Err(LinkError::Expired)
        );
    }

    #[test]
    fn claim_tokens_are_stable_per_account_and_secret() {
        let links = ClaimLinks::new("http://localhost:3000/", vec![1; 32]);
        let a = AccountId::new();
        assert_eq!(links.token(a), links.token(a));
        assert_eq!(links.token(a).len(), 43);
        assert_ne!(links.token(a), links.token(AccountId::new()));
        assert_ne!(
            links.token(a),
            ClaimLinks::new("http://x", vec![2; 32]).token(a)
        );
        assert_eq!(
            links.url(a),
            format!("http://localhost:3000/claim/{}", links.token(a))
        );
        assert_eq!(ClaimLinks::hash("abc").len(), 64);
    }

    #[test]
    fn a_link_is_valid_until_it_expires_and_only_for_its_id() {
        let links = DownloadLinks::new(
            "http://127.0.0.1:3000/",
            vec![7; 32],
            Duration::from_secs(3600),
        );
        let id = AttachmentId::new();
        let now = Timestamp::from_millis(1_800_000_000_000);
        let url = links.url(id, now);
        assert!(url.starts_with(&format!("http://127.0.0.1:3000/attachments/{id}/download?")));
        let (expires, signature) = query(&url);
        assert_eq!(expires, "1800003600");
        assert_eq!(links.check(id, &expires, &signature, now), Ok(()));
        let later = now.plus(Duration::from_secs(3599));
        assert_eq!(links.check(id, &expires, &signature, later), Ok(()));
        let expired = now.plus(Duration::from_secs(3600));
        assert_eq!(
            links.check(id, &expires, &signature, expired),
            Err(LinkError::Expired)
        );
        // Another id, a moved expiry (also only in form), another secret, a mangled signature.
        for (id, expires, signature, links) in [
            (
                AttachmentId::new(),
                expires.clone(),
                signature.clone(),
                &links,
            ),
            (id, "1900000000".to_owned(), signature.clone(), &links),
            (id, format!("0{expires}"), signature.clone(), &links),
            (id, format!("+{expires}"), signature.clone(), &links),
            (id, expires.clone(), signature[..62].to_owned(), &links),
            (id, expires.clone(), "zz".repeat(32), &links),
            (
                id,
                expires.clone(),
                signature.clone(),
                &DownloadLinks::new("http://x", vec![8; 32], Duration::from_secs(1)),
            ),
        ] {
            assert_eq!(
                links.check(id, &expires, &signature, now),
                Err(LinkError::Invalid),
                "{expires} {signature}"
            );
        }
    }
}
