//! ListOpportunities, the kanban board's read: filters, sort, keyset paging and the
//! per-stage column totals, all within what the caller may see.

use shangji_contracts::pipeline as pb;
use shangji_contracts::time::now_millis;
use shangji_platform::Db;
use shangji_platform::grpc::{ApiError, RequestContext};

use super::checks::Checks;
use super::{access, convert, page_token};
use crate::domain::access::Viewer;
use crate::store::opportunities::{self, Cursor, Filter, Sort, SortField, VisibleTo};

pub const DEFAULT_PAGE_SIZE: u32 = 50;
pub const MAX_PAGE_SIZE: u32 = 500;

const DAY_MS: i64 = 86_400_000;

/// What the request asks for, validated (every bad field reported at once).
struct Query {
    filter: Filter,
    sort: Sort,
    after: Option<Cursor>,
}

fn parse(req: &pb::ListOpportunitiesRequest, now: i64) -> Result<Query, ApiError> {
    let given = |value: &str| Some(value.trim().to_owned()).filter(|v| !v.is_empty());
    let mut checks = Checks::default();
    let status = convert::status_filter(req.status)
        .map_err(|_| {
            checks.violation(
                "status",
                format!(
                    "{} is not an opportunity status; use OPEN, WON or LOST, or leave it unset for any",
                    req.status
                ),
            )
        })
        .ok()
        .flatten();
    let amount_min = checks.amount("amount_min", req.amount_min);
    let amount_max = checks.amount("amount_max", req.amount_max);
    if let (Some(min), Some(max)) = (amount_min, amount_max)
        && min > max
    {
        checks.violation(
            "amount_min",
            format!("{min} is more than amount_max {max}; nothing could match"),
        );
    }
    let mut date = |field: &str, ts| {
        convert::timestamp(ts)
            .map_err(|why| checks.violation(field, why))
            .ok()
            .flatten()
    };
    let close_from = date("expected_close_from", req.expected_close_from.as_ref());
    let close_to = date("expected_close_to", req.expected_close_to.as_ref());
    if let (Some(from), Some(to)) = (close_from, close_to)
        && from > to
    {
        checks.violation(
            "expected_close_from",
            "is after expected_close_to; nothing could match",
        );
    }
    let field = match req.sort_by.trim() {
        "" => Some(SortField::default()),
        name => SortField::parse(name).or_else(|| {
            let known: Vec<&str> = SortField::ALL.iter().map(|f| f.as_str()).collect();
            checks.violation(
                "sort_by",
                format!("`{name}` is not a sort; use one of: {}", known.join(", ")),
            );
            None
        }),
    };
    let descending = match pb::SortOrder::try_from(req.sort_order) {
        Ok(pb::SortOrder::Ascending) => false,
        Ok(pb::SortOrder::Descending | pb::SortOrder::Unspecified) => true,
        Err(_) => {
            checks.violation(
                "sort_order",
                format!(
                    "{} is not a sort order; use ASCENDING or DESCENDING",
                    req.sort_order
                ),
            );
            true
        }
    };
    let sort = Sort {
        field: field.unwrap_or_default(),
        descending,
    };
    let after = match req.page_token.as_str() {
        "" => None,
        token => match page_token::decode(token) {
            None => {
                checks.violation(
                    "page_token",
                    "is not a token from a previous ListOpportunities response; list again without it",
                );
                None
            }
            Some((token_sort, _)) if field.is_some() && token_sort != sort => {
                checks.violation(
                    "page_token",
                    "was issued for a different sort_by or sort_order; keep the sort while paging or list again without it",
                );
                None
            }
            Some((_, cursor)) => Some(cursor),
        },
    };
    checks.finish()?;
    let stalled_before = match req.stalled_for_days {
        0 => None,
        days => Some(now - i64::from(days) * DAY_MS),
    };
    Ok(Query {
        filter: Filter {
            owner_rep_id: given(&req.owner_rep_id),
            stage: given(&req.stage),
            customer_id: given(&req.customer_id),
            status,
            team: given(&req.team),
            amount_min,
            amount_max,
            close_from,
            close_to,
            stalled_before,
            visible_to: None,
        },
        sort,
        after,
    })
}

pub async fn list_opportunities(
    db: &Db,
    ctx: &RequestContext,
    req: pb::ListOpportunitiesRequest,
) -> Result<pb::ListOpportunitiesResponse, ApiError> {
    let Query {
        mut filter,
        sort,
        after,
    } = parse(&req, now_millis())?;
    let mut conn = db.reader().acquire().await?;
    let caller = access::caller(&mut conn, ctx).await?;
    filter.visible_to = match caller.viewer {
        Viewer::Unrestricted | Viewer::Admin { .. } => None,
        Viewer::Scoped { rep_id, teams } => Some(VisibleTo { rep_id, teams }),
        Viewer::Nobody => return Ok(pb::ListOpportunitiesResponse::default()),
    };
    // Larger pages are served at the maximum rather than refused.
    let page_size = match req.page_size {
        0 => DEFAULT_PAGE_SIZE,
        n => n.min(MAX_PAGE_SIZE),
    } as usize;
    let total = opportunities::count(&mut conn, &ctx.tenant_id, &filter).await?;
    let mut page = opportunities::list(
        &mut conn,
        &ctx.tenant_id,
        &filter,
        sort,
        after.as_ref(),
        page_size as i64 + 1,
    )
    .await?;
    let next_page_token = if page.len() > page_size {
        page.truncate(page_size);
        page.last()
            .map(|last| page_token::encode(sort, &last.cursor))
            .unwrap_or_default()
    } else {
        String::new()
    };
    let stage_summary = if req.include_stage_summary {
        // Every column of the board, whichever one the list itself is filtered to.
        let columns = Filter {
            stage: None,
            ..filter
        };
        opportunities::stage_summary(&mut conn, &ctx.tenant_id, &columns)
            .await?
            .into_iter()
            .map(|s| pb::StageSummary {
                stage: s.stage,
                count: u64::try_from(s.count).unwrap_or(0),
                amount: s.amount,
            })
            .collect()
    } else {
        Vec::new()
    };
    Ok(pb::ListOpportunitiesResponse {
        opportunities: page
            .iter()
            .map(|l| convert::opportunity(&l.opportunity))
            .collect(),
        next_page_token,
        total_count: u64::try_from(total).unwrap_or(0),
        stage_summary,
    })
}
