//! What a reminder is: its kind, its life cycle, and what it says to the rep.

/// Why a reminder exists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReminderKind {
    /// The owner must contact the customer soon after the opportunity opens.
    FirstContact,
    /// The rep planned a next follow-up when logging an activity.
    FollowUp,
    /// Policy: no activity for N days.
    NoActivity,
    /// Policy: the opportunity stayed in its stage over N days.
    StageAge,
    /// Policy: the expected close date passed while the opportunity is open.
    CloseOverdue,
}

impl ReminderKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ReminderKind::FirstContact => "first_contact",
            ReminderKind::FollowUp => "follow_up",
            ReminderKind::NoActivity => "no_activity",
            ReminderKind::StageAge => "stage_age",
            ReminderKind::CloseOverdue => "close_overdue",
        }
    }

    pub fn parse(value: &str) -> Option<ReminderKind> {
        match value {
            "first_contact" => Some(ReminderKind::FirstContact),
            "follow_up" => Some(ReminderKind::FollowUp),
            "no_activity" => Some(ReminderKind::NoActivity),
            "stage_age" => Some(ReminderKind::StageAge),
            "close_overdue" => Some(ReminderKind::CloseOverdue),
            _ => None,
        }
    }
}

/// pending -> fired (due time passed, `reminder.due` published) -> done (the rep acted);
/// pending or fired -> cancelled (the opportunity closed, or a new follow-up replaced it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReminderState {
    Pending,
    Fired,
    Done,
    Cancelled,
}

impl ReminderState {
    pub fn as_str(self) -> &'static str {
        match self {
            ReminderState::Pending => "pending",
            ReminderState::Fired => "fired",
            ReminderState::Done => "done",
            ReminderState::Cancelled => "cancelled",
        }
    }

    pub fn parse(value: &str) -> Option<ReminderState> {
        match value {
            "pending" => Some(ReminderState::Pending),
            "fired" => Some(ReminderState::Fired),
            "done" => Some(ReminderState::Done),
            "cancelled" => Some(ReminderState::Cancelled),
            _ => None,
        }
    }

    /// Still asks something of the rep.
    pub fn is_open(self) -> bool {
        matches!(self, ReminderState::Pending | ReminderState::Fired)
    }
}

/// "first contact due for opportunity <name> (lead <lead_id>)"; the id stands in for a
/// missing name, and the lead part is left out when no lead is known.
/// The message of a lead's first-contact reminder before its opportunity is known
/// (a lead for a known customer, claimed from the pool, or handed over).
pub fn lead_first_contact_message(lead_id: &str, contact_name: &str, company: &str) -> String {
    let who: Vec<&str> = [contact_name.trim(), company.trim()]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect();
    if who.is_empty() {
        format!("first contact due for lead {lead_id}")
    } else {
        format!("first contact due for lead {lead_id} ({})", who.join(", "))
    }
}

pub fn first_contact_message(
    opportunity_name: &str,
    opportunity_id: &str,
    lead_id: &str,
) -> String {
    let name = if opportunity_name.trim().is_empty() {
        opportunity_id
    } else {
        opportunity_name.trim()
    };
    if lead_id.is_empty() {
        format!("first contact due for opportunity {name}")
    } else {
        format!("first contact due for opportunity {name} (lead {lead_id})")
    }
}

/// What a policy-rule reminder says: the rule and the threshold that was crossed.
pub fn rule_message(kind: ReminderKind, opportunity_id: &str, stage: &str, days: u32) -> String {
    match kind {
        ReminderKind::NoActivity => {
            format!("no activity on opportunity {opportunity_id} for {days} days")
        }
        ReminderKind::StageAge => {
            format!("opportunity {opportunity_id} in stage {stage} for over {days} days")
        }
        ReminderKind::CloseOverdue => {
            format!("expected close date of opportunity {opportunity_id} passed while still open")
        }
        ReminderKind::FirstContact | ReminderKind::FollowUp => {
            format!("{} due for opportunity {opportunity_id}", kind.as_str())
        }
    }
}

/// "follow-up due for opportunity <id>: <next step>" (the summary when no next step).
pub fn follow_up_message(opportunity_id: &str, next_step: &str, summary: &str) -> String {
    let what = [next_step.trim(), summary.trim()]
        .into_iter()
        .find(|s| !s.is_empty());
    match what {
        Some(what) => format!("follow-up due for opportunity {opportunity_id}: {what}"),
        None => format!("follow-up due for opportunity {opportunity_id}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_states_round_trip_their_stored_names() {
        for kind in [
            ReminderKind::FirstContact,
            ReminderKind::FollowUp,
            ReminderKind::NoActivity,
            ReminderKind::StageAge,
            ReminderKind::CloseOverdue,
        ] {
            assert_eq!(ReminderKind::parse(kind.as_str()), Some(kind));
        }
        for state in [
            ReminderState::Pending,
            ReminderState::Fired,
            ReminderState::Done,
            ReminderState::Cancelled,
        ] {
            assert_eq!(ReminderState::parse(state.as_str()), Some(state));
        }
        assert_eq!(ReminderKind::parse("escalation"), None);
        assert!(ReminderState::Fired.is_open() && !ReminderState::Done.is_open());
    }

    #[test]
    fn first_contact_message_names_the_opportunity_and_its_lead() {
        assert_eq!(
            first_contact_message("上海华通 CRM", "opp_1", "lead_9"),
            "first contact due for opportunity 上海华通 CRM (lead lead_9)"
        );
        assert_eq!(
            first_contact_message("  ", "opp_1", ""),
            "first contact due for opportunity opp_1"
        );
    }

    #[test]
    fn rule_messages_name_the_rule() {
        assert_eq!(
            rule_message(ReminderKind::NoActivity, "opp_1", "qualified", 3),
            "no activity on opportunity opp_1 for 3 days"
        );
        assert_eq!(
            rule_message(ReminderKind::StageAge, "opp_1", "negotiation", 30),
            "opportunity opp_1 in stage negotiation for over 30 days"
        );
    }

    #[test]
    fn follow_up_message_prefers_the_next_step() {
        assert_eq!(
            follow_up_message("opp_1", "send the quote", "called"),
            "follow-up due for opportunity opp_1: send the quote"
        );
        assert_eq!(
            follow_up_message("opp_1", "", "called"),
            "follow-up due for opportunity opp_1: called"
        );
        assert_eq!(
            follow_up_message("opp_1", "", ""),
            "follow-up due for opportunity opp_1"
        );
    }
}
