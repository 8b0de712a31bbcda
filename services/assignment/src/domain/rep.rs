//! Reps: their profile as the organisation describes it, and the load assignment
//! balances on.

/// rep, manager or admin: what the user may see in the services that enforce data
/// permissions (own work, the team's subtree, the whole tenant).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Role {
    #[default]
    Rep,
    Manager,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Rep => "rep",
            Role::Manager => "manager",
            Role::Admin => "admin",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        [Role::Rep, Role::Manager, Role::Admin]
            .into_iter()
            .find(|r| r.as_str() == text)
    }
}

/// Whether a rep takes new leads.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum WorkingStatus {
    #[default]
    Active,
    /// Takes no new leads but keeps their customers.
    OnLeave,
    /// Gone; their work is handed over.
    Departed,
}

impl WorkingStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            WorkingStatus::Active => "active",
            WorkingStatus::OnLeave => "on_leave",
            WorkingStatus::Departed => "departed",
        }
    }

    pub fn parse(text: &str) -> Option<WorkingStatus> {
        [
            WorkingStatus::Active,
            WorkingStatus::OnLeave,
            WorkingStatus::Departed,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }
}

/// A rep profile exactly as a caller sent it, before validation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RepDraft {
    pub rep_id: String,
    pub name: String,
    pub team: String,
    pub regions: Vec<String>,
    pub industries: Vec<String>,
    pub product_lines: Vec<String>,
    pub skill_tier: String,
    pub role: Role,
    pub status: WorkingStatus,
    pub capacity: u32,
    pub max_daily_leads: u32,
    pub daily_claim_limit: u32,
    pub email: String,
}

/// A validated rep profile: ids are well-formed, labels trimmed, non-empty and unique.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RepProfile {
    pub rep_id: String,
    pub name: String,
    /// The team id; may be empty for a rep outside any team.
    pub team: String,
    /// Regions covered; empty covers every region.
    pub regions: Vec<String>,
    /// Industries covered; empty covers every industry.
    pub industries: Vec<String>,
    /// Product lines covered; empty covers every product line.
    pub product_lines: Vec<String>,
    /// A label rules may target ("senior"); empty: none.
    pub skill_tier: String,
    pub role: Role,
    pub status: WorkingStatus,
    /// Open opportunities at most; 0 means no limit.
    pub capacity: u32,
    /// New leads per UTC day at most; 0 means no limit.
    pub max_daily_leads: u32,
    /// Pool claims per UTC day at most; 0 means no limit.
    pub daily_claim_limit: u32,
    pub email: String,
}

/// What assignment counts per rep.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RepLoad {
    /// The tenant's round-robin turn on which the rep last got a lead; 0 = never.
    pub last_assigned_seq: i64,
    pub assigned_total: i64,
    /// Open opportunities the rep owns.
    pub open_count: i64,
    /// New leads assigned today (UTC).
    pub leads_today: i64,
    /// Pool claims today (UTC).
    pub claims_today: i64,
}

/// A rep with their load.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rep {
    pub profile: RepProfile,
    pub load: RepLoad,
    /// Increases with every change of the profile (carried by `rep_upserted`).
    pub version: i64,
}

/// One thing wrong with a draft: the field (relative to the rep) and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invalid {
    pub field: String,
    pub reason: String,
}

