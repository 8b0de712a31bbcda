//! Working the pipeline: list and show opportunities, advance, log activities, close.

use serde_json::json;
use shangji_contracts::pipeline::{
    AdvanceStageRequest, CloseOpportunityRequest, CloseOutcome, GetOpportunityRequest,
    GetOpportunityResponse, ListOpportunitiesRequest, LogActivityRequest, Opportunity,
    OpportunityStatus,
};
use shangji_contracts::time::{from_millis, now_millis};

use super::{hint_retry, key_or_fresh, text_or_empty};
use crate::cli::{
    ActivityArgs, AdvanceArgs, CloseArgs, OpportunitiesArgs, OpportunityArgs, StatusFilter,
};
use crate::client::Services;
use crate::error::{CliError, rpc_failed};
use crate::format::{Table, amount, details, or_dash, timestamp};
use crate::json;
use crate::output::Output;

/// The most ListOpportunities returns per page.
const MAX_PAGE_SIZE: u32 = 500;

fn status_value(filter: Option<StatusFilter>) -> i32 {
    let status = match filter {
        None => OpportunityStatus::Unspecified,
        Some(StatusFilter::Open) => OpportunityStatus::Open,
        Some(StatusFilter::Won) => OpportunityStatus::Won,
        Some(StatusFilter::Lost) => OpportunityStatus::Lost,
    };
    status as i32
}

pub async fn list(
    services: &Services,
    output: Output,
    args: OpportunitiesArgs,
) -> Result<(), CliError> {
    let mut pipeline = services.pipeline().await?;
    let mut request = ListOpportunitiesRequest {
        owner_rep_id: text_or_empty(args.owner),
        stage: text_or_empty(args.stage),
        customer_id: text_or_empty(args.customer),
        status: status_value(args.status),
        page_size: 0,
        page_token: String::new(),
        ..Default::default()
    };
    let limit = args.limit as usize;
    let mut opportunities = Vec::new();
    let total = loop {
        // `limit - len` is at most u32::MAX because limit came from a u32.
        request.page_size = ((limit - opportunities.len()) as u32).min(MAX_PAGE_SIZE);
        let page = pipeline
            .list_opportunities(request.clone())
            .await
            .map_err(rpc_failed("ListOpportunities"))?
            .into_inner();
        opportunities.extend(page.opportunities);
        if page.next_page_token.is_empty() || opportunities.len() >= limit {
            break page.total_count;
        }
        request.page_token = page.next_page_token;
    };
    opportunities.truncate(limit);
    output.either(
        || {
            json!({
                "opportunities": opportunities.iter().map(json::opportunity).collect::<Vec<_>>(),
                "total_count": total,
            })
        },
        || opportunities_text(&opportunities, total),
    )
}

fn opportunities_text(opportunities: &[Opportunity], total: u64) -> String {
    let mut table = Table::new(&[
        "opportunity",
        "customer",
        "owner",
        "stage",
        "amount",
        "name",
    ])
    .right(&["amount"]);
    for opp in opportunities {
        table.row(vec![
            opp.opportunity_id.clone(),
            or_dash(&opp.customer_id).to_owned(),
            or_dash(&opp.owner_rep_id).to_owned(),
            opp.stage.clone(),
            amount(opp.amount),
            opp.name.clone(),
        ]);
    }
    let mut text = if table.is_empty() {
        String::new()
    } else {
        table.render()
    };
    text.push_str(&format!(
        "{} of {total} opportunities\n",
        opportunities.len()
    ));
    text
}

pub async fn show(
    services: &Services,
    output: Output,
    args: OpportunityArgs,
) -> Result<(), CliError> {
    let mut pipeline = services.pipeline().await?;
    let response = pipeline
        .get_opportunity(GetOpportunityRequest {
            opportunity_id: args.opportunity_id,
        })
        .await
        .map_err(rpc_failed("GetOpportunity"))?
        .into_inner();
    output.either(
        || {
            json!({
                "opportunity": response.opportunity.as_ref().map(json::opportunity),
                "activities": response.activities.iter().map(json::activity).collect::<Vec<_>>(),
                "history": response.history.iter().map(json::history_entry).collect::<Vec<_>>(),
            })
        },
        || opportunity_text(&response),
    )
}

fn opportunity_details(opp: &Opportunity) -> String {
    let mut pairs = vec![
        ("opportunity", opp.opportunity_id.clone()),
        ("name", opp.name.clone()),
        ("status", json::opportunity_status(opp.status)),
        (
            "stage",
            format!(
                "{} (since {})",
                opp.stage,
                timestamp(opp.stage_entered_at.as_ref())
            ),
        ),
        (
            "amount",
            format!("{} {}", amount(opp.amount), opp.currency)
                .trim_end()
                .to_owned(),
        ),
        ("customer", or_dash(&opp.customer_id).to_owned()),
        ("owner", or_dash(&opp.owner_rep_id).to_owned()),
        ("lead", or_dash(&opp.lead_id).to_owned()),
        ("source", or_dash(&opp.source).to_owned()),
        ("next follow-up", timestamp(opp.next_follow_up_at.as_ref())),
        ("created", timestamp(opp.created_at.as_ref())),
        ("updated", timestamp(opp.updated_at.as_ref())),
    ];
    if !opp.lost_reason.is_empty() {
        pairs.push(("lost because", opp.lost_reason.clone()));
    }
    details(&pairs)
}

