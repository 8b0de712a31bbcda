//! Floods: too many submissions from one client address, or for one phone or e-mail,
//! within a window. The store keeps, per subject, the count of the current fixed window
//! and of the one before; the rate is estimated as a sliding window (the previous count
//! weighted by how much of it still overlaps), so a burst straddling a window boundary
//! is not let through twice.

use shangji_contracts::common::Lead;

use super::{Problem, phone};

/// Flood thresholds (0: no limit) and the window they apply to.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FloodLimits {
    pub window_ms: i64,
    pub per_address: u32,
    pub per_contact: u32,
}

/// What is counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SubjectKind {
    Address,
    Phone,
    Email,
}

impl SubjectKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SubjectKind::Address => "address",
            SubjectKind::Phone => "phone",
            SubjectKind::Email => "email",
        }
    }

    /// The field a flood flag names.
    pub fn field(self) -> &'static str {
        match self {
            SubjectKind::Address => "client_address",
            SubjectKind::Phone => "lead.phone",
            SubjectKind::Email => "lead.email",
        }
    }
}

/// One thing counted: its kind and its normalised value.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Subject {
    pub kind: SubjectKind,
    pub value: String,
}

/// The subjects a submission counts against, those with a limit only: the client
/// address (when the channel knows it), the phone's digits, the e-mail in lower case.
pub fn subjects(lead: &Lead, client_address: Option<&str>, limits: &FloodLimits) -> Vec<Subject> {
    let mut subjects = Vec::new();
    if limits.window_ms <= 0 {
        return subjects;
    }
    if limits.per_address > 0
        && let Some(address) = client_address.map(str::trim).filter(|a| !a.is_empty())
    {
        subjects.push(Subject {
            kind: SubjectKind::Address,
            value: address.to_owned(),
        });
    }
    if limits.per_contact > 0 {
        let digits = phone::parse(&lead.phone).national;
        if !digits.is_empty() {
            subjects.push(Subject {
                kind: SubjectKind::Phone,
                value: digits,
            });
        }
        let email = lead.email.trim().to_lowercase();
        if !email.is_empty() {
            subjects.push(Subject {
                kind: SubjectKind::Email,
                value: email,
            });
        }
    }
    subjects
}

/// The start of the fixed window `now` falls in.
pub fn window_start(now: i64, window_ms: i64) -> i64 {
    now - now.rem_euclid(window_ms)
}

/// Submissions in the last `window_ms`, estimated from the current window's count and
/// the previous one's, weighted by the part of it still inside the sliding window.
pub fn estimate(current: i64, previous: i64, window_start: i64, now: i64, window_ms: i64) -> f64 {
    let elapsed = (now - window_start).clamp(0, window_ms) as f64 / window_ms as f64;
    current as f64 + previous as f64 * (1.0 - elapsed)
}

/// The flood flag for a subject counted `estimated` times, if over its limit.
pub fn check(subject: &Subject, estimated: f64, limits: &FloodLimits) -> Option<Problem> {
    let limit = match subject.kind {
        SubjectKind::Address => limits.per_address,
        SubjectKind::Phone | SubjectKind::Email => limits.per_contact,
    };
    let count = estimated.ceil() as i64;
    if limit == 0 || count <= i64::from(limit) {
        return None;
    }
    let minutes = limits.window_ms / 60_000;
    let value = &subject.value;
    let (what_zh, what_en) = match subject.kind {
        SubjectKind::Address => (
            format!("来自地址 {value} 的提交"),
            format!("submissions from address {value}"),
        ),
        SubjectKind::Phone => (
            format!("电话 {value} 的提交"),
            format!("submissions for phone {value}"),
        ),
        SubjectKind::Email => (
            format!("邮箱 {value} 的提交"),
            format!("submissions for e-mail {value}"),
        ),
    };
    Some((
        format!("{minutes} 分钟内{what_zh}约 {count} 次，超过上限 {limit}"),
        format!("about {count} {what_en} within {minutes} minutes, more than the limit of {limit}"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: FloodLimits = FloodLimits {
        window_ms: 3_600_000,
        per_address: 30,
        per_contact: 10,
    };

    #[test]
    fn subjects_are_normalised_and_only_counted_with_a_limit() {
        let lead = Lead {
            phone: "+86 138-0013-8000".into(),
            email: " Wang@Huawei.COM ".into(),
            ..Default::default()
        };
        let found = subjects(&lead, Some("203.0.113.9"), &LIMITS);
        let values: Vec<&str> = found.iter().map(|s| s.value.as_str()).collect();
        assert_eq!(values, ["203.0.113.9", "13800138000", "wang@huawei.com"]);
        assert_eq!(subjects(&lead, None, &LIMITS).len(), 2);
        let off = FloodLimits {
            per_contact: 0,
            ..LIMITS
        };
        assert_eq!(subjects(&lead, None, &off), []);
    }

    #[test]
    fn the_previous_window_fades_out() {
        let start = window_start(7_300_000, 3_600_000);
        assert_eq!(start, 7_200_000);
        assert_eq!(estimate(3, 10, start, start, 3_600_000), 13.0);
        assert_eq!(estimate(3, 10, start, start + 1_800_000, 3_600_000), 8.0);
        assert_eq!(estimate(3, 10, start, start + 3_600_000, 3_600_000), 3.0);
    }

    #[test]
    fn only_counts_over_the_limit_are_floods() {
        let phone = Subject {
            kind: SubjectKind::Phone,
            value: "13800138000".into(),
        };
        assert_eq!(check(&phone, 10.0, &LIMITS), None);
        let (zh, en) = check(&phone, 10.2, &LIMITS).unwrap();
        assert!(
            zh.contains("60 分钟内电话 13800138000 的提交约 11 次"),
            "{zh}"
        );
        assert!(en.contains("more than the limit of 10"), "{en}");
        let address = Subject {
            kind: SubjectKind::Address,
            value: "203.0.113.9".into(),
        };
        assert_eq!(check(&address, 30.0, &LIMITS), None);
        assert!(check(&address, 31.0, &LIMITS).is_some());
    }
}
