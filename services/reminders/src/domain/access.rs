//! Data permissions (数据权限): whose reminders a caller sees. The same rules as the
//! pipeline service's, over reminders' own replica of assignment's org events: a rep
//! sees their own reminders, a manager also those of their team's subtree (the team of
//! the reminder's opportunity, or of its lead before there is one), an admin everything
//! in the tenant.
//!
//! Callers the replica does not know: while the tenant has no admin (no organisation
//! yet) they see the whole tenant, as before permissions existed, so tools calling
//! without a rep id keep working; once it has one, an unknown caller sees nothing.
//! Departed reps and users without a role see nothing.

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
    pub parent_team_id: String,
    pub manager_rep_id: String,
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
    /// Sees their own reminders and those of `teams`.
    Scoped {
        rep_id: String,
        teams: Vec<String>,
    },
    /// Unknown to an organised tenant, departed, or without a role: sees nothing.
    Nobody,
}

impl Viewer {
    /// Who `user_id` is, given their replica record, whether the tenant has an active
    /// admin, and the tenant's teams.
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

    /// Sees every reminder of the tenant.
    pub fn sees_all(&self) -> bool {
        matches!(self, Viewer::Unrestricted | Viewer::Admin { .. })
    }

    /// Whether a reminder owned by `owner`, whose opportunity or lead is in `team`, is
    /// visible.
    pub fn can_see(&self, owner: &str, team: &str) -> bool {
        match self {
            Viewer::Unrestricted | Viewer::Admin { .. } => true,
            Viewer::Scoped { rep_id, teams } => {
                owner == rep_id || (!team.is_empty() && teams.iter().any(|t| t == team))
            }
            Viewer::Nobody => false,
        }
    }
}

/// How far down a team tree is followed (trees are shallow; this bounds a cycle that
/// bad events could create).
const MAX_TREE_DEPTH: usize = 16;

/// The teams a manager oversees: their own team, the teams they manage, and every team
/// below those (found through each team's parent).
pub fn managed_subtree(rep_id: &str, own_team: &str, teams: &[OrgTeam]) -> Vec<String> {
    let mut subtree: Vec<String> = teams
        .iter()
        .filter(|t| t.manager_rep_id == rep_id)
        .map(|t| t.team_id.clone())
        .collect();
    if !own_team.is_empty() && !subtree.iter().any(|t| t == own_team) {
        subtree.push(own_team.to_owned());
    }
    let mut frontier = subtree.clone();
    for _ in 0..MAX_TREE_DEPTH {
        let children: Vec<String> = teams
            .iter()
            .filter(|t| frontier.contains(&t.parent_team_id) && !subtree.contains(&t.team_id))
            .map(|t| t.team_id.clone())
            .collect();
        if children.is_empty() {
            break;
        }
        subtree.extend(children.iter().cloned());
        frontier = children;
    }
    subtree.sort();
    subtree
}

#[cfg(test)]
mod tests {
    use super::*;

    fn team(id: &str, parent: &str, manager: &str) -> OrgTeam {
        OrgTeam {
            team_id: id.into(),
            parent_team_id: parent.into(),
            manager_rep_id: manager.into(),
        }
    }

    fn org() -> Vec<OrgTeam> {
        vec![
            team("sales", "", "boss"),
            team("east", "sales", "zhou"),
            team("east_sh", "east", ""),
            team("east_sh_pd", "east_sh", ""),
            team("west", "sales", "wu"),
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
                teams: vec!["east".into(), "east_sh".into(), "east_sh_pd".into()]
            }
        );
        assert!(zhou.can_see("li", "east_sh_pd"));
        assert!(!zhou.can_see("li", "west"));
        let boss = Viewer::of("boss", Some(&rep("boss", "", "manager")), true, &teams);
        assert!(boss.can_see("li", "west") && boss.can_see("li", "east_sh"));
        let wang = Viewer::of("wang", Some(&rep("wang", "east", "rep")), true, &teams);
        assert!(wang.can_see("wang", "east"));
        assert!(!wang.can_see("li", "east"));
        let admin = Viewer::of("root", Some(&rep("root", "", "admin")), true, &teams);
        assert!(admin.can_see("anyone", "") && admin.sees_all());
    }

    #[test]
    fn unknown_users_see_nothing_once_the_tenant_has_an_admin() {
        let teams = org();
        assert_eq!(Viewer::of("x", None, false, &teams), Viewer::Unrestricted);
        assert_eq!(Viewer::of("x", None, true, &teams), Viewer::Nobody);
        // Known reps are scoped even before an admin exists.
        let wang = Viewer::of("wang", Some(&rep("wang", "east", "rep")), false, &teams);
        assert!(!wang.can_see("li", "east"));
        let mut gone = rep("li", "east", "rep");
        gone.status = "departed".into();
        assert_eq!(Viewer::of("li", Some(&gone), true, &teams), Viewer::Nobody);
        assert_eq!(
            Viewer::of("li", Some(&rep("li", "east", "")), true, &teams),
            Viewer::Nobody
        );
    }

    #[test]
    fn a_cycle_in_the_tree_ends() {
        let teams = vec![team("a", "b", "m"), team("b", "a", "")];
        assert_eq!(managed_subtree("m", "", &teams), ["a", "b"]);
    }
}
