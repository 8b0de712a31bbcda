//! Outbound webhooks: the payload formats (generic JSON, WeCom and DingTalk robots),
//! DingTalk's request signing, and the retry schedule. Pure: no HTTP here.

use base64::Engine as _;
use hmac::{KeyInit, Mac};
use serde_json::json;

/// Longest URL accepted.
pub const MAX_URL_LEN: usize = 2048;
/// Attempts a delivery gets before it is given up as failed.
pub const MAX_ATTEMPTS: u32 = 8;

/// The body a webhook receives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WebhookFormat {
    GenericJson,
    WecomText,
    WecomMarkdown,
    DingtalkText,
    DingtalkMarkdown,
}

impl WebhookFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookFormat::GenericJson => "generic_json",
            WebhookFormat::WecomText => "wecom_text",
            WebhookFormat::WecomMarkdown => "wecom_markdown",
            WebhookFormat::DingtalkText => "dingtalk_text",
            WebhookFormat::DingtalkMarkdown => "dingtalk_markdown",
        }
    }

    pub fn parse(value: &str) -> Option<WebhookFormat> {
        [
            WebhookFormat::GenericJson,
            WebhookFormat::WecomText,
            WebhookFormat::WecomMarkdown,
            WebhookFormat::DingtalkText,
            WebhookFormat::DingtalkMarkdown,
        ]
        .into_iter()
        .find(|f| f.as_str() == value)
    }

    /// Robots answer HTTP 200 with `{"errcode": N}`; anything but 0 is a failure.
    pub fn is_robot(self) -> bool {
        !matches!(self, WebhookFormat::GenericJson)
    }

    pub fn is_dingtalk(self) -> bool {
        matches!(
            self,
            WebhookFormat::DingtalkText | WebhookFormat::DingtalkMarkdown
        )
    }
}

/// What a delivery reports: a reminder that fell due, or one escalation step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notice {
    /// `reminder.due` or `reminder.escalated`.
    pub event_type: String,
    pub tenant_id: String,
    pub reminder_id: String,
    pub opportunity_id: String,
    /// first_contact, follow_up, no_activity, ...
    pub kind: String,
    pub owner_rep_id: String,
    /// Who should act (owner, and the manager on a step that says so).
    pub notify_rep_ids: Vec<String>,
    pub message: String,
    /// UTC ms.
    pub due_at: i64,
    /// Escalation step (0 for reminder.due) and its action ("" for reminder.due).
    pub step: u32,
    pub action: String,
}

impl Notice {
    fn headline(&self) -> String {
        if self.step == 0 {
            format!("Reminder: {}", self.message)
        } else {
            format!(
                "Escalation step {} ({}): {}",
                self.step, self.action, self.message
            )
        }
    }

    fn who(&self) -> String {
        self.notify_rep_ids.join(", ")
    }
}

/// The request body for `format`.
pub fn render(format: WebhookFormat, notice: &Notice) -> String {
    let text = format!(
        "{}\nopportunity: {}\nfor: {}",
        notice.headline(),
        notice.opportunity_id,
        notice.who()
    );
    let markdown = format!(
        "### {}\n> opportunity: **{}**\n> kind: {}\n> for: {}",
        notice.headline(),
        notice.opportunity_id,
        notice.kind,
        notice.who()
    );
    let body = match format {
        WebhookFormat::GenericJson => json!({
            "event": notice.event_type,
            "tenant_id": notice.tenant_id,
            "reminder_id": notice.reminder_id,
            "opportunity_id": notice.opportunity_id,
            "kind": notice.kind,
            "owner_rep_id": notice.owner_rep_id,
            "notify_rep_ids": notice.notify_rep_ids,
            "message": notice.message,
            "due_at_ms": notice.due_at,
            "step": notice.step,
            "action": notice.action,
        }),
        WebhookFormat::WecomText => json!({"msgtype": "text", "text": {"content": text}}),
        WebhookFormat::WecomMarkdown => {
            json!({"msgtype": "markdown", "markdown": {"content": markdown}})
        }
        WebhookFormat::DingtalkText => json!({"msgtype": "text", "text": {"content": text}}),
        WebhookFormat::DingtalkMarkdown => json!({
            "msgtype": "markdown",
            "markdown": {"title": notice.headline(), "text": markdown},
        }),
    };
    body.to_string()
}

