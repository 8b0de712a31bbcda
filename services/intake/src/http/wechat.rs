//! WeChat Official Account server callbacks (plaintext mode), as its public developer
//! documentation describes: the server URL is verified with a GET carrying
//! `signature`, `timestamp`, `nonce` and `echostr`, where signature =
//! hex(sha1(the token, timestamp and nonce sorted and concatenated)), answered with
//! `echostr`; messages arrive as POSTs of a flat XML document with the same query
//! parameters, and the platform expects the text `success` (or a reply message).

use sha1::{Digest as _, Sha1};

use super::signature::constant_time_eq;

/// The signature WeChat computes for `token`, `timestamp` and `nonce`.
pub fn signature(token: &str, timestamp: &str, nonce: &str) -> String {
    let mut parts = [token, timestamp, nonce];
    parts.sort_unstable();
    hex::encode(Sha1::digest(parts.concat().as_bytes()))
}

pub fn verify(token: &str, timestamp: &str, nonce: &str, given: &str) -> bool {
    !timestamp.is_empty()
        && !nonce.is_empty()
        && constant_time_eq(
            signature(token, timestamp, nonce).as_bytes(),
            given.trim().to_ascii_lowercase().as_bytes(),
        )
}

/// One message as WeChat pushes it (the fields a lead needs).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Message {
    pub to_user: String,
    /// The sender's OpenID for this Official Account.
    pub from_user: String,
    pub create_time: String,
    /// `text`, `image`, `voice`, `event`, ...
    pub msg_type: String,
    pub content: String,
    /// Unique per message; events carry none.
    pub msg_id: String,
}

/// Parses the flat `<xml>...</xml>` document. Only the elements WeChat sends at the top
/// level are read, so a tiny reader is enough: each value is text or CDATA.
pub fn parse(xml: &str) -> Result<Message, String> {
    let root = element(xml, "xml").ok_or("the body must be a WeChat <xml> message")?;
    let get = |tag: &str| element(root, tag).map(text).unwrap_or_default();
    let message = Message {
        to_user: get("ToUserName"),
        from_user: get("FromUserName"),
        create_time: get("CreateTime"),
        msg_type: get("MsgType"),
        content: get("Content"),
        msg_id: get("MsgId"),
    };
    if message.from_user.is_empty() || message.msg_type.is_empty() {
        return Err("the message lacks FromUserName or MsgType".to_owned());
    }
    Ok(message)
}

/// The inside of the first `<tag>...</tag>`.
fn element<'a>(xml: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = start + xml[start..].find(&close)?;
    Some(&xml[start..end])
}

/// Element text: CDATA as it is, otherwise with the five XML entities decoded.
fn text(inner: &str) -> String {
    let inner = inner.trim();
    if let Some(cdata) = inner
        .strip_prefix("<![CDATA[")
        .and_then(|s| s.strip_suffix("]]>"))
    {
        return cdata.to_owned();
    }
    inner
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_sha1_of_the_sorted_parts() {
        // sha1("1234567890" + "nonce42" + "shangjitoken"), sorted byte-wise.
        let expected = hex::encode(Sha1::digest(b"1234567890nonce42shangjitoken"));
        assert_eq!(signature("shangjitoken", "1234567890", "nonce42"), expected);
        assert!(verify("shangjitoken", "1234567890", "nonce42", &expected));
        assert!(!verify("shangjitoken", "1234567891", "nonce42", &expected));
        assert!(!verify(
            "shangjitoken",
            "",
            "",
            &signature("shangjitoken", "", "")
        ));
    }

    #[test]
    fn a_text_message_is_read_from_its_xml() {
        let xml = "<xml><ToUserName><![CDATA[gh_123]]></ToUserName>\
            <FromUserName><![CDATA[oUser-openid]]></FromUserName>\
            <CreateTime>1348831860</CreateTime><MsgType><![CDATA[text]]></MsgType>\
            <Content><![CDATA[我想了解 CRM，电话 13800138000 <急>]]></Content>\
            <MsgId>1234567890123456</MsgId></xml>";
        let m = parse(xml).unwrap();
        assert_eq!(m.from_user, "oUser-openid");
        assert_eq!(m.msg_type, "text");
        assert_eq!(m.content, "我想了解 CRM，电话 13800138000 <急>");
        assert_eq!(m.msg_id, "1234567890123456");
        assert_eq!(
            parse("<xml><FromUserName>a</FromUserName><MsgType>text</MsgType><Content>a &amp; b</Content></xml>")
                .unwrap()
                .content,
            "a & b"
        );
        assert!(parse("not xml").is_err());
    }
}
