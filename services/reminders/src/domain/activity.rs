//! What a logged activity does to an opportunity's reminders.

/// The activity kind pipeline records when a new lead attaches to an open opportunity.
/// It is no contact by the rep, so it neither completes nor schedules anything.
pub const TOUCHPOINT: &str = "touchpoint";

/// The reminder changes one activity causes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ActivityEffects {
    /// The rep reached the customer: the first-contact reminder is done.
    pub completes_first_contact: bool,
    /// Follow-ups that had fallen due by the time of the activity were answered by it.
    pub completes_follow_ups_due_by: Option<i64>,
    /// The rep planned the next follow-up for this time (UTC ms): it replaces any
    /// follow-up still pending.
    pub schedules_follow_up_at: Option<i64>,
}

impl ActivityEffects {
    pub const NONE: ActivityEffects = ActivityEffects {
        completes_first_contact: false,
        completes_follow_ups_due_by: None,
        schedules_follow_up_at: None,
    };
}

/// Effects of an activity of `kind` logged at `logged_at` with an optional planned
/// follow-up; `opportunity_closed` suppresses everything (closing cancelled them all).
pub fn activity_effects(
    kind: &str,
    logged_at: i64,
    next_follow_up_at: Option<i64>,
    opportunity_closed: bool,
) -> ActivityEffects {
    if opportunity_closed || kind.trim().eq_ignore_ascii_case(TOUCHPOINT) {
        return ActivityEffects::NONE;
    }
    ActivityEffects {
        completes_first_contact: true,
        completes_follow_ups_due_by: Some(logged_at),
        schedules_follow_up_at: next_follow_up_at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_completes_first_contact_and_answers_due_follow_ups() {
        let e = activity_effects("call", 1_000, None, false);
        assert!(e.completes_first_contact);
        assert_eq!(e.completes_follow_ups_due_by, Some(1_000));
        assert_eq!(e.schedules_follow_up_at, None);
    }

    #[test]
    fn a_planned_next_follow_up_is_scheduled() {
        let e = activity_effects("visit", 1_000, Some(90_000), false);
        assert_eq!(e.schedules_follow_up_at, Some(90_000));
    }

    #[test]
    fn a_touchpoint_is_not_a_contact() {
        assert_eq!(
            activity_effects("touchpoint", 1_000, Some(5), false),
            ActivityEffects::NONE
        );
        assert_eq!(
            activity_effects(" Touchpoint ", 1_000, None, false),
            ActivityEffects::NONE
        );
    }

    #[test]
    fn nothing_happens_on_a_closed_opportunity() {
        assert_eq!(
            activity_effects("call", 1_000, Some(5_000), true),
            ActivityEffects::NONE
        );
    }
}
