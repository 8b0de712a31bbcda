//! Opaque page tokens for ListReviewQueue: the keyset position (created_at, review_id)
//! of the last item served, hex-encoded so callers neither build nor depend on it.

use crate::store::review::Cursor;

const VERSION: &str = "r1";

pub fn encode(cursor: &Cursor) -> String {
    let plain = format!("{VERSION}|{}|{}", cursor.created_at, cursor.review_id);
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
    let review_id = parts.next()?.to_owned();
    if review_id.is_empty() {
        return None;
    }
    Some(Cursor {
        created_at,
        review_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode_plain(plain: &str) -> String {
        plain.bytes().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn tokens_round_trip_and_foreign_ones_are_refused() {
        let cursor = Cursor {
            created_at: 1_700_000_000_123,
            review_id: "rev_0193|x".into(),
        };
        let token = encode(&cursor);
        assert!(token.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(decode(&token), Some(cursor));
        for bad in [
            "",
            "zz",
            "abc",
            &encode_plain("v1|1|rev"),
            &encode_plain("r1|x|rev"),
            &encode_plain("r1|1|"),
            "é1",
        ] {
            assert_eq!(decode(bad), None, "{bad:?}");
        }
    }
}
