//! Inbound e-mail parse payloads (as SendGrid's and Mailgun's inbound parse post them):
//! the sender becomes the contact, subject and body the need, and a phone number
//! written in the body the lead's phone.

use std::sync::LazyLock;

use regex::Regex;

use super::mapping::Filled;

/// The `need` field takes at most this many characters; longer mails are cut.
const MAX_NEED: usize = 2000;

/// Mainland mobile numbers (with +86/86 and spaces or dashes), else international
/// numbers written with a leading +.
static PHONE: LazyLock<Vec<Regex>> = LazyLock::new(|| {
    [
        r"(?:\+?86[\s-]?)?1[3-9]\d(?:[\s-]?\d){8}",
        r"\+\d{1,3}[\s-]?\d(?:[\s-]?\d){5,13}",
    ]
    .iter()
    // The patterns are constants, checked by the unit tests.
    .map(|p| Regex::new(p).expect("valid phone pattern"))
    .collect()
});

/// The first phone number written in `text`.
pub fn find_phone(text: &str) -> Option<String> {
    PHONE
        .iter()
        .find_map(|re| re.find(text).map(|m| m.as_str().to_owned()))
}

/// `"王伟" <wang@example.com>` -> ("王伟", "wang@example.com"); a bare address gives no name.
pub fn parse_from(from: &str) -> (String, String) {
    let from = from.trim();
    match (from.rfind('<'), from.rfind('>')) {
        (Some(open), Some(close)) if open < close => {
            let name = from[..open].trim().trim_matches('"').trim().to_owned();
            (name, from[open + 1..close].trim().to_owned())
        }
        _ => (String::new(), from.to_owned()),
    }
}

/// The lead an inbound mail describes. `fields` are the posted name/value pairs.
pub fn lead_of(fields: &[(String, String)]) -> Filled {
    let get = |names: &[&str]| {
        names.iter().find_map(|n| {
            fields
                .iter()
                .find(|(k, v)| k.eq_ignore_ascii_case(n) && !v.trim().is_empty())
                .map(|(_, v)| v.trim().to_owned())
        })
    };
    let mut filled = Filled::default();
    let (name, address) = parse_from(&get(&["from", "sender"]).unwrap_or_default());
    // Without a display name, the mailbox name still says who wrote.
    let name = if name.is_empty() {
        address.split('@').next().unwrap_or_default().to_owned()
    } else {
        name
    };
    filled.set("contact_name", &name);
    filled.set("email", &address);
    let subject = get(&["subject"]).unwrap_or_default();
    let body = get(&["text", "body", "body-plain", "stripped-text", "plain"]).unwrap_or_default();
    let need: String = [subject.as_str(), body.as_str()]
        .iter()
        .filter(|p| !p.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join("\n\n")
        .chars()
        .take(MAX_NEED)
        .collect();
    filled.set("need", &need);
    if let Some(phone) = find_phone(&body).or_else(|| find_phone(&subject)) {
        filled.set("phone", &phone);
    }
    filled
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn senders_are_split_into_name_and_address() {
        assert_eq!(
            parse_from("\"王伟\" <wang.wei@example.com>"),
            ("王伟".into(), "wang.wei@example.com".into())
        );
        assert_eq!(
            parse_from("wang.wei@example.com"),
            (String::new(), "wang.wei@example.com".into())
        );
    }

    #[test]
    fn phones_are_found_in_text() {
        assert_eq!(
            find_phone("请回电 138-0013-8000，谢谢").as_deref(),
            Some("138-0013-8000")
        );
        assert_eq!(
            find_phone("call +86 13800138000").as_deref(),
            Some("+86 13800138000")
        );
        assert_eq!(
            find_phone("office +44 20 7946 0958").as_deref(),
            Some("+44 20 7946 0958")
        );
        assert_eq!(find_phone("order 2026 in 3 weeks"), None);
    }

    #[test]
    fn a_mail_becomes_a_lead() {
        let fields = vec![
            (
                "from".to_owned(),
                "Wang Wei <wang.wei@example.com>".to_owned(),
            ),
            ("subject".to_owned(), "CRM 报价".to_owned()),
            (
                "text".to_owned(),
                "我们 50 人团队，电话 13800138000".to_owned(),
            ),
        ];
        let f = lead_of(&fields);
        assert_eq!(f.lead.contact_name, "Wang Wei");
        assert_eq!(f.lead.email, "wang.wei@example.com");
        assert_eq!(f.lead.phone, "13800138000");
        assert_eq!(f.lead.need, "CRM 报价\n\n我们 50 人团队，电话 13800138000");
        let bare = lead_of(&[("from".to_owned(), "li@example.com".to_owned())]);
        assert_eq!(bare.lead.contact_name, "li");
    }
}
