//! Teams and full rep profiles; every change publishes the org events other services
//! replicate for data permissions.

use shangji_contracts::assignment::{
    ListRepProfilesRequest, ListRepProfilesResponse, ListTeamsRequest, ListTeamsResponse,
    UpsertRepProfileRequest, UpsertRepProfileResponse, UpsertTeamRequest, UpsertTeamResponse,
};
use shangji_contracts::events::org::{RepUpserted, TeamUpserted};
use shangji_contracts::time::from_millis;
use shangji_platform::Tx;
use shangji_platform::bus::{self, EventContext};
use shangji_platform::grpc::{ApiError, RequestContext};
use shangji_platform::idempotency;

use super::{AssignmentApi, convert};
use crate::domain::team::{self, ancestors_under};
use crate::domain::{Rep, RepProfile, Team, TeamDraft, TeamTree, utc_day};
use crate::placement::drain;
use crate::store::{reps, teams};

impl AssignmentApi {
    pub(super) async fn do_upsert_team(
        &self,
        ctx: &RequestContext,
        request: UpsertTeamRequest,
    ) -> Result<UpsertTeamResponse, ApiError> {
        let team = request.team.clone().ok_or_else(|| {
            ApiError::invalid_field("team", "is required: send the team to create or change")
        })?;
        let draft = team::parse(TeamDraft {
            team_id: team.team_id,
            name: team.name,
            parent_team_id: team.parent_team_id,
            manager_rep_id: team.manager_rep_id,
        })
        .map_err(|p| convert::invalid("team", p))?;
        let now = self.clock.now();
        idempotency::once(
            &self.db,
            ctx,
            "UpsertTeam",
            &request.idempotency_key.clone(),
            &request,
            async |tx| {
                let parent = match draft.parent_team_id.as_str() {
                    "" => None,
                    parent => Some(
                        teams::get(&mut **tx, &ctx.tenant_id, parent)
                            .await?
                            .ok_or_else(|| ApiError::FailedPrecondition {
                                message: format!(
                                    "parent team {parent} does not exist; create it first"
                                ),
                                missing: vec![format!("team {parent}")],
                            })?,
                    ),
                };
                let ancestors = ancestors_under(&draft.team_id, parent.as_ref())
                    .map_err(|p| convert::invalid("team", vec![p]))?;
                let (saved, created) =
                    teams::save(tx, &ctx.tenant_id, &draft, &ancestors, now).await?;
                let event_ctx = EventContext::from_request(ctx, saved.team_id.clone());
                publish_team(tx, &event_ctx, &saved, now).await?;
                // Sub-teams and their reps moved with it: their paths changed.
                let all = teams::list(&mut **tx, &ctx.tenant_id).await?;
                let mut tree = TeamTree::new(&all);
                let mut below: Vec<&Team> = all
                    .iter()
                    .filter(|t| t.ancestors.contains(&saved.team_id))
                    .collect();
                below.sort_by_key(|t| t.ancestors.len());
                for sub in below {
                    let parent_path = tree.path(&sub.parent_team_id);
                    if parent_path != sub.ancestors {
                        teams::set_ancestors(tx, &ctx.tenant_id, &sub.team_id, &parent_path, now)
                            .await?;
                        let moved = teams::get(&mut **tx, &ctx.tenant_id, &sub.team_id)
                            .await?
                            .ok_or(sqlx::Error::RowNotFound)?;
                        publish_team(tx, &event_ctx, &moved, now).await?;
                        // Deeper teams read their parent's new path.
                        tree = TeamTree::new(&teams::list(&mut **tx, &ctx.tenant_id).await?);
                    }
                }
                if !created {
                    for rep in
                        reps::list(&mut **tx, &ctx.tenant_id, utc_day(now), "", false).await?
                    {
                        if tree.is_within(&rep.profile.team, &saved.team_id) {
                            publish_rep(tx, &event_ctx, &rep, &tree, now).await?;
                        }
                    }
                }
                Ok(UpsertTeamResponse {
                    team: Some(convert::team_to_proto(&saved)),
                    created,
                })
            },
        )
        .await
    }

    pub(super) async fn do_list_teams(
        &self,
        ctx: &RequestContext,
        request: ListTeamsRequest,
    ) -> Result<ListTeamsResponse, ApiError> {
        let mut all = teams::list(self.db.reader(), &ctx.tenant_id).await?;
        let root = request.root_team_id.trim();
        if !root.is_empty() {
            all.retain(|t| t.team_id == root || t.ancestors.iter().any(|a| a == root));
        }
        // Depth first: sorting by the full path puts every team right after its parent.
        all.sort_by_key(Team::path);
        Ok(ListTeamsResponse {
            teams: all.iter().map(convert::team_to_proto).collect(),
        })
    }

