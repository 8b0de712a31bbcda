//! Activities (跟进记录): what a rep did with an opportunity, and the touchpoints that
//! record a new lead arriving for a customer whose opportunity is already open.

use super::attachment::Attachment;
use super::opportunity::{TEXT_MAX_CHARS, truncate_chars};

/// What kind of follow-up an activity was.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum ActivityKind {
    Call,
    Visit,
    Email,
    Meeting,
    Wechat,
    Note,
    /// A new lead for the customer, recorded by the pipeline itself.
    Touchpoint,
}

impl ActivityKind {
    /// The kinds a rep may log.
    pub const LOGGABLE: [ActivityKind; 6] = [
        ActivityKind::Call,
        ActivityKind::Visit,
        ActivityKind::Email,
        ActivityKind::Meeting,
        ActivityKind::Wechat,
        ActivityKind::Note,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ActivityKind::Call => "call",
            ActivityKind::Visit => "visit",
            ActivityKind::Email => "email",
            ActivityKind::Meeting => "meeting",
            ActivityKind::Wechat => "wechat",
            ActivityKind::Note => "note",
            ActivityKind::Touchpoint => "touchpoint",
        }
    }

    /// A kind a rep may log ("Call" and " call " read as call); touchpoints are the
    /// pipeline's own and cannot be logged by hand.
    pub fn parse_loggable(kind: &str) -> Result<ActivityKind, UnknownKind> {
        let kind = kind.trim().to_ascii_lowercase();
        Self::LOGGABLE
            .into_iter()
            .find(|k| k.as_str() == kind)
            .ok_or(UnknownKind { given: kind })
    }
}

#[derive(Debug, PartialEq, thiserror::Error)]
#[error("`{given}` is not an activity kind; use one of: call, visit, email, meeting, wechat, note")]
pub struct UnknownKind {
    given: String,
}

/// A logged activity. Times are UTC milliseconds.
#[derive(Clone, Debug, PartialEq)]
pub struct Activity {
    pub activity_id: String,
    pub opportunity_id: String,
    pub kind: ActivityKind,
    pub summary: String,
    pub next_step: String,
    pub next_follow_up_at: Option<i64>,
    /// The follow-up template (跟进模板): why the contact happened and what the
    /// customer asked; empty when not given (touchpoints never have them).
    pub purpose: String,
    pub customer_questions: String,
    pub attachments: Vec<Attachment>,
    /// Set on a touchpoint: the lead that attached.
    pub lead_id: String,
    pub user_id: String,
    pub logged_at: i64,
}

/// The summary of a touchpoint: "new lead via web_form: 100 台服务器".
pub fn touchpoint_summary(source: &str, need: &str) -> String {
    let source = source.trim();
    let need = need.trim();
    let head = if source.is_empty() {
        "new lead".to_owned()
    } else {
        format!("new lead via {source}")
    };
    let summary = if need.is_empty() {
        head
    } else {
        format!("{head}: {need}")
    };
    truncate_chars(&summary, TEXT_MAX_CHARS)
}

impl std::str::FromStr for ActivityKind {
    type Err = UnknownKind;

    /// Any stored kind, touchpoint included.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == ActivityKind::Touchpoint.as_str() {
            return Ok(ActivityKind::Touchpoint);
        }
        Self::parse_loggable(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reps_log_the_six_kinds_only() {
        for kind in ActivityKind::LOGGABLE {
            assert_eq!(ActivityKind::parse_loggable(kind.as_str()), Ok(kind));
        }
        assert_eq!(
            ActivityKind::parse_loggable(" WeChat "),
            Ok(ActivityKind::Wechat)
        );
        let err = ActivityKind::parse_loggable("touchpoint")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("touchpoint") && err.contains("call, visit"),
            "{err}"
        );
        assert!(ActivityKind::parse_loggable("").is_err());
        assert_eq!("touchpoint".parse(), Ok(ActivityKind::Touchpoint));
    }

    #[test]
    fn touchpoints_say_where_the_lead_came_from_and_what_it_needs() {
        assert_eq!(
            touchpoint_summary("web_form", " 100台服务器 "),
            "new lead via web_form: 100台服务器"
        );
        assert_eq!(touchpoint_summary("", "CRM"), "new lead: CRM");
        assert_eq!(touchpoint_summary("wechat", ""), "new lead via wechat");
        assert_eq!(
            touchpoint_summary("x", &"a".repeat(5000)).chars().count(),
            TEXT_MAX_CHARS
        );
    }
}
