//! Data permissions (数据权限): who sees which opportunities. A rep sees the ones they
//! own and the ones they collaborate on; a manager also those of their team's subtree;
//! an admin everything in the tenant. The organisation comes from the local replica of
//! the assignment service's org events.
//!
//! Callers the replica does not know: while the tenant has no admin in its replica (no
//! organisation yet, or reps set up without anyone to administer them) they see the
//! whole tenant, as before permissions existed, so systems and tools that call without
//! a rep id keep working; once the tenant has an admin, an unknown caller sees nothing.
//! Known reps and managers are always held to their scope; departed reps see nothing.

/// What a user may see, by role.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Rep,
    Manager,
    Admin,
}

impl Role {
    pub fn parse(role: &str) -> Option<Role> {
        match role.trim().to_ascii_lowercase().as_str() {
            "rep" => Some(Role::Rep),
            "manager" => Some(Role::Manager),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// A team as the replica holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrgTeam {
    pub team_id: String,
    pub manager_rep_id: String,
    /// Root first, the parent last.
    pub ancestor_team_ids: Vec<String>,
}

/// A user as the replica holds them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrgRep {
    pub rep_id: String,
    pub team_id: String,
    pub role: String,
    pub status: String,
}

/// The caller, as far as permissions go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Viewer {
    /// The tenant has no organisation yet: nothing is restricted.
    Unrestricted,
    Admin {
        rep_id: String,
    },
    /// Sees their own opportunities, their collaborations and those of `teams`.
    Scoped {
        rep_id: String,
        teams: Vec<String>,
    },
    /// Unknown to the tenant's organisation, departed, or with no role: sees nothing.
    Nobody,
}

impl Viewer {
    /// Who `user_id` is, given their replica record, whether the tenant has an admin,
    /// and the tenant's teams.
    pub fn of(
        user_id: &str,
        rep: Option<&OrgRep>,
        tenant_has_admin: bool,
        teams: &[OrgTeam],
    ) -> Viewer {
        let Some(rep) = rep else {
            return if tenant_has_admin {
                Viewer::Nobody
            } else {
                Viewer::Unrestricted
            };
        };
        if rep.status == "departed" {
            return Viewer::Nobody;
        }
        match Role::parse(&rep.role) {
            Some(Role::Admin) => Viewer::Admin {
                rep_id: user_id.to_owned(),
            },
            Some(Role::Manager) => Viewer::Scoped {
                rep_id: user_id.to_owned(),
                teams: managed_subtree(&rep.rep_id, &rep.team_id, teams),
            },
            Some(Role::Rep) => Viewer::Scoped {
                rep_id: user_id.to_owned(),
                teams: Vec::new(),
            },
            None => Viewer::Nobody,
        }
    }

    /// Sees every opportunity of the tenant.
    pub fn sees_all(&self) -> bool {
        matches!(self, Viewer::Unrestricted | Viewer::Admin { .. })
    }

    /// May change the tenant's set-up (pipelines, rules, loss reasons).
    pub fn is_admin(&self) -> bool {
        self.sees_all()
    }

    /// May change the opportunity team of an opportunity owned by `owner` in `team`:
    /// its owner, a manager over the team, an admin (collaborators may not).
    pub fn can_manage(&self, owner: &str, team: &str) -> bool {
        self.can_see(owner, team, &[])
    }

    /// Whether the opportunity owned by `owner` in `team`, with `collaborators`, is
    /// visible.
    pub fn can_see(&self, owner: &str, team: &str, collaborators: &[String]) -> bool {
        match self {
            Viewer::Unrestricted | Viewer::Admin { .. } => true,
            Viewer::Scoped { rep_id, teams } => {
                owner == rep_id
                    || collaborators.iter().any(|c| c == rep_id)
                    || (!team.is_empty() && teams.iter().any(|t| t == team))
            }
            Viewer::Nobody => false,
        }
    }
}