    pub(super) async fn do_upsert_rep_profile(
        &self,
        ctx: &RequestContext,
        request: UpsertRepProfileRequest,
    ) -> Result<UpsertRepProfileResponse, ApiError> {
        let profile = request.profile.clone().ok_or_else(|| {
            ApiError::invalid_field("profile", "is required: send the rep's profile")
        })?;
        let profile = RepProfile::parse(convert::draft_from_profile(profile))
            .map_err(|p| convert::invalid("profile", p))?;
        let key = request.idempotency_key.clone();
        idempotency::once(
            &self.db,
            ctx,
            "UpsertRepProfile",
            &key,
            &request,
            async |tx| {
                let (rep, created) = self.save_rep(tx, ctx, &profile).await?;
                Ok(UpsertRepProfileResponse {
                    profile: Some(convert::profile_to_proto(&rep)),
                    created,
                })
            },
        )
        .await
    }

    /// Saves a profile, creates its team as a department when it is new, publishes
    /// `rep_upserted`, and places waiting leads (the rep may have come back or got room).
    pub(super) async fn save_rep(
        &self,
        tx: &mut Tx,
        ctx: &RequestContext,
        profile: &RepProfile,
    ) -> Result<(Rep, bool), ApiError> {
        let now = self.clock.now();
        let tenant_id = ctx.tenant_id.as_str();
        let event_ctx = EventContext::from_request(ctx, profile.rep_id.clone());
        if !profile.team.is_empty()
            && teams::get(&mut **tx, tenant_id, &profile.team)
                .await?
                .is_none()
        {
            let draft = TeamDraft {
                team_id: profile.team.clone(),
                name: profile.team.clone(),
                ..TeamDraft::default()
            };
            let (team, _) = teams::save(tx, tenant_id, &draft, &[], now).await?;
            publish_team(tx, &event_ctx, &team, now).await?;
        }
        let created = reps::insert_new(tx, tenant_id, profile, now).await?;
        if created {
            // Opportunities may have named the rep before the rep was set up here.
            reps::refresh_open_count(tx, tenant_id, &profile.rep_id, now).await?;
        } else {
            reps::update_profile(tx, tenant_id, profile, now).await?;
        }
        let rep = reps::get(&mut **tx, tenant_id, utc_day(now), &profile.rep_id)
            .await?
            .ok_or(sqlx::Error::RowNotFound)?;
        let tree = TeamTree::new(&teams::list(&mut **tx, tenant_id).await?);
        publish_rep(tx, &event_ctx, &rep, &tree, now).await?;
        if rep.profile.is_active() {
            drain::drain_pool(tx, &event_ctx, now).await?;
        }
        tracing::info!(tenant_id, rep_id = %profile.rep_id, team = %profile.team, status = profile.status.as_str(), created, "rep saved");
        Ok((rep, created))
    }

    pub(super) async fn do_list_rep_profiles(
        &self,
        ctx: &RequestContext,
        request: ListRepProfilesRequest,
    ) -> Result<ListRepProfilesResponse, ApiError> {
        let now = self.clock.now();
        let mut found =
            reps::list(self.db.reader(), &ctx.tenant_id, utc_day(now), "", false).await?;
        let tree = TeamTree::new(&teams::list(self.db.reader(), &ctx.tenant_id).await?);
        let root = request.team_id.trim();
        let status = convert::status_filter(request.status);
        found.retain(|r| {
            (root.is_empty() || tree.is_within(&r.profile.team, root))
                && status.is_none_or(|s| r.profile.status == s)
        });
        found.sort_by(|a, b| {
            (&a.profile.team, &a.profile.rep_id).cmp(&(&b.profile.team, &b.profile.rep_id))
        });
        Ok(ListRepProfilesResponse {
            reps: found.iter().map(convert::profile_load_to_proto).collect(),
        })
    }
}

pub async fn publish_team(
    tx: &mut Tx,
    ctx: &EventContext,
    team: &Team,
    now: i64,
) -> Result<(), sqlx::Error> {
    let event = TeamUpserted {
        team_id: team.team_id.clone(),
        name: team.name.clone(),
        parent_team_id: team.parent_team_id.clone(),
        manager_rep_id: team.manager_rep_id.clone(),
        ancestor_team_ids: team.ancestors.clone(),
        updated_at: Some(from_millis(now)),
        version: u64::try_from(team.version).unwrap_or(0),
    };
    bus::enqueue(tx, ctx, &event).await?;
    Ok(())
}

pub async fn publish_rep(
    tx: &mut Tx,
    ctx: &EventContext,
    rep: &Rep,
    tree: &TeamTree,
    now: i64,
) -> Result<(), sqlx::Error> {
    let p = &rep.profile;
    let event = RepUpserted {
        rep_id: p.rep_id.clone(),
        name: p.name.clone(),
        team_id: p.team.clone(),
        role: p.role.as_str().to_owned(),
        status: p.status.as_str().to_owned(),
        team_path: tree.path(&p.team),
        updated_at: Some(from_millis(now)),
        version: u64::try_from(rep.version).unwrap_or(0),
        email: p.email.clone(),
    };
    bus::enqueue(tx, ctx, &event).await?;
    Ok(())
}
