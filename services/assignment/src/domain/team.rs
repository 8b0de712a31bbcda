//! Teams and departments: a tree per tenant. A team without parent is a department.

use std::collections::HashMap;

use super::rep::Invalid;

const MAX_TEAM_ID_CHARS: usize = 64;
const MAX_NAME_CHARS: usize = 128;

/// A team exactly as a caller sent it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TeamDraft {
    pub team_id: String,
    pub name: String,
    pub parent_team_id: String,
    pub manager_rep_id: String,
}

/// A team as stored: with its place in the tree.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Team {
    pub team_id: String,
    pub name: String,
    /// Empty for a department.
    pub parent_team_id: String,
    pub manager_rep_id: String,
    /// Every ancestor, root first.
    pub ancestors: Vec<String>,
    pub version: i64,
}

impl Team {
    /// The team's ancestors and itself, root first (a rep's `team_path`).
    pub fn path(&self) -> Vec<String> {
        let mut path = self.ancestors.clone();
        path.push(self.team_id.clone());
        path
    }
}

/// Team ids are free labels people already use ("east", "华东一部"): trimmed, no control
/// characters, at most 64 characters.
pub fn check_team_id(id: &str) -> Result<(), String> {
    if id.is_empty() {
        return Err("must not be empty: give the team a stable id such as `east`".into());
    }
    if id.chars().count() > MAX_TEAM_ID_CHARS {
        return Err(format!("must be at most {MAX_TEAM_ID_CHARS} characters"));
    }
    if id.chars().any(char::is_control) || id != id.trim() {
        return Err("must not contain control characters or surrounding spaces".into());
    }
    Ok(())
}

/// Validates a draft's own fields (the tree is checked by [`ancestors_under`]).
pub fn parse(draft: TeamDraft) -> Result<TeamDraft, Vec<Invalid>> {
    let mut problems = Vec::new();
    let team_id = draft.team_id.trim().to_owned();
    if let Err(reason) = check_team_id(&team_id) {
        problems.push(Invalid::new("team_id", reason));
    }
    let name = match draft.name.trim() {
        "" => team_id.clone(),
        name => name.to_owned(),
    };
    if name.chars().count() > MAX_NAME_CHARS {
        problems.push(Invalid::new(
            "name",
            format!("must be at most {MAX_NAME_CHARS} characters"),
        ));
    }
    let parent_team_id = draft.parent_team_id.trim().to_owned();
    if !parent_team_id.is_empty() {
        if let Err(reason) = check_team_id(&parent_team_id) {
            problems.push(Invalid::new("parent_team_id", reason));
        } else if parent_team_id == team_id {
            problems.push(Invalid::new(
                "parent_team_id",
                "must not be the team itself: leave it empty for a department",
            ));
        }
    }
    let manager_rep_id = draft.manager_rep_id.trim().to_owned();
    if !manager_rep_id.is_empty()
        && let Err(reason) = super::rep::check_rep_id(&manager_rep_id)
    {
        problems.push(Invalid::new("manager_rep_id", reason));
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(TeamDraft {
        team_id,
        name,
        parent_team_id,
        manager_rep_id,
    })
}

/// The ancestors of `team_id` placed under `parent` (None: a department). Refuses a
/// parent inside the team's own subtree, which would make a cycle.
pub fn ancestors_under(team_id: &str, parent: Option<&Team>) -> Result<Vec<String>, Invalid> {
    let Some(parent) = parent else {
        return Ok(Vec::new());
    };
    if parent.ancestors.iter().any(|a| a == team_id) {
        return Err(Invalid::new(
            "parent_team_id",
            format!(
                "team {} is inside team {team_id}; a team cannot be moved under its own sub-team",
                parent.team_id
            ),
        ));
    }
    Ok(parent.path())
}

/// The tenant's tree, for "is this team inside that one".
#[derive(Clone, Debug, Default)]
pub struct TeamTree {
    paths: HashMap<String, Vec<String>>,
}

impl TeamTree {
    pub fn new(teams: &[Team]) -> TeamTree {
        TeamTree {
            paths: teams
                .iter()
                .map(|t| (t.team_id.clone(), t.path()))
                .collect(),
        }
    }

    /// The team and its ancestors, root first; a team not set up is a root of itself.
    pub fn path(&self, team_id: &str) -> Vec<String> {
        match self.paths.get(team_id) {
            Some(path) => path.clone(),
            None if team_id.is_empty() => Vec::new(),
            None => vec![team_id.to_owned()],
        }
    }

    /// True when `team_id` is `root` or one of its sub-teams.
    pub fn is_within(&self, team_id: &str, root: &str) -> bool {
        team_id == root
            || self
                .paths
                .get(team_id)
                .is_some_and(|path| path.iter().any(|t| t == root))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn team(id: &str, ancestors: &[&str]) -> Team {
        Team {
            team_id: id.into(),
            name: id.into(),
            parent_team_id: ancestors.last().map(|s| s.to_string()).unwrap_or_default(),
            ancestors: ancestors.iter().map(|s| s.to_string()).collect(),
            ..Team::default()
        }
    }

    #[test]
    fn a_draft_is_trimmed_named_and_checked() {
        let ok = parse(TeamDraft {
            team_id: " 华东一部 ".into(),
            parent_team_id: "sales".into(),
            ..TeamDraft::default()
        })
        .unwrap();
        assert_eq!(
            (ok.team_id.as_str(), ok.name.as_str()),
            ("华东一部", "华东一部")
        );
        let bad = parse(TeamDraft {
            team_id: "x".into(),
            parent_team_id: "x".into(),
            manager_rep_id: "王".into(),
            ..TeamDraft::default()
        })
        .unwrap_err();
        let fields: Vec<&str> = bad.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(fields, vec!["parent_team_id", "manager_rep_id"]);
        assert!(parse(TeamDraft::default()).is_err());
    }

    #[test]
    fn ancestors_come_from_the_parent_and_cycles_are_refused() {
        let sales = team("sales", &[]);
        let east = team("east", &["sales"]);
        assert_eq!(
            ancestors_under("east", Some(&sales)).unwrap(),
            vec!["sales"]
        );
        assert_eq!(
            ancestors_under("east-1", Some(&east)).unwrap(),
            vec!["sales", "east"]
        );
        assert!(ancestors_under("sales", None).unwrap().is_empty());
        let cycle = ancestors_under("sales", Some(&east)).unwrap_err();
        assert!(cycle.reason.contains("own sub-team"), "{}", cycle.reason);
    }

    #[test]
    fn the_tree_answers_within() {
        let tree = TeamTree::new(&[
            team("sales", &[]),
            team("east", &["sales"]),
            team("east-1", &["sales", "east"]),
        ]);
        assert!(tree.is_within("east-1", "sales"));
        assert!(tree.is_within("east-1", "east"));
        assert!(tree.is_within("east", "east"));
        assert!(!tree.is_within("east", "east-1"));
        assert!(!tree.is_within("west", "sales"));
        assert!(
            tree.is_within("legacy", "legacy"),
            "a team not set up is itself"
        );
        assert_eq!(tree.path("east-1"), vec!["sales", "east", "east-1"]);
        assert_eq!(tree.path("legacy"), vec!["legacy"]);
    }
}
