//! What a reminder is: its kind, its life cycle, and what it says to the rep.

/// Why a reminder exists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReminderKind {
    /// The owner must contact the customer soon after the opportunity opens.
    FirstContact,
    /// The rep planned a next follow-up when logging an activity.
    FollowUp,
}

impl ReminderKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ReminderKind::FirstContact => "first_contact",
            ReminderKind::FollowUp => "follow_up",
        }
    }

    pub fn parse(value: &str) -> Option<ReminderKind> {
        match value {
            "first_contact" => Some(ReminderKind::FirstContact),
            "follow_up" => Some(ReminderKind::FollowUp),
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
        for kind in [ReminderKind::FirstContact, ReminderKind::FollowUp] {
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