/// The teams a manager oversees: their own team, the teams they manage, and every team
/// below those.
pub fn managed_subtree(rep_id: &str, own_team: &str, teams: &[OrgTeam]) -> Vec<String> {
    let mut roots: Vec<&str> = teams
        .iter()
        .filter(|t| t.manager_rep_id == rep_id)
        .map(|t| t.team_id.as_str())
        .collect();
    if !own_team.is_empty() {
        roots.push(own_team);
    }
    let mut subtree: Vec<String> = teams
        .iter()
        .filter(|t| {
            roots.contains(&t.team_id.as_str())
                || t.ancestor_team_ids
                    .iter()
                    .any(|a| roots.contains(&a.as_str()))
        })
        .map(|t| t.team_id.clone())
        .collect();
    for root in roots {
        if !subtree.iter().any(|t| t == root) {
            subtree.push(root.to_owned());
        }
    }
    subtree.sort();
    subtree
}

/// The managers of `team` and of every team above it, nearest first.
pub fn managers_above(team: &str, teams: &[OrgTeam]) -> Vec<String> {
    let Some(found) = teams.iter().find(|t| t.team_id == team) else {
        return Vec::new();
    };
    let mut chain = vec![found];
    for ancestor in found.ancestor_team_ids.iter().rev() {
        if let Some(t) = teams.iter().find(|t| &t.team_id == ancestor) {
            chain.push(t);
        }
    }
    chain
        .into_iter()
        .map(|t| t.manager_rep_id.clone())
        .filter(|m| !m.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn team(id: &str, manager: &str, ancestors: &[&str]) -> OrgTeam {
        OrgTeam {
            team_id: id.into(),
            manager_rep_id: manager.into(),
            ancestor_team_ids: ancestors.iter().map(|a| (*a).to_owned()).collect(),
        }
    }

    fn org() -> Vec<OrgTeam> {
        vec![
            team("sales", "boss", &[]),
            team("east", "zhou", &["sales"]),
            team("east_sh", "", &["sales", "east"]),
            team("west", "wu", &["sales"]),
        ]
    }

    fn rep(id: &str, team: &str, role: &str) -> OrgRep {
        OrgRep {
            rep_id: id.into(),
            team_id: team.into(),
            role: role.into(),
            status: "active".into(),
        }
    }

    #[test]
    fn managers_see_their_subtree_reps_their_own_admins_everything() {
        let teams = org();
        let zhou = Viewer::of("zhou", Some(&rep("zhou", "east", "manager")), true, &teams);
        assert_eq!(
            zhou,
            Viewer::Scoped {
                rep_id: "zhou".into(),
                teams: vec!["east".into(), "east_sh".into()]
            }
        );
        assert!(zhou.can_see("li", "east_sh", &[]));
        assert!(!zhou.can_see("li", "west", &[]));
        let wang = Viewer::of("wang", Some(&rep("wang", "east", "rep")), true, &teams);
        assert!(wang.can_see("wang", "east", &[]));
        assert!(!wang.can_see("li", "east", &[]));
        assert!(wang.can_see("li", "west", &["wang".into()]));
        let admin = Viewer::of("root", Some(&rep("root", "", "admin")), true, &teams);
        assert!(admin.can_see("anyone", "", &[]) && admin.is_admin());
    }

    #[test]
    fn unknown_users_see_nothing_once_the_tenant_has_an_admin() {
        let teams = org();
        assert_eq!(Viewer::of("x", None, false, &teams), Viewer::Unrestricted);
        assert_eq!(Viewer::of("x", None, true, &teams), Viewer::Nobody);
        // Known reps are scoped even before an admin exists.
        let wang = Viewer::of("wang", Some(&rep("wang", "east", "rep")), false, &teams);
        assert!(!wang.can_see("li", "east", &[]));
        let mut gone = rep("li", "east", "rep");
        gone.status = "departed".into();
        assert_eq!(Viewer::of("li", Some(&gone), true, &teams), Viewer::Nobody);
        assert!(!Viewer::Nobody.can_see("li", "east", &[]));
    }

    #[test]
    fn the_managers_above_a_team_nearest_first() {
        let teams = org();
        assert_eq!(managers_above("east_sh", &teams), ["zhou", "boss"]);
        assert_eq!(managers_above("west", &teams), ["wu", "boss"]);
        assert!(managers_above("nowhere", &teams).is_empty());
    }
}
