//! Which browser origins may post to a form (CORS), and the headers that say so.

use axum::http::{HeaderMap, HeaderValue, header};

/// `*`, or `scheme://host[:port]` with no path, as browsers send in `Origin`.
pub fn check_origin(origin: &str) -> Result<(), String> {
    if origin == "*" {
        return Ok(());
    }
    let origin = origin.trim_end_matches('/');
    let rest = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"));
    match rest {
        Some(host)
            if !host.is_empty()
                && host.bytes().all(|b| {
                    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']')
                }) =>
        {
            Ok(())
        }
        _ => Err(format!(
            "`{origin}` must be `*` or an origin like https://www.example.com (scheme, host, optional port; no path)"
        )),
    }
}

/// Whether `origin` is one of the form's allowed origins (case-insensitive host).
pub fn allows(allowed: &[String], origin: &str) -> bool {
    allowed
        .iter()
        .any(|a| a == "*" || a.eq_ignore_ascii_case(origin))
}

/// Headers that let the browser read the answer.
pub fn add_headers(headers: &mut HeaderMap, origin: &str) {
    if let Ok(value) = HeaderValue::from_str(origin) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
    }
    headers.insert(header::VARY, HeaderValue::from_static("Origin"));
}

/// The preflight answer's extra headers.
pub fn add_preflight_headers(headers: &mut HeaderMap, origin: &str) {
    add_headers(headers, origin);
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("POST, OPTIONS"),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("Content-Type, Idempotency-Key"),
    );
    headers.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("600"),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_scheme_and_host() {
        assert!(check_origin("https://www.example.com").is_ok());
        assert!(check_origin("http://localhost:8080").is_ok());
        assert!(check_origin("*").is_ok());
        assert!(check_origin("www.example.com").is_err());
        assert!(check_origin("https://example.com/contact").is_err());
    }

    #[test]
    fn only_listed_origins_are_allowed() {
        let allowed = vec!["https://www.example.com".to_owned()];
        assert!(allows(&allowed, "https://WWW.example.com"));
        assert!(!allows(&allowed, "https://evil.example"));
        assert!(allows(&["*".to_owned()], "https://anyone.example"));
    }
}
