//! `submit` and `lead`: put one lead in and follow it through the system.

use std::time::Duration;

use serde_json::json;
use shangji_contracts::common::Lead;
use shangji_contracts::intake::{GetLeadRequest, GetLeadResponse, SubmitLeadRequest};
use tokio::time::Instant;

use super::{hint_retry, key_or_fresh, text_or_empty};
use crate::cli::{LeadArgs, LeadFields, SubmitArgs};
use crate::client::{IntakeClient, Services};
use crate::error::{CliError, rpc_failed};
use crate::format::{Table, details, or_dash, timestamp};
use crate::json;
use crate::output::Output;

/// How often `lead --wait` asks again.
const POLL_INTERVAL: Duration = Duration::from_millis(200);

fn lead_from_fields(fields: LeadFields) -> Lead {
    Lead {
        contact_name: text_or_empty(fields.name),
        phone: text_or_empty(fields.phone),
        email: text_or_empty(fields.email),
        company: text_or_empty(fields.company),
        title: text_or_empty(fields.title),
        region: text_or_empty(fields.region),
        industry: text_or_empty(fields.industry),
        source: text_or_empty(fields.source),
        need: text_or_empty(fields.need),
        budget: text_or_empty(fields.budget),
        timeline: text_or_empty(fields.timeline),
        custom_fields: fields.fields.into_iter().collect(),
    }
}

pub async fn submit(services: &Services, output: Output, args: SubmitArgs) -> Result<(), CliError> {
    let key = key_or_fresh(args.key);
    let request = SubmitLeadRequest {
        idempotency_key: key.clone(),
        lead: Some(lead_from_fields(args.lead)),
    };
    let mut intake = services.intake().await?;
    let response = match intake.submit_lead(request).await {
        Ok(response) => response.into_inner(),
        Err(status) => {
            let err = rpc_failed("SubmitLead")(status);
            hint_retry(output, &key, &err);
            return Err(err);
        }
    };
    if output.json {
        return output.json(&json!({
            "lead_id": response.lead_id,
            "replayed": response.replayed,
            "idempotency_key": key,
        }));
    }
    output.text(&response.lead_id)?;
    if response.replayed {
        output.note("(replayed: this idempotency key was seen before; no new lead was created)");
    }
    Ok(())
}

pub async fn show(services: &Services, output: Output, args: LeadArgs) -> Result<(), CliError> {
    let mut intake = services.intake().await?;
    let view = match args.wait {
        None => get_lead(&mut intake, &args.lead_id).await?,
        Some(seconds) => {
            let deadline = Instant::now() + Duration::from_secs(seconds);
            loop {
                let view = get_lead(&mut intake, &args.lead_id).await?;
                if !view.opportunity_id.is_empty() {
                    break view;
                }
                if Instant::now() + POLL_INTERVAL > deadline {
                    print_lead(output, &view)?;
                    return Err(CliError::Incomplete(format!(
                        "lead {} has no opportunity after {seconds} s; it is at `{}`",
                        view.lead_id,
                        json::lead_status(view.status).replace('_', " ")
                    )));
                }
                tokio::time::sleep(POLL_INTERVAL).await;
            }
        }
    };
    print_lead(output, &view)
}

async fn get_lead(intake: &mut IntakeClient, lead_id: &str) -> Result<GetLeadResponse, CliError> {
    let request = GetLeadRequest {
        lead_id: lead_id.to_owned(),
    };
    Ok(intake
        .get_lead(request)
        .await
        .map_err(rpc_failed("GetLead"))?
        .into_inner())
}

fn print_lead(output: Output, view: &GetLeadResponse) -> Result<(), CliError> {
    output.either(|| json::lead_view(view), || lead_text(view))
}

fn lead_text(view: &GetLeadResponse) -> String {
    let lead = view.lead.clone().unwrap_or_default();
    let mut pairs = vec![
        ("lead", view.lead_id.clone()),
        ("status", json::lead_status(view.status).replace('_', " ")),
        ("received", timestamp(view.received_at.as_ref())),
    ];
    for (label, value) in [
        ("contact", &lead.contact_name),
        ("phone", &lead.phone),
        ("email", &lead.email),
        ("company", &lead.company),
        ("title", &lead.title),
        ("region", &lead.region),
        ("industry", &lead.industry),
        ("source", &lead.source),
        ("need", &lead.need),
        ("budget", &lead.budget),
        ("timeline", &lead.timeline),
    ] {
        if !value.is_empty() {
            pairs.push((label, value.clone()));
        }
    }
    for (key, value) in &lead.custom_fields {
        pairs.push(("field", format!("{key}={value}")));
    }
    let customer = match (view.customer_id.as_str(), view.new_customer) {
        ("", _) => "-".to_owned(),
        (id, true) => format!("{id} (new customer)"),
        (id, false) => format!("{id} (known customer)"),
    };
    pairs.push(("customer", customer));
    pairs.push(("owner", or_dash(&view.owner_rep_id).to_owned()));
    pairs.push(("opportunity", or_dash(&view.opportunity_id).to_owned()));
    let score = if view.grade.is_empty() {
        "-".to_owned()
    } else {
        format!("{:.1} (grade {})", view.score, view.grade)
    };
    pairs.push(("score", score));

    let mut text = details(&pairs);
    text.push_str("\ntrail\n");
    let mut trail = Table::new(&["time", "status", "service", "detail"]);
    for step in &view.trail {
        trail.row(vec![
            timestamp(step.at.as_ref()),
            json::lead_status(step.status).replace('_', " "),
            or_dash(&step.service).to_owned(),
            or_dash(&step.detail).to_owned(),
        ]);
    }
    text.push_str(&trail.render());
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use shangji_contracts::intake::{LeadStatus, StatusStep};

    #[test]
    fn submit_fields_fill_the_lead() {
        let lead = lead_from_fields(LeadFields {
            name: Some("王先生".into()),
            budget: Some("50万".into()),
            fields: vec![("微信".into(), "w01".into())],
            ..Default::default()
        });
        assert_eq!(lead.contact_name, "王先生");
        assert_eq!(lead.budget, "50万");
        assert_eq!(lead.phone, "");
        assert_eq!(lead.custom_fields["微信"], "w01");
    }

    #[test]
    fn a_lead_shows_its_owner_opportunity_and_trail() {
        let view = GetLeadResponse {
            lead_id: "lead-1".into(),
            lead: Some(Lead {
                contact_name: "王先生".into(),
                ..Default::default()
            }),
            status: LeadStatus::OpportunityCreated as i32,
            customer_id: "cus-1".into(),
            owner_rep_id: "rep-1".into(),
            opportunity_id: "opp-1".into(),
            new_customer: true,
            score: 72.0,
            grade: "B".into(),
            received_at: Some(shangji_contracts::time::from_millis(0)),
            trail: vec![StatusStep {
                status: LeadStatus::Received as i32,
                detail: "received via grpc".into(),
                at: Some(shangji_contracts::time::from_millis(0)),
                service: "intake".into(),
                event_id: "e1".into(),
            }],
        };
        let text = lead_text(&view);
        assert!(text.contains("status       opportunity created"), "{text}");
        assert!(text.contains("customer     cus-1 (new customer)"), "{text}");
        assert!(text.contains("opportunity  opp-1"), "{text}");
        assert!(text.contains("score        72.0 (grade B)"), "{text}");
        assert!(
            text.contains("1970-01-01 00:00:00 UTC  received  intake   received via grpc"),
            "{text}"
        );
    }
}
