//! Posted bodies as name/value pairs: JSON objects (values as text) and
//! application/x-www-form-urlencoded, the two encodings forms and inbound-mail
//! services send.

use axum::http::{HeaderMap, header};
use serde_json::Value;

#[derive(Debug, PartialEq, Eq)]
pub enum BodyError {
    /// Neither JSON nor form-encoded: 415.
    Unsupported(String),
    /// Declared JSON but not a JSON object: 400.
    Malformed(String),
}

/// The body's fields, in the order posted (a repeated name keeps its last value when
/// mapped; multi-valued JSON arrays are joined with ",").
pub fn fields(headers: &HeaderMap, body: &[u8]) -> Result<Vec<(String, String)>, BodyError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/x-www-form-urlencoded");
    let media = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    match media.as_str() {
        "application/json" => json_fields(body),
        "application/x-www-form-urlencoded" => Ok(form_fields(body)),
        other => Err(BodyError::Unsupported(format!(
            "content type `{other}` is not accepted; post application/json or application/x-www-form-urlencoded"
        ))),
    }
}

pub fn form_fields(body: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn json_fields(body: &[u8]) -> Result<Vec<(String, String)>, BodyError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| BodyError::Malformed(format!("the body is not valid JSON: {e}")))?;
    let Value::Object(object) = value else {
        return Err(BodyError::Malformed(
            "the body must be a JSON object of field names and values".to_owned(),
        ));
    };
    Ok(object
        .into_iter()
        .filter_map(|(k, v)| as_text(&v).map(|text| (k, text)))
        .collect())
}

/// A JSON value as field text: strings as they are, numbers and booleans written out,
/// arrays of those joined with ","; null and objects give nothing.
pub fn as_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().filter_map(as_text).collect();
            (!parts.is_empty()).then(|| parts.join(","))
        }
        Value::Null | Value::Object(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn with_type(content_type: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_str(content_type).unwrap(),
        );
        headers
    }

    #[test]
    fn json_and_form_bodies_give_the_same_fields() {
        let json = fields(
            &with_type("application/json; charset=utf-8"),
            r#"{"name":"王伟","employees":120,"agree":true,"tags":["a","b"],"x":null}"#.as_bytes(),
        )
        .unwrap();
        assert_eq!(
            json,
            vec![
                ("agree".into(), "true".into()),
                ("employees".into(), "120".into()),
                ("name".into(), "王伟".into()),
                ("tags".into(), "a,b".into()),
            ]
        );
        let form = fields(
            &with_type("application/x-www-form-urlencoded"),
            "name=%E7%8E%8B%E4%BC%9F&phone=138+0013+8000".as_bytes(),
        )
        .unwrap();
        assert_eq!(
            form,
            vec![
                ("name".into(), "王伟".into()),
                ("phone".into(), "138 0013 8000".into())
            ]
        );
    }

    #[test]
    fn other_bodies_are_refused() {
        assert!(matches!(
            fields(&with_type("text/xml"), b"<a/>"),
            Err(BodyError::Unsupported(_))
        ));
        assert!(matches!(
            fields(&with_type("application/json"), b"[1,2]"),
            Err(BodyError::Malformed(_))
        ));
    }
}
