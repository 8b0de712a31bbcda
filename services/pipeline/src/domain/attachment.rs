//! Attachments by reference: the pipeline stores where a file lives (object storage, a
//! document system), never the file. The reference is checked so a rep cannot attach
//! something a colleague's browser would refuse or misread.

/// A referenced file on an activity.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Attachment {
    pub uri: String,
    pub name: String,
    pub content_type: String,
    pub size_bytes: u64,
}

pub const MAX_ATTACHMENTS: usize = 20;
const URI_MAX_BYTES: usize = 2048;
const NAME_MAX_CHARS: usize = 255;
const SCHEMES: [&str; 3] = ["https", "http", "s3"];

/// What is wrong with one attachment, per field.
#[derive(Debug, PartialEq, thiserror::Error)]
pub enum AttachmentError {
    #[error("uri is required")]
    MissingUri,
    #[error("uri is longer than {URI_MAX_BYTES} bytes")]
    UriTooLong,
    #[error("uri `{0}` is not an absolute https, http or s3 URI with a host")]
    BadUri(String),
    #[error("name is required")]
    MissingName,
    #[error("name is longer than {NAME_MAX_CHARS} characters")]
    NameTooLong,
    #[error("content_type `{0}` is not a media type such as application/pdf")]
    BadContentType(String),
    #[error("size_bytes is too large")]
    TooLarge,
}

impl AttachmentError {
    /// The request field the error is about.
    pub fn field(&self) -> &'static str {
        match self {
            Self::MissingUri | Self::UriTooLong | Self::BadUri(_) => "uri",
            Self::MissingName | Self::NameTooLong => "name",
            Self::BadContentType(_) => "content_type",
            Self::TooLarge => "size_bytes",
        }
    }
}

/// The attachment trimmed and checked; every problem, in field order.
pub fn validate(
    uri: &str,
    name: &str,
    content_type: &str,
    size_bytes: u64,
) -> Result<Attachment, Vec<AttachmentError>> {
    let mut errors = Vec::new();
    let uri = uri.trim();
    if uri.is_empty() {
        errors.push(AttachmentError::MissingUri);
    } else if uri.len() > URI_MAX_BYTES {
        errors.push(AttachmentError::UriTooLong);
    } else if !valid_uri(uri) {
        errors.push(AttachmentError::BadUri(uri.to_owned()));
    }
    let name = name.trim();
    if name.is_empty() {
        errors.push(AttachmentError::MissingName);
    } else if name.chars().count() > NAME_MAX_CHARS {
        errors.push(AttachmentError::NameTooLong);
    }
    let content_type = content_type.trim().to_ascii_lowercase();
    if !content_type.is_empty() && !valid_media_type(&content_type) {
        errors.push(AttachmentError::BadContentType(content_type.clone()));
    }
    // Stored as a signed 64-bit integer.
    if i64::try_from(size_bytes).is_err() {
        errors.push(AttachmentError::TooLarge);
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Attachment {
        uri: uri.to_owned(),
        name: name.to_owned(),
        content_type,
        size_bytes,
    })
}

/// scheme://host[/path...], scheme one we allow, printable ASCII without spaces (a
/// non-ASCII name must be percent-encoded, as in any URI).
fn valid_uri(uri: &str) -> bool {
    let Some((scheme, rest)) = uri.split_once("://") else {
        return false;
    };
    if !SCHEMES.contains(&scheme.to_ascii_lowercase().as_str()) {
        return false;
    }
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = host.rsplit('@').next().unwrap_or_default();
    !host.is_empty()
        && !host.starts_with(':')
        && uri.bytes().all(|b| b.is_ascii_graphic())
        && !uri.contains(['<', '>', '"', '\\', '{', '}', '|', '^', '`'])
}

/// type/subtype of token characters, parameters allowed after ';'.
fn valid_media_type(value: &str) -> bool {
    let essence = value.split(';').next().unwrap_or_default().trim();
    let token = |t: &str| {
        !t.is_empty()
            && t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&^_.+-".contains(&b))
    };
    matches!(essence.split_once('/'), Some((kind, sub)) if token(kind) && token(sub))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_references_are_kept_trimmed() {
        let a = validate(
            " https://files.example.cn/q/报价.pdf "
                .replace("报价", "%E6%8A%A5%E4%BB%B7")
                .as_str(),
            " 报价单.pdf ",
            "Application/PDF",
            52_311,
        )
        .unwrap();
        assert_eq!(a.uri, "https://files.example.cn/q/%E6%8A%A5%E4%BB%B7.pdf");
        assert_eq!(a.name, "报价单.pdf");
        assert_eq!(a.content_type, "application/pdf");
        for uri in [
            "s3://bucket/key",
            "http://intranet:8080/x?y=1",
            "https://u@h/",
        ] {
            assert!(validate(uri, "f", "", 0).is_ok(), "{uri}");
        }
    }

    #[test]
    fn bad_references_name_each_field() {
        for uri in [
            "ftp://h/x",
            "javascript:alert(1)",
            "https://",
            "https:///path",
            "files/x.pdf",
            "https://h/a b",
            "https://h/报价.pdf",
            "https://h/<x>",
        ] {
            let errors = validate(uri, "f", "", 0).unwrap_err();
            assert_eq!(errors, [AttachmentError::BadUri(uri.into())], "{uri}");
        }
        let errors = validate("", " ", "pdf", u64::MAX).unwrap_err();
        let fields: Vec<_> = errors.iter().map(AttachmentError::field).collect();
        assert_eq!(fields, ["uri", "name", "content_type", "size_bytes"]);
        assert!(
            validate(&format!("https://h/{}", "a".repeat(3000)), "f", "", 0)
                .unwrap_err()
                .contains(&AttachmentError::UriTooLong)
        );
        assert_eq!(
            validate("https://h/", &"名".repeat(256), "", 0).unwrap_err(),
            [AttachmentError::NameTooLong]
        );
        assert!(validate("https://h/", "f", "text/plain; charset=utf-8", 1).is_ok());
    }
}
