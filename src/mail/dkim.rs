//! DKIM signing of outgoing mail (RFC 6376; Ed25519 per RFC 8463) with mail-auth. A key signs
//! for one domain under one selector; [`DkimKey::dns_record`] is what the domain must publish.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use mail_auth::common::crypto::{self, Ed25519Key, RsaKey, Sha256};
use mail_auth::common::headers::HeaderWriter;
use mail_auth::dkim::generate::DkimKeyPair;
use mail_auth::dkim::{Canonicalization, DkimSigner, Done};
use rustls::pki_types::PrivateKeyDer;
use rustls::pki_types::pem::PemObject;

use crate::domain::custom_domain::{DkimAlgorithm, dkim_record_value};

/// The headers signed when present (RFC 6376 §5.4.1's list, narrowed to what we write). Those
/// absent are signed too, as absent: nobody can add them later.
const SIGNED_HEADERS: [&str; 10] = [
    "From",
    "To",
    "Cc",
    "Subject",
    "Date",
    "Message-ID",
    "In-Reply-To",
    "References",
    "MIME-Version",
    "Content-Type",
];

const NEEDED: &str =
    "an RSA key of 2048 to 8192 bits or an Ed25519 key is needed (EC keys are not supported)";

/// A signing key for a domain and selector.
pub struct DkimKey {
    domain: String,
    selector: String,
    algorithm: &'static str,
    public_key: Vec<u8>,
    signer: DkimSigner<crypto::DkimKey, Done>,
}

impl std::fmt::Debug for DkimKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the private key.
        f.debug_struct("DkimKey")
            .field("domain", &self.domain)
            .field("selector", &self.selector)
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

impl DkimKey {
    /// A key from PEM: `PRIVATE KEY` (PKCS#8: RSA of 2048 to 8192 bits, or Ed25519) or
    /// `RSA PRIVATE KEY` (PKCS#1).
    pub fn from_pem(pem: &[u8], domain: &str, selector: &str) -> Result<Self, String> {
        let der = PrivateKeyDer::from_pem_slice(pem)
            .map_err(|e| format!("not a PEM private key ({e}); {NEEDED}"))?;
        Self::from_der(der, domain, selector)
    }

    /// A new key of `algorithm`, with its private key as [`DkimKey::from_stored`] takes it
    /// back (RSA: PKCS#1 DER, 2048 bits; Ed25519: PKCS#8 DER). RSA generation takes a good
    /// fraction of a second: call it off the async threads.
    pub fn generate(
        algorithm: DkimAlgorithm,
        domain: &str,
        selector: &str,
    ) -> Result<(Self, Vec<u8>), String> {
        let pair = match algorithm {
            DkimAlgorithm::Rsa => DkimKeyPair::generate_rsa(2048),
            DkimAlgorithm::Ed25519 => DkimKeyPair::generate_ed25519(),
        }
        .map_err(|e| format!("cannot generate a DKIM key: {e}"))?;
        let (private, _) = pair.into_inner();
        let key = Self::from_stored(algorithm, &private, domain, selector)?;
        Ok((key, private))
    }

    /// A key as [`DkimKey::generate`] returned it.
    pub fn from_stored(
        algorithm: DkimAlgorithm,
        private: &[u8],
        domain: &str,
        selector: &str,
    ) -> Result<Self, String> {
        let der = match algorithm {
            DkimAlgorithm::Rsa => PrivateKeyDer::Pkcs1(private.to_vec().into()),
            DkimAlgorithm::Ed25519 => PrivateKeyDer::Pkcs8(private.to_vec().into()),
        };
        Self::from_der(der, domain, selector)
    }

