//! `due`: the reminders that need someone now.

use serde_json::json;
use shangji_contracts::reminders::{ListDueRequest, Reminder};

use super::text_or_empty;
use crate::cli::DueArgs;
use crate::client::Services;
use crate::error::{CliError, rpc_failed};
use crate::format::{Table, or_dash, timestamp, to_proto_duration};
use crate::json;
use crate::output::Output;

pub async fn list(services: &Services, output: Output, args: DueArgs) -> Result<(), CliError> {
    let mut reminders = services.reminders().await?;
    let response = reminders
        .list_due(ListDueRequest {
            owner_rep_id: text_or_empty(args.owner),
            within: args.within.map(to_proto_duration),
            limit: args.limit,
        })
        .await
        .map_err(rpc_failed("ListDue"))?
        .into_inner();
    output.either(
        || json!({ "reminders": response.reminders.iter().map(json::reminder).collect::<Vec<_>>() }),
        || due_text(&response.reminders),
    )
}

fn due_text(reminders: &[Reminder]) -> String {
    if reminders.is_empty() {
        return "nothing due".to_owned();
    }
    let mut table = Table::new(&["due", "state", "kind", "for", "owner", "message"]);
    for r in reminders {
        table.row(vec![
            timestamp(r.due_at.as_ref()),
            json::reminder_state(r.state),
            r.kind.clone(),
            // A lead's first contact is due before its opportunity is known.
            if r.opportunity_id.is_empty() {
                format!("lead {}", r.lead_id)
            } else {
                r.opportunity_id.clone()
            },
            or_dash(&r.owner_rep_id).to_owned(),
            r.message.clone(),
        ]);
    }
    table.render()
}

#[cfg(test)]
mod tests {
    use super::*;
    use shangji_contracts::reminders::ReminderState;

    #[test]
    fn reminders_list_when_and_what() {
        let reminder = Reminder {
            opportunity_id: "opp-1".into(),
            owner_rep_id: "r1".into(),
            kind: "first_contact".into(),
            due_at: Some(shangji_contracts::time::from_millis(0)),
            state: ReminderState::Fired as i32,
            message: "call 王先生".into(),
            ..Default::default()
        };
        let text = due_text(&[reminder]);
        assert_eq!(
            text.lines().nth(1).unwrap(),
            "1970-01-01 00:00:00 UTC  fired  first_contact  opp-1  r1     call 王先生"
        );
        let for_lead = Reminder {
            lead_id: "lead-7".into(),
            ..Default::default()
        };
        assert!(
            due_text(&[for_lead])
                .lines()
                .nth(1)
                .unwrap()
                .contains("lead lead-7")
        );
        assert_eq!(due_text(&[]), "nothing due");
    }
}
