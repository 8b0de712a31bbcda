//! Opaque page tokens for ListOpportunities: the keyset position (created_at,
//! opportunity_id) of the last row served, hex-encoded so callers do not build or
//! depend on its shape.

use crate::store::opportunities::Cursor;

const VERSION: &str = "v1";

pub fn encode(cursor: &Cursor) -> String {
    let plain = format!("{VERSION}|{}|{}", cursor.created_at, cursor.opportunity_id);
    plain.bytes().map(|b| format!("{b:02x}")).collect()
}

/// The cursor in `token`, or `None` when it is not a token this service issued.
pub fn decode(token: &str) -> Option<Cursor> {
    if !token.len().is_multiple_of(2) || !token.is_ascii() {
        return None;
    }
    let bytes = (0..token.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&token[i..i + 2], 16).ok())
        .collect::<Option<Vec<u8>>>()?;
    let plain = String::from_utf8(bytes).ok()?;
    let mut parts = plain.splitn(3, '|');
    if parts.next()? != VERSION {
        return None;
    }
    let created_at = parts.next()?.parse().ok()?;
    let opportunity_id = parts.next()?.to_owned();
    if opportunity_id.is_empty() {
        return None;
    }
    Some(Cursor {
        created_at,
        opportunity_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip() {
        let cursor = Cursor {
            created_at: 1_700_000_000_123,
            opportunity_id: "opp_0193|x".into(),
        };
        let token = encode(&cursor);
        assert!(token.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(decode(&token), Some(cursor));
    }

    #[test]
    fn malformed_tokens_are_refused() {
        for bad in [
            "",
            "zz",
            "abc",
            "7631",
            &encode_plain("v2|1|opp"),
            &encode_plain("v1|x|opp"),
            &encode_plain("v1|1|"),
            "é1",
        ] {
            assert_eq!(decode(bad), None, "{bad:?}");
        }
    }

    fn encode_plain(plain: &str) -> String {
        plain.bytes().map(|b| format!("{b:02x}")).collect()
    }
}
