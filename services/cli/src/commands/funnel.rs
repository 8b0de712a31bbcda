//! `funnel`: how many opportunities reached each stage and how many went on.

use serde_json::json;
use shangji_contracts::analytics::{FunnelRequest, FunnelResponse};

use super::text_or_empty;
use crate::cli::FunnelArgs;
use crate::client::Services;
use crate::error::{CliError, rpc_failed};
use crate::format::{Table, amount};
use crate::output::Output;

pub async fn show(services: &Services, output: Output, args: FunnelArgs) -> Result<(), CliError> {
    let mut analytics = services.analytics().await?;
    let mut response = analytics
        .funnel(FunnelRequest {
            owner_rep_id: text_or_empty(args.owner),
            ..Default::default()
        })
        .await
        .map_err(rpc_failed("Funnel"))?
        .into_inner();
    response.stages.sort_by_key(|s| s.order);
    output.either(|| funnel_json(&response), || funnel_text(&response))
}

fn funnel_json(funnel: &FunnelResponse) -> serde_json::Value {
    json!({
        "stages": funnel.stages.iter().map(|s| json!({
            "stage": s.stage,
            "order": s.order,
            "count": s.count,
            "amount": s.amount,
            "conversion_to_next": s.conversion_to_next,
            "current_count": s.current_count,
        })).collect::<Vec<_>>(),
        "leads_received": funnel.leads_received,
        "opportunities_won": funnel.opportunities_won,
        "opportunities_lost": funnel.opportunities_lost,
        "won_amount": funnel.won_amount,
    })
}

fn funnel_text(funnel: &FunnelResponse) -> String {
    let mut table = Table::new(&["stage", "reached", "amount", "to next", "now"])
        .right(&["reached", "amount", "to next", "now"]);
    let last = funnel.stages.len().saturating_sub(1);
    for (i, s) in funnel.stages.iter().enumerate() {
        table.row(vec![
            s.stage.clone(),
            s.count.to_string(),
            amount(s.amount),
            // The last stage has no next one to convert to.
            if i == last {
                "-".to_owned()
            } else {
                format!("{:.1}%", s.conversion_to_next * 100.0)
            },
            s.current_count.to_string(),
        ]);
    }
    let mut text = if table.is_empty() {
        "no opportunities yet\n".to_owned()
    } else {
        table.render()
    };
    text.push_str(&format!(
        "\nleads received  {}\nwon             {} (amount {})\nlost            {}\n",
        funnel.leads_received,
        funnel.opportunities_won,
        amount(funnel.won_amount),
        funnel.opportunities_lost
    ));
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use shangji_contracts::analytics::FunnelStage;

    #[test]
    fn conversion_prints_as_a_percentage() {
        let stage = |name: &str, order, count, conversion| FunnelStage {
            stage: name.into(),
            count,
            amount: 1_000.0,
            conversion_to_next: conversion,
            current_count: 1,
            order,
        };
        let funnel = FunnelResponse {
            stages: vec![stage("qualify", 1, 10, 0.4), stage("proposal", 2, 4, 0.0)],
            leads_received: 12,
            opportunities_won: 1,
            opportunities_lost: 2,
            won_amount: 250_000.0,
            ..Default::default()
        };
        let text = funnel_text(&funnel);
        let lines: Vec<_> = text.lines().collect();
        assert_eq!(lines[0], "stage     reached  amount  to next  now");
        assert_eq!(lines[1], "qualify        10   1,000    40.0%    1");
        assert_eq!(lines[2], "proposal        4   1,000        -    1");
        assert!(text.contains("leads received  12\n"));
        assert!(text.contains("won             1 (amount 250,000)\n"));
    }
}
