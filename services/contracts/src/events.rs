//! The event catalogue: which message travels under which name, on which stream and
//! subject. Subjects are versioned (`shangji.<domain>.v1.<event>`) and built only here.

pub use crate::shangji::events::v1::Envelope;
pub use crate::shangji::lead::v1 as lead;
pub use crate::shangji::opportunity::v1 as opportunity;
pub use crate::shangji::org::v1 as org;
pub use crate::shangji::reminder::v1 as reminder;

/// A domain owns one JetStream stream holding all of its events.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Domain {
    Lead,
    Opportunity,
    Reminder,
    /// Teams and reps, owned by assignment.
    Org,
}

impl Domain {
    pub const ALL: [Domain; 4] = [
        Domain::Lead,
        Domain::Opportunity,
        Domain::Reminder,
        Domain::Org,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Domain::Lead => "lead",
            Domain::Opportunity => "opportunity",
            Domain::Reminder => "reminder",
            Domain::Org => "org",
        }
    }

    /// JetStream stream name, e.g. `SHANGJI_LEAD`.
    pub fn stream_name(self) -> String {
        format!("SHANGJI_{}", self.as_str().to_ascii_uppercase())
    }

    /// The wildcard that the domain's stream captures, e.g. `shangji.lead.v1.>`.
    pub fn stream_subjects(self) -> String {
        format!("shangji.{}.v1.>", self.as_str())
    }
}

/// Subject for an event of a domain: `shangji.<domain>.v1.<name>`.
pub fn subject(domain: Domain, name: &str) -> String {
    format!("shangji.{}.v1.{}", domain.as_str(), name)
}

/// The dead-letter stream keeps every message a consumer gave up on, with the error.
pub const DEAD_LETTER_STREAM: &str = "SHANGJI_DEADLETTER";

/// Wildcard captured by the dead-letter stream.
pub fn dead_letter_subjects() -> String {
    "shangji.deadletter.v1.>".to_owned()
}

/// Where a consumer puts the messages it gave up on: `shangji.deadletter.v1.<consumer>`.
pub fn dead_letter_subject(consumer: &str) -> String {
    format!("shangji.deadletter.v1.{consumer}")
}

/// A message that travels on the bus inside an [`Envelope`].
pub trait Event: prost::Message + Default {
    const DOMAIN: Domain;
    /// Short name, the last subject token (e.g. `received`).
    const NAME: &'static str;
    /// `<domain>.<name>`, carried in the envelope's `event_type` (e.g. `lead.received`).
    const TYPE: &'static str;

    fn subject() -> String {
        subject(Self::DOMAIN, Self::NAME)
    }
}

macro_rules! event {
    ($ty:ty, $domain:ident, $domain_str:literal, $name:literal) => {
        impl Event for $ty {
            const DOMAIN: Domain = Domain::$domain;
            const NAME: &'static str = $name;
            const TYPE: &'static str = concat!($domain_str, ".", $name);
        }
    };
}

event!(lead::LeadReceived, Lead, "lead", "received");
event!(lead::LeadQualified, Lead, "lead", "qualified");
event!(lead::LeadAssigned, Lead, "lead", "assigned");
event!(lead::LeadPooled, Lead, "lead", "pooled");
// Owned by dedup.
event!(lead::CustomerMerged, Lead, "lead", "customer_merged");
event!(lead::CustomerUnmerged, Lead, "lead", "customer_unmerged");
// Owned by assignment.
event!(
    lead::OwnershipTransferred,
    Lead,
    "lead",
    "ownership_transferred"
);
event!(
    opportunity::OpportunityCreated,
    Opportunity,
    "opportunity",
    "created"
);
event!(
    opportunity::OpportunityStageChanged,
    Opportunity,
    "opportunity",
    "stage_changed"
);
event!(
    opportunity::OpportunityActivityLogged,
    Opportunity,
    "opportunity",
    "activity_logged"
);
event!(
    opportunity::OpportunityOwnerChanged,
    Opportunity,
    "opportunity",
    "owner_changed"
);
event!(
    opportunity::OpportunityWon,
    Opportunity,
    "opportunity",
    "won"
);
event!(
    opportunity::OpportunityLost,
    Opportunity,
    "opportunity",
    "lost"
);
event!(
    opportunity::OpportunityUpdated,
    Opportunity,
    "opportunity",
    "updated"
);
event!(
    opportunity::OpportunityReopened,
    Opportunity,
    "opportunity",
    "reopened"
);
event!(reminder::ReminderDue, Reminder, "reminder", "due");
event!(org::TeamUpserted, Org, "org", "team_upserted");
event!(org::RepUpserted, Org, "org", "rep_upserted");
event!(
    reminder::ReminderEscalated,
    Reminder,
    "reminder",
    "escalated"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_are_versioned_and_fall_in_their_stream() {
        assert_eq!(lead::LeadReceived::subject(), "shangji.lead.v1.received");
        assert_eq!(lead::LeadReceived::TYPE, "lead.received");
        assert_eq!(
            opportunity::OpportunityStageChanged::subject(),
            "shangji.opportunity.v1.stage_changed"
        );
        for domain in Domain::ALL {
            let prefix = domain.stream_subjects();
            let prefix = prefix.trim_end_matches('>');
            assert!(subject(domain, "x").starts_with(prefix));
        }
        assert_eq!(Domain::Lead.stream_name(), "SHANGJI_LEAD");
        assert!(dead_letter_subject("dedup").starts_with("shangji.deadletter.v1."));
    }
}
