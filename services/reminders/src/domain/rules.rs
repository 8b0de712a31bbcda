//! When each policy rule falls due, and when the timer next acts on a reminder.
//!
//! Every count of days or hours goes through the tenant's [`TimeCount`]: calendar days
//! in its time zone, or working days and hours of its business calendar.

use super::calendar::TimeCount;
use super::policy::PolicyRules;
use super::reminder::ReminderState;

pub const MILLIS_PER_DAY: i64 = 86_400_000;

/// "First contact within N hours": due N hours after the opportunity opened.
pub fn first_contact_due_at(opened_at: i64, rules: &PolicyRules, count: &TimeCount) -> i64 {
    count.add_hours(opened_at, rules.first_contact_hours)
}

/// "No activity for N days": due N days after the last activity or stage change.
pub fn no_activity_due_at(
    last_touched_at: i64,
    rules: &PolicyRules,
    count: &TimeCount,
) -> Option<i64> {
    (rules.no_activity_days > 0).then(|| count.add_days(last_touched_at, rules.no_activity_days))
}

/// "Stage age over N days": due N days after the stage was entered.
pub fn stage_age_due_at(
    stage_entered_at: i64,
    rules: &PolicyRules,
    count: &TimeCount,
) -> Option<i64> {
    (rules.stage_age_days > 0).then(|| count.add_days(stage_entered_at, rules.stage_age_days))
}

/// "Expected close date passed while open": due at the expected close date.
pub fn close_overdue_due_at(expected_close_at: Option<i64>, rules: &PolicyRules) -> Option<i64> {
    expected_close_at.filter(|_| rules.close_overdue)
}

/// When the timer next has something to do with a reminder: a pending one when it falls
/// due; a fired one at its next ladder step, counted from `ladder_from`; never for a
/// settled one or once the ladder is climbed.
pub fn next_fire_at(
    state: ReminderState,
    due_at: i64,
    ladder_from: i64,
    steps_taken: u32,
    rules: &PolicyRules,
    count: &TimeCount,
) -> Option<i64> {
    match state {
        ReminderState::Pending => Some(due_at),
        ReminderState::Fired => rules
            .next_step(steps_taken)
            .map(|step| count.add_days(ladder_from, step.after_days)),
        ReminderState::Done | ReminderState::Cancelled => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::calendar::BusinessCalendar;
    use crate::domain::policy::{EscalationAction, EscalationStep};

    const DAY: i64 = MILLIS_PER_DAY;

    fn plain(calendar: &BusinessCalendar) -> TimeCount<'_> {
        TimeCount {
            calendar,
            business_time: false,
        }
    }

    fn rules() -> PolicyRules {
        let step = |after_days| EscalationStep {
            after_days,
            notify_manager: false,
            action: EscalationAction::Notify,
        };
        PolicyRules {
            first_contact_hours: 24,
            no_activity_days: 3,
            stage_age_days: 30,
            close_overdue: true,
            escalation: vec![step(2), step(4)],
            business_time: false,
        }
    }

    #[test]
    fn rules_fall_due_their_days_after_their_clock_started() {
        let cal = BusinessCalendar::default();
        let c = plain(&cal);
        let r = rules();
        assert_eq!(first_contact_due_at(1_000, &r, &c), 1_000 + DAY);
        assert_eq!(no_activity_due_at(1_000, &r, &c), Some(1_000 + 3 * DAY));
        assert_eq!(stage_age_due_at(1_000, &r, &c), Some(1_000 + 30 * DAY));
        assert_eq!(close_overdue_due_at(Some(7), &r), Some(7));
        assert_eq!(close_overdue_due_at(None, &r), None);
    }

    #[test]
    fn switched_off_rules_never_fall_due() {
        let cal = BusinessCalendar::default();
        let c = plain(&cal);
        let off = PolicyRules::default();
        assert_eq!(no_activity_due_at(1_000, &off, &c), None);
        assert_eq!(stage_age_due_at(1_000, &off, &c), None);
        assert_eq!(close_overdue_due_at(Some(7), &off), None);
    }

    #[test]
    fn the_timer_follows_the_due_time_then_the_ladder() {
        let cal = BusinessCalendar::default();
        let c = plain(&cal);
        let r = rules();
        assert_eq!(
            next_fire_at(ReminderState::Pending, 10, 10, 0, &r, &c),
            Some(10)
        );
        assert_eq!(
            next_fire_at(ReminderState::Fired, 10, 10, 0, &r, &c),
            Some(10 + 2 * DAY)
        );
        assert_eq!(
            next_fire_at(ReminderState::Fired, 10, 10, 1, &r, &c),
            Some(10 + 4 * DAY)
        );
        assert_eq!(next_fire_at(ReminderState::Fired, 10, 10, 2, &r, &c), None);
        // An activity restarted the ladder's clock at 500.
        assert_eq!(
            next_fire_at(ReminderState::Fired, 10, 500, 0, &r, &c),
            Some(500 + 2 * DAY)
        );
        assert_eq!(next_fire_at(ReminderState::Done, 10, 10, 0, &r, &c), None);
        assert_eq!(
            next_fire_at(ReminderState::Cancelled, 10, 10, 0, &r, &c),
            None
        );
    }
}