impl Invalid {
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Invalid {
        Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

const MAX_ID_CHARS: usize = 64;
const MAX_NAME_CHARS: usize = 128;
const MAX_LABEL_CHARS: usize = 64;
const MAX_LABELS: usize = 200;

impl RepProfile {
    /// Validates and normalises a draft, reporting every problem at once.
    pub fn parse(draft: RepDraft) -> Result<RepProfile, Vec<Invalid>> {
        let mut problems = Vec::new();
        if let Err(reason) = check_rep_id(&draft.rep_id) {
            problems.push(Invalid::new("rep_id", reason));
        }
        let name = draft.name.trim().to_owned();
        if name.is_empty() {
            problems.push(Invalid::new(
                "name",
                "must not be empty: give the rep's name",
            ));
        } else if name.chars().count() > MAX_NAME_CHARS {
            problems.push(Invalid::new(
                "name",
                format!("must be at most {MAX_NAME_CHARS} characters"),
            ));
        }
        let team = draft.team.trim().to_owned();
        if team.chars().count() > MAX_LABEL_CHARS {
            problems.push(Invalid::new(
                "team",
                format!("must be at most {MAX_LABEL_CHARS} characters"),
            ));
        }
        if team.chars().any(char::is_control) {
            problems.push(Invalid::new("team", "must not contain control characters"));
        }
        let regions = labels("regions", &draft.regions, &mut problems);
        let industries = labels("industries", &draft.industries, &mut problems);
        let product_lines = labels("product_lines", &draft.product_lines, &mut problems);
        let skill_tier = draft.skill_tier.trim().to_owned();
        if skill_tier.chars().count() > MAX_LABEL_CHARS {
            problems.push(Invalid::new(
                "skill_tier",
                format!("must be at most {MAX_LABEL_CHARS} characters"),
            ));
        }
        let email = draft.email.trim().to_owned();
        if !email.is_empty() && (!email.contains('@') || email.chars().count() > MAX_NAME_CHARS) {
            problems.push(Invalid::new(
                "email",
                "must be an e-mail address such as wang.lei@example.com, or empty",
            ));
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(RepProfile {
            rep_id: draft.rep_id,
            name,
            team,
            regions,
            industries,
            product_lines,
            skill_tier,
            role: draft.role,
            status: draft.status,
            capacity: draft.capacity,
            max_daily_leads: draft.max_daily_leads,
            daily_claim_limit: draft.daily_claim_limit,
            email,
        })
    }

    /// True when the rep covers the lead's region and industry (an empty list covers all).
    pub fn covers(&self, region: &str, industry: &str) -> bool {
        covers(&self.regions, region) && covers(&self.industries, industry)
    }

    /// True when the rep covers the lead's product line. Few leads name one, so a lead
    /// without a product line is covered by everyone.
    pub fn covers_product_line(&self, product_line: &str) -> bool {
        product_line.trim().is_empty() || covers(&self.product_lines, product_line)
    }

    pub fn is_active(&self) -> bool {
        self.status == WorkingStatus::Active
    }
}

impl Rep {
    /// True when the rep may take one more open opportunity: capacity 0 is unlimited.
    pub fn has_free_capacity(&self) -> bool {
        self.profile.capacity == 0 || self.load.open_count < i64::from(self.profile.capacity)
    }

    /// True when the rep may get one more new lead today: 0 is unlimited.
    pub fn has_daily_room(&self) -> bool {
        self.profile.max_daily_leads == 0
            || self.load.leads_today < i64::from(self.profile.max_daily_leads)
    }

    /// True when the rep may claim one more pool entry today: 0 is unlimited.
    pub fn may_claim_today(&self) -> bool {
        self.profile.daily_claim_limit == 0
            || self.load.claims_today < i64::from(self.profile.daily_claim_limit)
    }
}

/// Rep ids are used in URLs, logs and other services' rows: keep them plain.
pub fn check_rep_id(id: &str) -> Result<(), String> {
    if id.is_empty() {
        return Err("must not be empty: give the rep a stable id such as `wang.lei`".into());
    }
    check_id(id)
}

/// Ids of reps, teams and rules: 1-64 plain characters.
pub fn check_id(id: &str) -> Result<(), String> {
    if id.is_empty() {
        return Err("must not be empty: give a stable id such as `east-1`".into());
    }
    if id.chars().count() > MAX_ID_CHARS {
        return Err(format!("must be at most {MAX_ID_CHARS} characters"));
    }
    if let Some(bad) = id
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        return Err(format!(
            "may contain only letters, digits, '-', '_' and '.', found {bad:?}"
        ));
    }
    Ok(())
}

/// Trims labels, rejects empty or overlong ones, and drops repeats (compared the way
/// matching compares them), keeping the first spelling.
pub fn labels(field: &str, raw: &[String], problems: &mut Vec<Invalid>) -> Vec<String> {
    if raw.len() > MAX_LABELS {
        problems.push(Invalid::new(
            field,
            format!("must list at most {MAX_LABELS} entries"),
        ));
        return Vec::new();
    }
    let mut kept: Vec<String> = Vec::with_capacity(raw.len());
    for (i, label) in raw.iter().enumerate() {
        let label = label.trim();
        if label.is_empty() {
            problems.push(Invalid::new(
                format!("{field}[{i}]"),
                "must not be empty: leave the list empty to cover everything",
            ));
        } else if label.chars().count() > MAX_LABEL_CHARS {
            problems.push(Invalid::new(
                format!("{field}[{i}]"),
                format!("must be at most {MAX_LABEL_CHARS} characters"),
            ));
        } else if !kept.iter().any(|k| same_label(k, label)) {
            kept.push(label.to_owned());
        }
    }
    kept
}

/// Labels are typed by people in many places: compare trimmed and case-insensitively.
pub fn same_label(a: &str, b: &str) -> bool {
    let (a, b) = (a.trim(), b.trim());
    a == b || a.to_lowercase() == b.to_lowercase()
}

fn covers(list: &[String], value: &str) -> bool {
    list.is_empty() || list.iter().any(|item| same_label(item, value))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft() -> RepDraft {
        RepDraft {
            rep_id: "wang.lei-01".into(),
            name: " 王磊 ".into(),
            team: " east ".into(),
            regions: vec![" 华东 ".into(), "华东".into(), "Shanghai".into()],
            industries: vec![],
            capacity: 3,
            ..RepDraft::default()
        }
    }

    #[test]
    fn a_good_draft_is_trimmed_and_deduplicated() {
        let rep = RepProfile::parse(draft()).unwrap();
        assert_eq!(rep.name, "王磊");
        assert_eq!(rep.team, "east");
        assert_eq!(rep.regions, vec!["华东", "Shanghai"]);
        assert!(rep.industries.is_empty());
    }

    #[test]
    fn every_problem_is_reported_with_its_field() {
        let bad = RepDraft {
            rep_id: "wang lei".into(),
            name: "  ".into(),
            regions: vec!["华东".into(), " ".into()],
            industries: vec!["x".repeat(65)],
            ..draft()
        };
        let problems = RepProfile::parse(bad).unwrap_err();
        let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(
            fields,
            vec!["rep_id", "name", "regions[1]", "industries[0]"]
        );
        assert!(problems[0].reason.contains("' '"), "{}", problems[0].reason);
    }

    #[test]
    fn rep_ids_are_1_to_64_plain_characters() {
        for ok in ["r1", "a.b-c_d", &"x".repeat(64)] {
            assert!(check_rep_id(ok).is_ok(), "{ok}");
        }
        for bad in ["", "王磊", "a/b", &"x".repeat(65)] {
            assert!(check_rep_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn coverage_is_trimmed_case_insensitive_and_empty_covers_all() {
        let rep = RepProfile {
            regions: vec!["Shanghai".into()],
            industries: vec![],
            ..RepProfile::parse(draft()).unwrap()
        };
        assert!(rep.covers(" shanghai ", "制造"));
        assert!(rep.covers("SHANGHAI", ""));
        assert!(!rep.covers("Beijing", "制造"));
        assert!(
            !rep.covers("", "制造"),
            "a lead without region goes to catch-all reps only"
        );
    }

    #[test]
    fn capacity_zero_is_unlimited() {
        let mut rep = Rep {
            profile: RepProfile {
                capacity: 0,
                ..RepProfile::parse(draft()).unwrap()
            },
            load: RepLoad {
                open_count: 1_000,
                ..RepLoad::default()
            },
            version: 1,
        };
        assert!(rep.has_free_capacity());
        rep.profile.capacity = 1_000;
        assert!(!rep.has_free_capacity());
        rep.profile.capacity = 1_001;
        assert!(rep.has_free_capacity());
    }
}
