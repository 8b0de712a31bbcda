//! A report request, validated: which rows (scope, months) and how they are sliced.

use shangji_contracts::analytics::{ReportFilter, SliceBy};
use shangji_platform::Db;
use shangji_platform::grpc::{ApiError, FieldViolation, RequestContext};

use super::access::{self, UnknownCaller};
use crate::domain::Scope;
use crate::domain::contribution::dim;
use crate::domain::period::parse_month;
use crate::store::rollups::Group;

/// Longest team or rep id accepted in a filter; longer ones cannot exist.
const MAX_ID_LEN: usize = 128;

#[derive(Clone, Debug, PartialEq)]
pub struct ReportQuery {
    pub scope: Scope,
    pub from_month: Option<i64>,
    pub to_month: Option<i64>,
    pub slice: SliceBy,
}

impl ReportQuery {
    /// The dimension and grouping a metric is read with. `dims` are the dimensions the
    /// metric keeps; a slice it does not keep is refused naming `filter.slice_by`.
    pub fn layout(&self, dims: &[&str]) -> Result<(&'static str, Group), ApiError> {
        let (dimension, group) = match self.slice {
            SliceBy::None => (dim::ALL, Group::Nothing),
            SliceBy::Period => (dim::ALL, Group::Period),
            SliceBy::Team => (dim::ALL, Group::Team),
            SliceBy::Source => (dim::SOURCE, Group::DimValue),
            SliceBy::Industry => (dim::INDUSTRY, Group::DimValue),
            SliceBy::Region => (dim::REGION, Group::DimValue),
            SliceBy::Rep => (dim::REP, Group::DimValue),
        };
        if self.scope.rep.is_some() && !matches!(dimension, d if d == dim::ALL || d == dim::REP) {
            return Err(ApiError::invalid_field(
                "filter.slice_by",
                "one rep's figures are kept by period and team only; \
                 slice by period, team or rep, or ask for a team",
            ));
        }
        if !dims.contains(&dimension) {
            return Err(ApiError::invalid_field(
                "filter.slice_by",
                format!(
                    "this report is kept by {}; choose one of those",
                    dims.join(", ")
                ),
            ));
        }
        Ok((dimension, group))
    }
}

fn id_field(value: &str, field: &str, violations: &mut Vec<FieldViolation>) -> Option<String> {
    let value = value.trim();
    if value.len() > MAX_ID_LEN {
        violations.push(FieldViolation::new(
            field,
            format!("must be at most {MAX_ID_LEN} characters, or empty for no filter"),
        ));
        return None;
    }
    (!value.is_empty()).then(|| value.to_owned())
}

/// Validates the filter and works out the caller's scope within it. `owner_rep_id` is
/// the funnel's original rep filter (the same as `filter.rep_id`).
pub async fn report_query(
    db: &Db,
    ctx: &RequestContext,
    filter: Option<&ReportFilter>,
    owner_rep_id: Option<&str>,
    unknown: UnknownCaller,
) -> Result<ReportQuery, ApiError> {
    let default = ReportFilter::default();
    let filter = filter.unwrap_or(&default);
    let mut violations = Vec::new();
    let month = |text: &str, field: &str, violations: &mut Vec<FieldViolation>| {
        if text.trim().is_empty() {
            return None;
        }
        let parsed = parse_month(text);
        if parsed.is_none() {
            violations.push(FieldViolation::new(
                field,
                format!("`{text}` is not a month; write YYYY-MM, e.g. 2026-11"),
            ));
        }
        parsed
    };
    let from_month = month(&filter.from_month, "filter.from_month", &mut violations);
    let to_month = month(&filter.to_month, "filter.to_month", &mut violations);
    if let (Some(from), Some(to)) = (from_month, to_month)
        && from > to
    {
        violations.push(FieldViolation::new(
            "filter.to_month",
            "must not be before filter.from_month",
        ));
    }
    let team = id_field(&filter.team_id, "filter.team_id", &mut violations);
    let mut rep = id_field(&filter.rep_id, "filter.rep_id", &mut violations);
    if let Some(owner) = owner_rep_id {
        let owner = id_field(owner, "owner_rep_id", &mut violations);
        match (&rep, owner) {
            (Some(r), Some(o)) if *r != o => violations.push(FieldViolation::new(
                "owner_rep_id",
                "differs from filter.rep_id; give one of them",
            )),
            (None, Some(o)) => rep = Some(o),
            _ => {}
        }
    }
    let slice = SliceBy::try_from(filter.slice_by).unwrap_or_else(|_| {
        violations.push(FieldViolation::new(
            "filter.slice_by",
            format!("{} is not a known SliceBy value", filter.slice_by),
        ));
        SliceBy::None
    });
    if !violations.is_empty() {
        return Err(ApiError::invalid(violations));
    }
    let scope = access::caller_scope(db, ctx, unknown).await?;
    let scope = access::narrowed(db, ctx, scope, team.as_deref(), rep.as_deref()).await?;
    Ok(ReportQuery {
        scope,
        from_month,
        to_month,
        slice,
    })
}
