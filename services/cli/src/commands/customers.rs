//! `customer` and `check`: who dedup knows, and who a lead could be.

use serde_json::json;
use shangji_contracts::common::Lead;
use shangji_contracts::dedup::{
    CheckDuplicateRequest, CustomerMatch, GetCustomerRequest, GetCustomerResponse,
};

use super::text_or_empty;
use crate::cli::{CheckArgs, CustomerArgs};
use crate::client::Services;
use crate::error::{CliError, rpc_failed};
use crate::format::{Table, details, timestamp};
use crate::json;
use crate::output::Output;

pub async fn show(services: &Services, output: Output, args: CustomerArgs) -> Result<(), CliError> {
    let mut dedup = services.dedup().await?;
    let response = dedup
        .get_customer(GetCustomerRequest {
            customer_id: args.customer_id,
        })
        .await
        .map_err(rpc_failed("GetCustomer"))?
        .into_inner();
    output.either(
        || {
            json!({
                "customer": response.customer.as_ref().map(json::customer),
                "lead_ids": response.lead_ids,
            })
        },
        || customer_text(&response),
    )
}

fn customer_text(response: &GetCustomerResponse) -> String {
    let customer = response.customer.clone().unwrap_or_default();
    let mut text = details(&[
        ("customer", customer.customer_id),
        ("name", customer.name),
        ("company", customer.company),
        ("phones", customer.phones.join(", ")),
        ("emails", customer.emails.join(", ")),
        ("leads", customer.lead_count.to_string()),
        ("created", timestamp(customer.created_at.as_ref())),
        ("updated", timestamp(customer.updated_at.as_ref())),
    ]);
    text.push_str("\nleads (oldest first)\n");
    for lead_id in &response.lead_ids {
        text.push_str(lead_id);
        text.push('\n');
    }
    text
}

pub async fn check(services: &Services, output: Output, args: CheckArgs) -> Result<(), CliError> {
    let lead = Lead {
        contact_name: text_or_empty(args.name),
        phone: text_or_empty(args.phone),
        email: text_or_empty(args.email),
        company: text_or_empty(args.company),
        ..Default::default()
    };
    let mut dedup = services.dedup().await?;
    let response = dedup
        .check_duplicate(CheckDuplicateRequest {
            lead: Some(lead),
            limit: args.limit,
        })
        .await
        .map_err(rpc_failed("CheckDuplicate"))?
        .into_inner();
    output.either(
        || json!({ "matches": response.matches.iter().map(json::customer_match).collect::<Vec<_>>() }),
        || matches_text(&response.matches),
    )
}

fn matches_text(matches: &[CustomerMatch]) -> String {
    if matches.is_empty() {
        return "no known customer matches".to_owned();
    }
    let mut table =
        Table::new(&["customer", "score", "decision", "name", "company", "why"]).right(&["score"]);
    for m in matches {
        let customer = m.customer.clone().unwrap_or_default();
        table.row(vec![
            m.customer_id.clone(),
            format!("{:.2}", m.score),
            json::match_decision(m.decision),
            customer.name,
            customer.company,
            m.reasons.join("; "),
        ]);
    }
    table.render()
}

#[cfg(test)]
mod tests {
    use super::*;
    use shangji_contracts::dedup::{Customer, MatchDecision};

    #[test]
    fn matches_show_score_decision_and_reasons() {
        let found = CustomerMatch {
            customer_id: "cus-1".into(),
            score: 0.97,
            decision: MatchDecision::Same as i32,
            reasons: vec!["phone matches".into(), "name similar".into()],
            evidence: vec![],
            customer: Some(Customer {
                name: "王伟".into(),
                company: "华为".into(),
                ..Default::default()
            }),
        };
        let text = matches_text(&[found]);
        assert_eq!(
            text.lines().nth(1).unwrap(),
            "cus-1      0.97  same      王伟  华为     phone matches; name similar"
        );
        assert_eq!(matches_text(&[]), "no known customer matches");
    }
}
