//! Webhook signatures. Generic and e-mail connectors: `X-Shangji-Signature:
//! sha256=<hex>`, the HMAC-SHA256 of the raw body under the connector's secret; with
//! `X-Shangji-Timestamp: <unix seconds>` the MAC covers `<timestamp>.<body>` and the
//! timestamp must be within the allowed skew, so a captured call cannot be replayed
//! later. Compared in constant time.

use hmac::{KeyInit, Mac};

#[derive(Debug, PartialEq, Eq)]
pub enum SignatureError {
    Missing,
    Malformed,
    Mismatch,
    /// The timestamp is outside the allowed window (or not a number).
    Stale,
}

impl SignatureError {
    pub fn describe(&self) -> &'static str {
        match self {
            SignatureError::Missing => {
                "missing X-Shangji-Signature: sign the raw body with HMAC-SHA256 under the connector's secret"
            }
            SignatureError::Malformed => "X-Shangji-Signature must be sha256=<hex digest>",
            SignatureError::Mismatch => "the signature does not match the body",
            SignatureError::Stale => {
                "X-Shangji-Timestamp must be the current unix time in seconds (within the allowed skew)"
            }
        }
    }
}

type HmacSha256 = hmac::Hmac<webhook_sha2::Sha256>;

fn mac(secret: &str, timestamp: Option<&str>, body: &[u8]) -> HmacSha256 {
    // Any key length is valid for HMAC, so this cannot fail.
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).expect("hmac takes any key");
    if let Some(ts) = timestamp {
        mac.update(ts.as_bytes());
        mac.update(b".");
    }
    mac.update(body);
    mac
}

/// The header value a sender puts in `X-Shangji-Signature`.
#[cfg(test)]
fn sign(secret: &str, timestamp: Option<&str>, body: &[u8]) -> String {
    format!(
        "sha256={}",
        hex::encode(mac(secret, timestamp, body).finalize().into_bytes())
    )
}

pub fn verify(
    secret: &str,
    body: &[u8],
    signature: Option<&str>,
    timestamp: Option<&str>,
    now_secs: i64,
    max_skew_secs: u64,
) -> Result<(), SignatureError> {
    let signature = signature.ok_or(SignatureError::Missing)?.trim();
    let digest = signature
        .strip_prefix("sha256=")
        .and_then(|h| hex::decode(h).ok())
        .ok_or(SignatureError::Malformed)?;
    let timestamp = timestamp.map(str::trim);
    if let Some(ts) = timestamp {
        let sent: i64 = ts.parse().map_err(|_| SignatureError::Stale)?;
        if sent.abs_diff(now_secs) > max_skew_secs {
            return Err(SignatureError::Stale);
        }
    }
    mac(secret, timestamp, body)
        .verify_slice(&digest)
        .map_err(|_| SignatureError::Mismatch)
}

/// Equality that takes as long whatever the first differing byte (WeChat's SHA-1
/// signature is compared as text).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec-0123456789abcdef";

    #[test]
    fn a_signed_body_verifies_and_a_changed_one_does_not() {
        let body = br#"{"phone":"13800138000"}"#;
        let sig = sign(SECRET, None, body);
        assert_eq!(verify(SECRET, body, Some(&sig), None, 0, 300), Ok(()));
        assert_eq!(
            verify(SECRET, b"{}", Some(&sig), None, 0, 300),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify("another-secret-xxxxxxxx", body, Some(&sig), None, 0, 300),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(SECRET, body, None, None, 0, 300),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            verify(SECRET, body, Some("md5=abc"), None, 0, 300),
            Err(SignatureError::Malformed)
        );
    }

    #[test]
    fn a_timestamp_is_signed_and_must_be_recent() {
        let body = b"{}";
        let sig = sign(SECRET, Some("1700000000"), body);
        assert_eq!(
            verify(
                SECRET,
                body,
                Some(&sig),
                Some("1700000000"),
                1_700_000_100,
                300
            ),
            Ok(())
        );
        assert_eq!(
            verify(
                SECRET,
                body,
                Some(&sig),
                Some("1700000000"),
                1_700_000_400,
                300
            ),
            Err(SignatureError::Stale)
        );
        // Changing the timestamp breaks the signature.
        assert_eq!(
            verify(
                SECRET,
                body,
                Some(&sig),
                Some("1700000001"),
                1_700_000_100,
                300
            ),
            Err(SignatureError::Mismatch)
        );
    }
}