/// DingTalk's signature: base64(HMAC-SHA256(key = secret, "<timestamp>\n<secret>")),
/// sent URL-encoded as `&timestamp=<ms>&sign=<signature>`.
pub fn dingtalk_sign(secret: &str, timestamp_ms: i64) -> String {
    // HMAC takes keys of any length, so this cannot fail.
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    mac.update(format!("{timestamp_ms}\n{secret}").as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// The URL a DingTalk robot request goes to: signed when there is a secret.
pub fn dingtalk_url(url: &str, secret: &str, timestamp_ms: i64) -> String {
    if secret.is_empty() {
        return url.to_owned();
    }
    let sign = dingtalk_sign(secret, timestamp_ms);
    // base64 uses + / =, which must be escaped in a query string.
    let sign: String = sign
        .chars()
        .map(|c| match c {
            '+' => "%2B".to_owned(),
            '/' => "%2F".to_owned(),
            '=' => "%3D".to_owned(),
            c => c.to_string(),
        })
        .collect();
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}timestamp={timestamp_ms}&sign={sign}")
}

/// The wait before attempt `attempts + 1`: exponential from `base_ms`, capped at an hour.
pub fn retry_delay_ms(base_ms: u64, attempts: u32) -> i64 {
    let factor = 1u64 << attempts.saturating_sub(1).min(20);
    i64::try_from(base_ms.saturating_mul(factor).min(3_600_000)).unwrap_or(3_600_000)
}

/// Why a URL cannot be a webhook, if it cannot.
pub fn check_url(url: &str) -> Option<String> {
    if url.len() > MAX_URL_LEN {
        return Some(format!("must be at most {MAX_URL_LEN} characters"));
    }
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    match rest {
        Some(rest) if !rest.is_empty() && !rest.starts_with('/') => url
            .parse::<http::Uri>()
            .err()
            .map(|e| format!("is not a valid URL: {e}")),
        _ => Some("must be an http:// or https:// URL with a host".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notice(step: u32) -> Notice {
        Notice {
            event_type: "reminder.escalated".to_owned(),
            tenant_id: "acme".to_owned(),
            reminder_id: "rem_1".to_owned(),
            opportunity_id: "opp_1".to_owned(),
            kind: "no_activity".to_owned(),
            owner_rep_id: "rep_a".to_owned(),
            notify_rep_ids: vec!["rep_a".to_owned(), "boss".to_owned()],
            message: "no activity on opportunity opp_1 for 3 days".to_owned(),
            due_at: 1_000,
            step,
            action: "notify".to_owned(),
        }
    }

    fn parse(body: &str) -> serde_json::Value {
        serde_json::from_str(body).expect("json")
    }

    #[test]
    fn robot_payloads_follow_their_msgtype() {
        let wecom = parse(&render(WebhookFormat::WecomText, &notice(1)));
        assert_eq!(wecom["msgtype"], "text");
        let content = wecom["text"]["content"].as_str().expect("content");
        assert!(
            content.starts_with("Escalation step 1 (notify): no activity"),
            "{content}"
        );
        assert!(content.contains("rep_a, boss"), "{content}");
        let md = parse(&render(WebhookFormat::WecomMarkdown, &notice(0)));
        assert_eq!(md["msgtype"], "markdown");
        assert!(
            md["markdown"]["content"]
                .as_str()
                .expect("md")
                .starts_with("### Reminder:")
        );
        let ding = parse(&render(WebhookFormat::DingtalkMarkdown, &notice(0)));
        assert_eq!(ding["msgtype"], "markdown");
        assert!(
            ding["markdown"]["title"]
                .as_str()
                .expect("title")
                .starts_with("Reminder:")
        );
        assert!(ding["markdown"]["text"].is_string());
        let generic = parse(&render(WebhookFormat::GenericJson, &notice(2)));
        assert_eq!(generic["event"], "reminder.escalated");
        assert_eq!(generic["step"], 2);
        assert_eq!(generic["notify_rep_ids"][1], "boss");
    }

    #[test]
    fn dingtalk_signature_matches_its_documented_algorithm() {
        // Computed independently: printf '1700000000000\nSECtest' |
        //   openssl dgst -sha256 -hmac SECtest -binary | base64
        assert_eq!(
            dingtalk_sign("SECtest", 1_700_000_000_000),
            "aZLLrriXgn05YbwaGR7knYsLeJADjr9NwLaNNKpxh4g="
        );
        let url = dingtalk_url(
            "https://oapi.dingtalk.com/robot/send?access_token=x",
            "SECtest",
            1_700_000_000_000,
        );
        assert!(
            url.starts_with(
                "https://oapi.dingtalk.com/robot/send?access_token=x&timestamp=1700000000000&sign="
            ),
            "{url}"
        );
        assert!(!url.contains('+') && !url.ends_with('='), "{url}");
        assert_eq!(dingtalk_url("http://h/x", "", 5), "http://h/x");
    }

    #[test]
    fn retries_back_off_exponentially_up_to_an_hour() {
        assert_eq!(retry_delay_ms(1_000, 1), 1_000);
        assert_eq!(retry_delay_ms(1_000, 2), 2_000);
        assert_eq!(retry_delay_ms(1_000, 4), 8_000);
        assert_eq!(retry_delay_ms(1_000, 30), 3_600_000);
    }

    #[test]
    fn formats_round_trip_and_urls_are_checked() {
        for f in [
            "generic_json",
            "wecom_text",
            "wecom_markdown",
            "dingtalk_text",
            "dingtalk_markdown",
        ] {
            assert_eq!(WebhookFormat::parse(f).map(|f| f.as_str()), Some(f));
        }
        assert_eq!(WebhookFormat::parse("slack"), None);
        assert_eq!(
            check_url("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k"),
            None
        );
        assert_eq!(check_url("http://127.0.0.1:8080/hook"), None);
        assert!(check_url("ftp://x").is_some());
        assert!(check_url("https://").is_some());
        assert!(check_url(&format!("https://h/{}", "a".repeat(MAX_URL_LEN))).is_some());
    }
}
