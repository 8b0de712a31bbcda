//! Opaque page tokens for ListOpportunities: the sort the list was served in and the
//! keyset position (sort key, opportunity_id) of the last row served, hex-encoded so
//! callers do not build or depend on its shape. A token carries its sort, so a token
//! used with a different sort is refused instead of silently skipping or repeating rows.

use crate::store::opportunities::{Cursor, Sort, SortField, SortKey};

const VERSION: &str = "v2";
/// Tokens issued before sorts existed: (created_at, opportunity_id), newest first.
const VERSION_CREATED: &str = "v1";

pub fn encode(sort: Sort, cursor: &Cursor) -> String {
    let direction = if sort.descending { "d" } else { "a" };
    let key = match cursor.key {
        SortKey::Int(v) => v.to_string(),
        // Display prints the shortest form that parses back to the same f64.
        SortKey::Real(v) => v.to_string(),
    };
    let plain = format!(
        "{VERSION}|{}|{direction}|{key}|{}",
        sort.field.as_str(),
        cursor.opportunity_id
    );
    plain.bytes().map(|b| format!("{b:02x}")).collect()
}

/// The sort and cursor in `token`, or `None` when it is not a token this service issued.
pub fn decode(token: &str) -> Option<(Sort, Cursor)> {
    if !token.len().is_multiple_of(2) || !token.is_ascii() {
        return None;
    }
    let bytes = (0..token.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&token[i..i + 2], 16).ok())
        .collect::<Option<Vec<u8>>>()?;
    let plain = String::from_utf8(bytes).ok()?;
    let (sort, rest) = match plain.split_once('|')? {
        (VERSION_CREATED, rest) => (Sort::default(), rest.to_owned()),
        (VERSION, rest) => {
            let mut parts = rest.splitn(3, '|');
            let field = SortField::parse(parts.next()?)?;
            let descending = match parts.next()? {
                "d" => true,
                "a" => false,
                _ => return None,
            };
            (Sort { field, descending }, parts.next()?.to_owned())
        }
        _ => return None,
    };
    let (key, opportunity_id) = rest.split_once('|')?;
    let key = if sort.field.is_real() {
        SortKey::Real(key.parse::<f64>().ok().filter(|v| v.is_finite())?)
    } else {
        SortKey::Int(key.parse().ok()?)
    };
    if opportunity_id.is_empty() {
        return None;
    }
    Some((
        sort,
        Cursor {
            key,
            opportunity_id: opportunity_id.to_owned(),
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_under_every_sort() {
        for field in SortField::ALL {
            for descending in [true, false] {
                let sort = Sort { field, descending };
                let key = if field.is_real() {
                    SortKey::Real(1234.5678901234567)
                } else {
                    SortKey::Int(1_700_000_000_123)
                };
                let cursor = Cursor {
                    key,
                    opportunity_id: "opp_0193|x".into(),
                };
                let token = encode(sort, &cursor);
                assert!(token.bytes().all(|b| b.is_ascii_hexdigit()));
                assert_eq!(decode(&token), Some((sort, cursor)));
            }
        }
    }

    #[test]
    fn tokens_from_before_sorts_still_page_newest_first() {
        assert_eq!(
            decode(&encode_plain("v1|17|opp_1")),
            Some((
                Sort::default(),
                Cursor {
                    key: SortKey::Int(17),
                    opportunity_id: "opp_1".into()
                }
            ))
        );
    }

    #[test]
    fn malformed_tokens_are_refused() {
        for bad in [
            "",
            "zz",
            "abc",
            "7631",
            &encode_plain("v3|1|opp"),
            &encode_plain("v1|x|opp"),
            &encode_plain("v1|1|"),
            &encode_plain("v2|size|d|1|opp"),
            &encode_plain("v2|amount|x|1|opp"),
            &encode_plain("v2|amount|d|NaN|opp"),
            &encode_plain("v2|created|d|1.5|opp"),
            &encode_plain("v2|created|d|1"),
            "é1",
        ] {
            assert_eq!(decode(bad), None, "{bad:?}");
        }
    }

    fn encode_plain(plain: &str) -> String {
        plain.bytes().map(|b| format!("{b:02x}")).collect()
    }
}