fn opportunity_text(response: &GetOpportunityResponse) -> String {
    let mut text = response
        .opportunity
        .as_ref()
        .map(opportunity_details)
        .unwrap_or_default();

    text.push_str("\nactivities (newest first)\n");
    let mut activities = Table::new(&["logged", "kind", "summary", "next step", "follow-up", "by"]);
    for a in &response.activities {
        activities.row(vec![
            timestamp(a.logged_at.as_ref()),
            a.kind.clone(),
            a.summary.clone(),
            or_dash(&a.next_step).to_owned(),
            timestamp(a.next_follow_up_at.as_ref()),
            or_dash(&a.user_id).to_owned(),
        ]);
    }
    text.push_str(&if activities.is_empty() {
        "none\n".to_owned()
    } else {
        activities.render()
    });

    text.push_str("\nhistory\n");
    let mut history = Table::new(&["at", "field", "change", "by", "note"]);
    for h in &response.history {
        history.row(vec![
            timestamp(h.at.as_ref()),
            h.field.clone(),
            format!("{} -> {}", or_dash(&h.old_value), or_dash(&h.new_value)),
            or_dash(&h.user_id).to_owned(),
            h.note.clone(),
        ]);
    }
    text.push_str(&if history.is_empty() {
        "none\n".to_owned()
    } else {
        history.render()
    });
    text
}

pub async fn advance(
    services: &Services,
    output: Output,
    args: AdvanceArgs,
) -> Result<(), CliError> {
    let key = key_or_fresh(args.key);
    let request = AdvanceStageRequest {
        idempotency_key: key.clone(),
        opportunity_id: args.opportunity_id,
        to_stage: args.stage,
        amount: args.amount,
        note: text_or_empty(args.note),
    };
    let mut pipeline = services.pipeline().await?;
    let opp = match pipeline.advance_stage(request).await {
        Ok(response) => response.into_inner().opportunity.unwrap_or_default(),
        Err(status) => {
            let err = rpc_failed("AdvanceStage")(status);
            hint_retry(output, &key, &err);
            return Err(err);
        }
    };
    output.either(
        || json::opportunity(&opp),
        || {
            format!(
                "opportunity {} is in stage {} (amount {})",
                opp.opportunity_id,
                opp.stage,
                amount(opp.amount)
            )
        },
    )
}

pub async fn log_activity(
    services: &Services,
    output: Output,
    args: ActivityArgs,
) -> Result<(), CliError> {
    let key = key_or_fresh(args.key);
    let follow_up = args.follow_up_in.map(|d| {
        let millis = i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        from_millis(now_millis().saturating_add(millis))
    });
    let request = LogActivityRequest {
        idempotency_key: key.clone(),
        opportunity_id: args.opportunity_id,
        kind: args.kind.as_str().to_owned(),
        summary: args.summary,
        next_step: text_or_empty(args.next_step),
        next_follow_up_at: follow_up,
        ..Default::default()
    };
    let mut pipeline = services.pipeline().await?;
    let activity = match pipeline.log_activity(request).await {
        Ok(response) => response.into_inner().activity.unwrap_or_default(),
        Err(status) => {
            let err = rpc_failed("LogActivity")(status);
            hint_retry(output, &key, &err);
            return Err(err);
        }
    };
    output.either(
        || json::activity(&activity),
        || {
            let mut line = format!(
                "logged {} {} on opportunity {}",
                activity.kind, activity.activity_id, activity.opportunity_id
            );
            if activity.next_follow_up_at.is_some() {
                line.push_str(&format!(
                    "; next follow-up {}",
                    timestamp(activity.next_follow_up_at.as_ref())
                ));
            }
            line
        },
    )
}

pub async fn close(services: &Services, output: Output, args: CloseArgs) -> Result<(), CliError> {
    let key = key_or_fresh(args.key);
    let outcome = if args.won {
        CloseOutcome::Won
    } else {
        CloseOutcome::Lost
    };
    let request = CloseOpportunityRequest {
        idempotency_key: key.clone(),
        opportunity_id: args.opportunity_id,
        outcome: outcome as i32,
        lost_reason: text_or_empty(args.reason),
        note: text_or_empty(args.note),
        amount: args.amount,
    };
    let mut pipeline = services.pipeline().await?;
    let opp = match pipeline.close_opportunity(request).await {
        Ok(response) => response.into_inner().opportunity.unwrap_or_default(),
        Err(status) => {
            let err = rpc_failed("CloseOpportunity")(status);
            hint_retry(output, &key, &err);
            return Err(err);
        }
    };
    output.either(
        || json::opportunity(&opp),
        || match outcome {
            CloseOutcome::Lost => format!(
                "opportunity {} lost: {}",
                opp.opportunity_id, opp.lost_reason
            ),
            _ => format!(
                "opportunity {} won (amount {})",
                opp.opportunity_id,
                amount(opp.amount)
            ),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_filters_map_to_the_proto_enum() {
        assert_eq!(status_value(None), 0);
        assert_eq!(
            status_value(Some(StatusFilter::Open)),
            OpportunityStatus::Open as i32
        );
        assert_eq!(
            status_value(Some(StatusFilter::Lost)),
            OpportunityStatus::Lost as i32
        );
    }

    #[test]
    fn the_list_ends_with_the_total() {
        let opp = Opportunity {
            opportunity_id: "opp-1".into(),
            customer_id: "cus-1".into(),
            owner_rep_id: "r1".into(),
            stage: "qualify".into(),
            amount: 500_000.0,
            name: "华为 ERP".into(),
            ..Default::default()
        };
        let text = opportunities_text(&[opp], 12);
        let lines: Vec<_> = text.lines().collect();
        assert_eq!(
            lines[0],
            "opportunity  customer  owner  stage     amount  name"
        );
        assert_eq!(
            lines[1],
            "opp-1        cus-1     r1     qualify  500,000  华为 ERP"
        );
        assert_eq!(lines[2], "1 of 12 opportunities");
        assert_eq!(opportunities_text(&[], 0), "0 of 0 opportunities\n");
    }
}
