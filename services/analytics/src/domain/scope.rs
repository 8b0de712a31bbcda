//! Data permissions: which rollup rows a caller may read. The organisation (teams,
//! reps, roles) is a replica kept from assignment's org events.

use serde::{Deserialize, Serialize};

/// What a user may see.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Role {
    /// Their own figures.
    Rep,
    /// Their team's subtree.
    Manager,
    /// The whole tenant.
    Admin,
}

impl Role {
    /// Unknown roles see the least.
    pub fn parse(value: &str) -> Role {
        match value.trim().to_ascii_lowercase().as_str() {
            "admin" => Role::Admin,
            "manager" => Role::Manager,
            _ => Role::Rep,
        }
    }
}

/// The rows a query may read: `None` places no limit.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Scope {
    /// Only this rep's own figures (the `rep` dimension).
    pub rep: Option<String>,
    /// Only rows of these teams.
    pub teams: Option<Vec<String>>,
}

impl Scope {
    pub fn tenant() -> Scope {
        Scope::default()
    }

    pub fn rep(rep_id: &str) -> Scope {
        Scope {
            rep: Some(rep_id.to_owned()),
            teams: None,
        }
    }

    pub fn teams(teams: Vec<String>) -> Scope {
        Scope {
            rep: None,
            teams: Some(teams),
        }
    }

    /// Narrows the scope to a team subtree and/or a rep the request asks for, never
    /// widening it; `None` when the request asks for something outside the scope.
    pub fn narrow(self, team_subtree: Option<Vec<String>>, rep: Option<&str>) -> Option<Scope> {
        let mut scope = self;
        if let Some(wanted) = team_subtree {
            scope.teams = Some(match scope.teams {
                None => wanted,
                Some(allowed) => {
                    let both: Vec<String> =
                        wanted.into_iter().filter(|t| allowed.contains(t)).collect();
                    if both.is_empty() {
                        return None;
                    }
                    both
                }
            });
        }
        if let Some(rep) = rep {
            match &scope.rep {
                Some(own) if own != rep => return None,
                _ => scope.rep = Some(rep.to_owned()),
            }
        }
        Some(scope)
    }
}

/// A caller as the org replica knows them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    pub rep_id: String,
    pub role: Role,
    pub team_id: String,
}

/// The scope of a known caller. `subtree` lists the teams at or under the caller's
/// team (only consulted for managers).
pub fn scope_of(caller: &Caller, subtree: Vec<String>) -> Scope {
    match caller.role {
        Role::Admin => Scope::tenant(),
        Role::Manager if !caller.team_id.is_empty() => Scope::teams(subtree),
        _ => Scope::rep(&caller.rep_id),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(role: Role) -> Caller {
        Caller {
            rep_id: "zhang".into(),
            role,
            team_id: "east".into(),
        }
    }

    #[test]
    fn roles_map_to_scopes() {
        let subtree = vec!["east".to_owned(), "east-1".to_owned()];
        assert_eq!(
            scope_of(&caller(Role::Admin), subtree.clone()),
            Scope::tenant()
        );
        assert_eq!(
            scope_of(&caller(Role::Manager), subtree.clone()),
            Scope::teams(subtree)
        );
        assert_eq!(scope_of(&caller(Role::Rep), vec![]), Scope::rep("zhang"));
        assert_eq!(Role::parse(" Manager "), Role::Manager);
        assert_eq!(Role::parse("intern"), Role::Rep);
    }

    #[test]
    fn narrowing_never_widens() {
        let manager = Scope::teams(vec!["east".into(), "east-1".into()]);
        // A sub-team of the subtree, or one of its reps: fine.
        assert_eq!(
            manager.clone().narrow(Some(vec!["east-1".into()]), None),
            Some(Scope::teams(vec!["east-1".into()]))
        );
        assert_eq!(
            manager.clone().narrow(None, Some("li")),
            Some(Scope {
                rep: Some("li".into()),
                teams: Some(vec!["east".into(), "east-1".into()])
            })
        );
        // Another team: refused.
        assert_eq!(manager.narrow(Some(vec!["west".into()]), None), None);
        // A rep asking for someone else: refused; for themselves: fine.
        assert_eq!(Scope::rep("zhang").narrow(None, Some("li")), None);
        assert_eq!(
            Scope::rep("zhang").narrow(None, Some("zhang")),
            Some(Scope::rep("zhang"))
        );
        assert_eq!(
            Scope::tenant().narrow(None, Some("li")),
            Some(Scope::rep("li"))
        );
    }
}
