//! Write statements sent together, on SQLite and PostgreSQL: each runs with its own
//! values (numbered parameters used twice or out of order, anonymous ones as `Params`
//! makes them, a JSON path that looks like a parameter), in order, inside the caller's
//! transaction; an error stops them and fails the transaction.

use shangji_platform::Db;
use shangji_platform::db::{Migration, Migrations, Params, Together};
use shangji_testkit::Postgres;

static TABLES: Migrations = Migrations {
    component: "together_test",
    list: &[Migration {
        version: 1,
        name: "two tables",
        sqlite:
            "CREATE TABLE people (id TEXT PRIMARY KEY, name TEXT NOT NULL, seen BIGINT NOT NULL);
                 CREATE TABLE tags (id TEXT NOT NULL, tag TEXT NOT NULL, PRIMARY KEY (id, tag))",
        postgres:
            "CREATE TABLE people (id TEXT PRIMARY KEY, name TEXT NOT NULL, seen BIGINT NOT NULL);
                   CREATE TABLE tags (id TEXT NOT NULL, tag TEXT NOT NULL, PRIMARY KEY (id, tag))",
    }],
};

async fn contract(db: &Db) {
    db.migrate(&TABLES).await.unwrap();

    let mut tx = db.begin().await.unwrap();
    let mut together = Together::new(&tx);
    assert!(together.is_empty());
    together
        .push(
            sqlx::query("INSERT INTO people (id, name, seen) VALUES ($2, $1, $3)")
                .bind("Wang Fang")
                .bind("p1")
                .bind(1_i64),
        )
        .unwrap();
    // The second statement's $1 is its own first value, not the first statement's.
    together
        .push(
            sqlx::query("INSERT INTO people (id, name, seen) VALUES ($1, $2 || '/' || $2, $3)")
                .bind("p2")
                .bind("Li")
                .bind(2_i64),
        )
        .unwrap();
    let mut p = Params::new(&tx);
    let sql = format!("INSERT INTO tags (id, tag) VALUES {}", p.rows(2, 2));
    together
        .push(
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind("p1")
                .bind("vip")
                .bind("p2")
                .bind("$.not_a_parameter"),
        )
        .unwrap();
    together
        .push(
            sqlx::query("UPDATE people SET seen = seen + $2 WHERE id = $1 AND name <> '$1?'")
                .bind("p1")
                .bind(10_i64),
        )
        .unwrap();
    assert_eq!(together.len(), 4);
    together.execute(&mut tx).await.unwrap();
    // Visible to the transaction at once.
    let seen: i64 = sqlx::query_scalar("SELECT seen FROM people WHERE id = 'p1'")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(seen, 11);
    tx.commit().await.unwrap();

    let people: Vec<(String, String, i64)> =
        sqlx::query_as("SELECT id, name, seen FROM people ORDER BY id")
            .fetch_all(db.reader())
            .await
            .unwrap();
    assert_eq!(
        people,
        vec![
            ("p1".to_owned(), "Wang Fang".to_owned(), 11),
            ("p2".to_owned(), "Li/Li".to_owned(), 2),
        ]
    );
    let tags: Vec<String> = sqlx::query_scalar("SELECT tag FROM tags ORDER BY id")
        .fetch_all(db.reader())
        .await
        .unwrap();
    assert_eq!(tags, vec!["vip", "$.not_a_parameter"]);

    // A statement the database refuses fails the whole transaction; the statements
    // after it never ran.
    let mut tx = db.begin().await.unwrap();
    let mut together = Together::new(&tx);
    for (id, tag) in [("p3", "new"), ("p1", "vip"), ("p4", "after")] {
        together
            .push(
                sqlx::query("INSERT INTO tags (id, tag) VALUES ($1, $2)")
                    .bind(id)
                    .bind(tag),
            )
            .unwrap();
    }
    let err = together
        .execute(&mut tx)
        .await
        .expect_err("a taken key fails");
    assert!(shangji_platform::db::is_unique_violation(&err), "{err}");
    drop(tx);
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM tags")
        .fetch_one(db.reader())
        .await
        .unwrap();
    assert_eq!(n, 2);

    // A statement using a value it does not bind is refused before anything runs.
    let tx = db.begin().await.unwrap();
    let mut together = Together::new(&tx);
    let refused =
        together.push(sqlx::query("UPDATE people SET seen = $2 WHERE id = $1").bind("p1"));
    if db.backend() == shangji_platform::Backend::Sqlite {
        assert!(refused.is_err());
    }
}

#[tokio::test]
async fn statements_together_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/together.db?mode=rwc", dir.path().display());
    let db = Db::connect(&url, "together").await.unwrap();
    contract(&db).await;
}

#[tokio::test]
async fn statements_together_on_postgres() {
    let pg = Postgres::start().await.expect("PostgreSQL starts");
    let url = pg.create_database("together").await.unwrap();
    let db = Db::connect(&url, "together").await.unwrap();
    contract(&db).await;
}
