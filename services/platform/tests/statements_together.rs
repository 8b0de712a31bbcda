//! Write statements sent together, on SQLite and PostgreSQL: each runs with its own
//! values (numbered parameters used twice or out of order, anonymous ones as `Params`
//! makes them, a JSON path that looks like a parameter, comments), in order, inside the
//! caller's transaction; an error stops them and fails the transaction. On SQLite, where
//! the statements are rewritten into one, a statement that could be read wrongly is
//! refused when added.

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

    // Comments hide what looks like a parameter or a quote, and a trailing line comment
    // does not swallow the statement after it.
    let mut tx = db.begin().await.unwrap();
    let mut together = Together::new(&tx);
    together
        .push(
            sqlx::query("/* don't bind $2 here */ INSERT INTO tags (id, tag) VALUES ($1, 'c1')")
                .bind("p5"),
        )
        .unwrap();
    together
        .push(
            sqlx::query("INSERT INTO tags (id, tag) VALUES ($1, $2) -- the last; $3")
                .bind("p5")
                .bind("c2"),
        )
        .unwrap();
    together
        .push(sqlx::query("INSERT INTO tags (id, tag) VALUES ($1, 'c3')").bind("p5"))
        .unwrap();

    if db.backend() == shangji_platform::Backend::Sqlite {
        // Refused before anything runs, leaving the statements added before as they
        // were: a value bound but never used (PostgreSQL refuses that when it runs), one
        // used but not bound, an unclosed comment that would swallow the statements after
        // it, a named parameter. PostgreSQL runs each statement as written, so there they
        // would fail when run instead.
        let unused = together
            .push(
                sqlx::query("UPDATE people SET seen = $1 WHERE id = 'p1'")
                    .bind(99_i64)
                    .bind("p1"),
            )
            .expect_err("an unused value is refused")
            .to_string();
        assert!(unused.contains("never uses value 2"), "{unused}");
        let unbound = together
            .push(sqlx::query("UPDATE people SET seen = $2 WHERE id = $1").bind("p1"))
            .expect_err("a missing value is refused")
            .to_string();
        assert!(
            unbound.contains("uses parameter 2 but binds 1"),
            "{unbound}"
        );
        let unclosed = together
            .push(sqlx::query("UPDATE people SET seen = 0 /* the end"))
            .expect_err("an unclosed comment is refused")
            .to_string();
        assert!(unclosed.contains("unclosed /* comment"), "{unclosed}");
        let named = together
            .push(sqlx::query("UPDATE people SET seen = :seen").bind(1_i64))
            .expect_err("a named parameter is refused")
            .to_string();
        assert!(named.contains("named parameter"), "{named}");
    }
    // SQLite's own numbered parameters (`?2`) are numbered too.
    let numbered = match db.backend() {
        shangji_platform::Backend::Sqlite => "INSERT INTO tags (id, tag) VALUES (?2, ?1)",
        shangji_platform::Backend::Postgres => "INSERT INTO tags (id, tag) VALUES ($2, $1)",
    };
    together
        .push(sqlx::query(numbered).bind("c4").bind("p5"))
        .unwrap();
    assert_eq!(together.len(), 4);
    together.execute(&mut tx).await.unwrap();
    tx.commit().await.unwrap();
    let tags: Vec<String> = sqlx::query_scalar("SELECT tag FROM tags WHERE id = 'p5' ORDER BY tag")
        .fetch_all(db.reader())
        .await
        .unwrap();
    assert_eq!(tags, vec!["c1", "c2", "c3", "c4"]);
    let seen: i64 = sqlx::query_scalar("SELECT seen FROM people WHERE id = 'p1'")
        .fetch_one(db.reader())
        .await
        .unwrap();
    assert_eq!(seen, 11, "no refused statement ran");
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
