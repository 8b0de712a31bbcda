//! The pipeline's SQL: one function per query, tenant in every `WHERE`, the same
//! statements on SQLite and PostgreSQL. Functions take a connection, so reads run on
//! the reader pool or inside a write transaction (a handler must read its own writes).

pub mod activities;
pub mod approvals;
pub mod collaborators;
pub mod comments;
pub mod history;
pub mod lead_links;
pub mod listing;
pub mod loss_reasons;
pub mod merges;
pub mod opportunities;
pub mod org;
pub mod pipelines;
pub mod placements;

use shangji_platform::db::{Migration, Migrations};

/// The pipeline's schema, per backend.
pub const MIGRATIONS: Migrations = Migrations {
    component: "pipeline",
    list: &[
        Migration {
            version: 1,
            name: "pipelines, stages, opportunities, activities, history, lead links",
            sqlite: include_str!("../../migrations/sqlite/0001_pipeline.sql"),
            postgres: include_str!("../../migrations/postgres/0001_pipeline.sql"),
        },
        Migration {
            version: 2,
            name: "pipeline versions and teams, opportunity close date and custom fields",
            sqlite: include_str!("../../migrations/sqlite/0002_pipeline_versions.sql"),
            postgres: include_str!("../../migrations/postgres/0002_pipeline_versions.sql"),
        },
        Migration {
            version: 3,
            name: "organisation replica, collaborators, approval rules and approvals",
            sqlite: include_str!("../../migrations/sqlite/0003_org_approvals_team.sql"),
            postgres: include_str!("../../migrations/postgres/0003_org_approvals_team.sql"),
        },
        Migration {
            version: 4,
            name: "loss reasons",
            sqlite: include_str!("../../migrations/sqlite/0004_loss_reasons.sql"),
            postgres: include_str!("../../migrations/postgres/0004_loss_reasons.sql"),
        },
        Migration {
            version: 5,
            name: "last activity per opportunity, indexes for the kanban sorts",
            sqlite: include_str!("../../migrations/sqlite/0005_kanban_listing.sql"),
            postgres: include_str!("../../migrations/postgres/0005_kanban_listing.sql"),
        },
        Migration {
            version: 6,
            name: "follow-up template and attachments on activities, comments",
            sqlite: include_str!("../../migrations/sqlite/0006_follow_ups_comments.sql"),
            postgres: include_str!("../../migrations/postgres/0006_follow_ups_comments.sql"),
        },
        Migration {
            version: 7,
            name: "customer merges: parallel deals, merged customers, merge moves",
            sqlite: include_str!("../../migrations/sqlite/0007_customer_merges.sql"),
            postgres: include_str!("../../migrations/postgres/0007_customer_merges.sql"),
        },
    ],
};

/// A stored value the code never writes (a corrupted or hand-edited row).
fn corrupt(column: &str, value: &str) -> sqlx::Error {
    sqlx::Error::ColumnDecode {
        index: column.to_owned(),
        source: format!("unexpected value `{value}`").into(),
    }
}
