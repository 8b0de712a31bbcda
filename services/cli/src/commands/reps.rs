//! `reps add` and `reps list`.

use serde_json::json;
use shangji_contracts::assignment::{ListRepsRequest, ListRepsResponse, Rep, UpsertRepRequest};

use super::text_or_empty;
use crate::cli::{RepAddArgs, RepListArgs};
use crate::client::Services;
use crate::error::{CliError, rpc_failed};
use crate::format::Table;
use crate::json;
use crate::output::Output;

pub async fn add(services: &Services, output: Output, args: RepAddArgs) -> Result<(), CliError> {
    let rep = Rep {
        rep_id: args.id,
        name: args.name,
        team: args.team,
        regions: args.regions,
        industries: args.industries,
        capacity: args.capacity,
        active: !args.inactive,
    };
    let mut assignment = services.assignment().await?;
    let response = assignment
        .upsert_rep(UpsertRepRequest { rep: Some(rep) })
        .await
        .map_err(rpc_failed("UpsertRep"))?
        .into_inner();
    let rep = response.rep.unwrap_or_default();
    output.either(
        || json!({ "created": response.created, "rep": json::rep(&rep) }),
        || {
            format!(
                "{} rep {} ({}, team {}{})",
                if response.created {
                    "created"
                } else {
                    "updated"
                },
                rep.rep_id,
                rep.name,
                rep.team,
                if rep.active { "" } else { ", inactive" }
            )
        },
    )
}

pub async fn list(services: &Services, output: Output, args: RepListArgs) -> Result<(), CliError> {
    let mut assignment = services.assignment().await?;
    let response = assignment
        .list_reps(ListRepsRequest {
            team: text_or_empty(args.team),
            active_only: args.active_only,
        })
        .await
        .map_err(rpc_failed("ListReps"))?
        .into_inner();
    output.either(
        || {
            let reps: Vec<_> = with_loads(&response)
                .map(|(rep, load)| json::rep_with_load(rep, load))
                .collect();
            json!({ "reps": reps })
        },
        || reps_table(&response),
    )
}

/// Each rep with its load, when assignment reported one.
fn with_loads(
    response: &ListRepsResponse,
) -> impl Iterator<Item = (&Rep, Option<&shangji_contracts::assignment::RepLoad>)> {
    response.reps.iter().map(|rep| {
        let load = response
            .loads
            .iter()
            .find(|l| l.rep.as_ref().is_some_and(|r| r.rep_id == rep.rep_id));
        (rep, load)
    })
}

fn reps_table(response: &ListRepsResponse) -> String {
    if response.reps.is_empty() {
        return "no reps".to_owned();
    }
    let mut table = Table::new(&[
        "rep",
        "name",
        "team",
        "regions",
        "industries",
        "capacity",
        "active",
        "open",
        "assigned",
    ])
    .right(&["capacity", "open", "assigned"]);
    let list = |items: &[String]| {
        if items.is_empty() {
            "all".to_owned()
        } else {
            items.join(",")
        }
    };
    for (rep, load) in with_loads(response) {
        table.row(vec![
            rep.rep_id.clone(),
            rep.name.clone(),
            rep.team.clone(),
            list(&rep.regions),
            list(&rep.industries),
            if rep.capacity == 0 {
                "no limit".to_owned()
            } else {
                rep.capacity.to_string()
            },
            if rep.active { "yes" } else { "no" }.to_owned(),
            load.map_or("-".to_owned(), |l| l.open_count.to_string()),
            load.map_or("-".to_owned(), |l| l.assigned_total.to_string()),
        ]);
    }
    table.render()
}

#[cfg(test)]
mod tests {
    use super::*;
    use shangji_contracts::assignment::RepLoad;

    #[test]
    fn the_table_shows_each_reps_load() {
        let rep = Rep {
            rep_id: "r1".into(),
            name: "李雷".into(),
            team: "east".into(),
            regions: vec!["上海".into()],
            industries: vec![],
            capacity: 0,
            active: true,
        };
        let response = ListRepsResponse {
            reps: vec![rep.clone()],
            loads: vec![RepLoad {
                rep: Some(rep),
                open_count: 3,
                assigned_total: 7,
            }],
        };
        let text = reps_table(&response);
        let line = text.lines().nth(1).unwrap();
        assert_eq!(
            line,
            "r1   李雷  east  上海     all         no limit  yes        3         7"
        );
    }
}