    fn from_der(der: PrivateKeyDer<'_>, domain: &str, selector: &str) -> Result<Self, String> {
        let (key, algorithm, public_key) = match RsaKey::<Sha256>::from_key_der(der.clone_key()) {
            Ok(rsa) => {
                let public = rsa_spki(&rsa.public_key());
                (crypto::DkimKey::Rsa(rsa), "rsa", public)
            }
            Err(rsa_error) => {
                let PrivateKeyDer::Pkcs8(pkcs8) = &der else {
                    return Err(format!("{NEEDED} (RSA: {rsa_error})"));
                };
                // OpenSSL writes PKCS#8 v1 (no public key), which ring accepts only this way.
                let ed = Ed25519Key::from_pkcs8_maybe_unchecked_der(pkcs8.secret_pkcs8_der())
                    .map_err(|e| format!("{NEEDED} (RSA: {rsa_error}; Ed25519: {e})"))?;
                let public = ed.public_key();
                (crypto::DkimKey::Ed25519(ed), "ed25519", public)
            }
        };
        let domain = domain.to_ascii_lowercase();
        let signer = DkimSigner::from_key(key)
            .domain(domain.as_str())
            .selector(selector)
            .headers(SIGNED_HEADERS)
            .header_canonicalization(Canonicalization::Relaxed)
            .body_canonicalization(Canonicalization::Relaxed);
        Ok(Self {
            domain,
            selector: selector.to_owned(),
            algorithm,
            public_key,
            signer,
        })
    }

    /// The domain it signs for (`d=`).
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The key type as the DKIM record's `k=` names it (`rsa` or `ed25519`).
    pub fn algorithm(&self) -> &'static str {
        self.algorithm
    }

    /// The public key as the DKIM record's `p=` carries it (base64).
    pub fn public_key_base64(&self) -> String {
        STANDARD.encode(&self.public_key)
    }

    /// The TXT record to publish: its name and value.
    pub fn dns_record(&self) -> (String, String) {
        (
            format!("{}._domainkey.{}", self.selector, self.domain),
            dkim_record_value(self.algorithm, &self.public_key_base64()),
        )
    }

    /// The message with a `DKIM-Signature` header in front (relaxed/relaxed).
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, String> {
        let header = self
            .signer
            .sign(message)
            .map_err(|e| format!("DKIM signing failed: {e}"))?
            .to_header();
        let mut signed = Vec::with_capacity(header.len() + message.len());
        signed.extend_from_slice(header.as_bytes());
        signed.extend_from_slice(message);
        Ok(signed)
    }
}

/// An RSA public key (PKCS#1 `RSAPublicKey` DER) as a `SubjectPublicKeyInfo`, the form DKIM
/// records carry in `p=`.
fn rsa_spki(pkcs1: &[u8]) -> Vec<u8> {
    // SEQUENCE { OID 1.2.840.113549.1.1.1 (rsaEncryption), NULL }
    const ALGORITHM: [u8; 15] = [
        0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
    ];
    let mut bit_string = vec![0x00];
    bit_string.extend_from_slice(pkcs1);
    let mut inner = ALGORITHM.to_vec();
    inner.extend(der(0x03, &bit_string));
    der(0x30, &inner)
}

/// One DER element: tag, definite length, contents.
fn der(tag: u8, contents: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = contents.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(contents);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const MESSAGE: &[u8] =
        b"From: a@example.com\r\nTo: b@example.org\r\nSubject: hi\r\n\r\nbody\r\n";

    #[test]
    fn rsa_and_ed25519_keys_sign_and_publish_their_records() {
        for (pem, k) in [
            (
                include_bytes!("../../tests/fixtures/dkim-rsa.pem").as_slice(),
                "rsa",
            ),
            (
                include_bytes!("../../tests/fixtures/dkim-ed25519.pem").as_slice(),
                "ed25519",
            ),
        ] {
            let key = DkimKey::from_pem(pem, "Example.COM", "sel").unwrap();
            let (name, value) = key.dns_record();
            assert_eq!(name, "sel._domainkey.example.com");
            assert!(value.starts_with(&format!("v=DKIM1; k={k}; p=")), "{value}");
            let signed = key.sign(MESSAGE).unwrap();
            let text = String::from_utf8(signed).unwrap();
            assert!(text.starts_with("DKIM-Signature: "), "{text}");
            assert!(
                text.contains("d=example.com") && text.contains("s=sel"),
                "{text}"
            );
            assert!(text.ends_with(std::str::from_utf8(MESSAGE).unwrap()));
        }
        assert!(DkimKey::from_pem(b"not a key", "example.com", "s").is_err());
    }

    #[test]
    fn der_lengths_use_the_long_form_past_127_bytes() {
        assert_eq!(der(0x04, &[1, 2]), vec![0x04, 0x02, 1, 2]);
        let long = der(0x04, &[0; 300]);
        assert_eq!(&long[..4], &[0x04, 0x82, 0x01, 0x2c]);
        assert_eq!(long.len(), 304);
    }
}
