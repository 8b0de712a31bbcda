//! Reminder policies: which rules apply to an opportunity in a stage, and the
//! escalation ladder a reminder climbs while it stays open.

use serde::{Deserialize, Serialize};

/// Hours accepted for a first contact at most (a year).
pub const MAX_FIRST_CONTACT_HOURS: u32 = 24 * 366;
/// Days accepted for any day-counted rule or step at most (ten years).
pub const MAX_DAYS: u32 = 3660;
/// Rungs accepted on one ladder at most.
pub const MAX_LADDER_STEPS: usize = 10;
/// Longest stage name accepted.
pub const MAX_STAGE_LEN: usize = 64;

/// What a ladder step does beyond notifying.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EscalationAction {
    Notify,
    MarkHighRisk,
    /// Mark high-risk, and have assignment return the opportunity to the pool.
    ReturnToPool,
}

impl EscalationAction {
    /// The name `ReminderEscalated.action` carries.
    pub fn as_str(self) -> &'static str {
        match self {
            EscalationAction::Notify => "notify",
            EscalationAction::MarkHighRisk => "mark_high_risk",
            EscalationAction::ReturnToPool => "return_to_pool",
        }
    }

    pub fn marks_high_risk(self) -> bool {
        !matches!(self, EscalationAction::Notify)
    }
}

/// One rung: taken `after_days` after the reminder fell due (or after the last activity
/// or stage change, which restart the ladder), if the reminder is still open.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EscalationStep {
    pub after_days: u32,
    pub notify_manager: bool,
    pub action: EscalationAction,
}

/// The rules of one policy; a zero (or false) turns a rule off.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyRules {
    pub first_contact_hours: u32,
    pub no_activity_days: u32,
    pub stage_age_days: u32,
    pub close_overdue: bool,
    pub escalation: Vec<EscalationStep>,
    /// Days are working days and hours working hours of the tenant's calendar.
    #[serde(default)]
    pub business_time: bool,
}

impl PolicyRules {
    /// Today's behaviour, for a tenant that set no policy: a first contact within the
    /// configured hours, follow-ups when the rep plans them, nothing else.
    pub fn builtin(first_contact_hours: u32) -> PolicyRules {
        PolicyRules {
            first_contact_hours,
            ..PolicyRules::default()
        }
    }

    /// The ladder step after `taken` steps, if any.
    pub fn next_step(&self, taken: u32) -> Option<&EscalationStep> {
        self.escalation.get(taken as usize)
    }
}

/// A policy in force: its rules and where they come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    /// Empty for the built-in default.
    pub policy_id: String,
    /// 0 for the built-in default.
    pub version: u32,
    /// Empty for a tenant default.
    pub stage: String,
    pub rules: PolicyRules,
}

impl Policy {
    pub fn builtin(first_contact_hours: u32) -> Policy {
        Policy {
            policy_id: String::new(),
            version: 0,
            stage: String::new(),
            rules: PolicyRules::builtin(first_contact_hours),
        }
    }

    /// Whether an opening opportunity gets a first-contact reminder. A stored policy
    /// turns the rule off with 0 hours; the built-in one keeps the service setting's
    /// meaning, where 0 means "due at once".
    pub fn wants_first_contact(&self) -> bool {
        self.policy_id.is_empty() || self.rules.first_contact_hours > 0
    }
}

/// A field of a policy and what is wrong with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyViolation {
    pub field: String,
    pub description: String,
}

fn violation(field: impl Into<String>, description: impl Into<String>) -> PolicyViolation {
    PolicyViolation {
        field: field.into(),
        description: description.into(),
    }
}

/// Everything wrong with a stage name and rules, named by field (`policy.<field>`).
pub fn validate_policy(stage: &str, rules: &PolicyRules) -> Vec<PolicyViolation> {
    let mut out = Vec::new();
    if stage.len() > MAX_STAGE_LEN {
        out.push(violation(
            "policy.stage",
            format!("must be at most {MAX_STAGE_LEN} bytes, or empty for the tenant default"),
        ));
    }
    if stage != stage.trim() {
        out.push(violation(
            "policy.stage",
            "must not start or end with spaces",
        ));
    }
    if rules.first_contact_hours > MAX_FIRST_CONTACT_HOURS {
        out.push(violation(
            "policy.first_contact_hours",
            format!("must be at most {MAX_FIRST_CONTACT_HOURS} (0 turns the rule off)"),
        ));
    }
    for (field, days) in [
        ("policy.no_activity_days", rules.no_activity_days),
        ("policy.stage_age_days", rules.stage_age_days),
    ] {
        if days > MAX_DAYS {
            out.push(violation(
                field,
                format!("must be at most {MAX_DAYS} (0 turns the rule off)"),
            ));
        }
    }
    if rules.escalation.len() > MAX_LADDER_STEPS {
        out.push(violation(
            "policy.escalation",
            format!(
                "has {} steps; at most {MAX_LADDER_STEPS} are allowed",
                rules.escalation.len()
            ),
        ));
    }
    let mut previous = 0;
    for (i, step) in rules.escalation.iter().enumerate() {
        let field = format!("policy.escalation[{i}].after_days");
        if step.after_days == 0 || step.after_days > MAX_DAYS {
            out.push(violation(
                field,
                format!("must be between 1 and {MAX_DAYS} days after the reminder fell due"),
            ));
        } else if step.after_days <= previous {
            out.push(violation(
                field,
                format!("must be later than the step before it ({previous} days)"),
            ));
        }
        previous = previous.max(step.after_days);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(after_days: u32, action: EscalationAction) -> EscalationStep {
        EscalationStep {
            after_days,
            notify_manager: false,
            action,
        }
    }

    #[test]
    fn the_builtin_policy_is_first_contact_only() {
        let p = Policy::builtin(24);
        assert_eq!(p.rules.first_contact_hours, 24);
        assert_eq!(
            (
                p.rules.no_activity_days,
                p.rules.stage_age_days,
                p.rules.close_overdue
            ),
            (0, 0, false)
        );
        assert!(p.rules.next_step(0).is_none());
        assert!(
            Policy::builtin(0).wants_first_contact(),
            "0 hours: due at once"
        );
        let stored_off = Policy {
            policy_id: "pol_1".to_owned(),
            version: 1,
            ..Policy::builtin(0)
        };
        assert!(!stored_off.wants_first_contact(), "a stored 0 turns it off");
        assert_eq!((p.policy_id.as_str(), p.version), ("", 0));
    }

    #[test]
    fn a_sound_policy_passes() {
        let rules = PolicyRules {
            first_contact_hours: 4,
            no_activity_days: 3,
            stage_age_days: 30,
            close_overdue: true,
            escalation: vec![
                step(2, EscalationAction::Notify),
                step(4, EscalationAction::ReturnToPool),
            ],
            business_time: true,
        };
        assert_eq!(validate_policy("negotiation", &rules), vec![]);
        assert_eq!(
            rules.next_step(1).map(|s| s.action),
            Some(EscalationAction::ReturnToPool)
        );
        assert!(rules.next_step(2).is_none());
    }

    #[test]
    fn every_bad_field_is_named() {
        let rules = PolicyRules {
            first_contact_hours: MAX_FIRST_CONTACT_HOURS + 1,
            no_activity_days: MAX_DAYS + 1,
            stage_age_days: 0,
            close_overdue: false,
            escalation: vec![
                step(0, EscalationAction::Notify),
                step(5, EscalationAction::Notify),
                step(5, EscalationAction::MarkHighRisk),
            ],
            business_time: false,
        };
        let fields: Vec<String> = validate_policy(" x", &rules)
            .into_iter()
            .map(|v| v.field)
            .collect();
        assert_eq!(
            fields,
            vec![
                "policy.stage",
                "policy.first_contact_hours",
                "policy.no_activity_days",
                "policy.escalation[0].after_days",
                "policy.escalation[2].after_days",
            ]
        );
    }

    #[test]
    fn actions_carry_their_event_names() {
        assert_eq!(EscalationAction::ReturnToPool.as_str(), "return_to_pool");
        assert!(EscalationAction::ReturnToPool.marks_high_risk());
        assert!(!EscalationAction::Notify.marks_high_risk());
        let json = serde_json::to_string(&step(3, EscalationAction::MarkHighRisk)).unwrap();
        assert!(json.contains("\"mark_high_risk\""), "{json}");
    }
}
