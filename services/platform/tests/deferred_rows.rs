//! Rows deferred to the commit, on SQLite and PostgreSQL: written when the transaction
//! commits (each table's in order, past one statement's worth of rows), never when it
//! rolls back, an error while writing them fails the commit, and a conflict clause
//! applies to its own rows.

use shangji_platform::Db;
use shangji_platform::db::{BoundQuery, DeferredRow, Migration, Migrations};
use shangji_testkit::Postgres;

static TABLES: Migrations = Migrations {
    component: "deferred_test",
    list: &[Migration {
        version: 1,
        name: "two append-only tables",
        sqlite: "CREATE TABLE notes (n BIGINT NOT NULL, text TEXT NOT NULL);
                 CREATE TABLE marks (n BIGINT PRIMARY KEY)",
        postgres: "CREATE TABLE notes (n BIGINT NOT NULL, text TEXT NOT NULL);
                   CREATE TABLE marks (n BIGINT PRIMARY KEY)",
    }],
};

struct Note(i64);

impl DeferredRow for Note {
    fn insert(&self) -> &'static str {
        "INSERT INTO notes (n, text)"
    }
    fn width(&self) -> usize {
        2
    }
    fn bind<'q>(&'q self, query: BoundQuery<'q>) -> BoundQuery<'q> {
        query.bind(self.0).bind(format!("note {}", self.0))
    }
}

struct Mark(i64);

impl DeferredRow for Mark {
    fn insert(&self) -> &'static str {
        "INSERT INTO marks (n)"
    }
    fn width(&self) -> usize {
        1
    }
    fn bind<'q>(&'q self, query: BoundQuery<'q>) -> BoundQuery<'q> {
        query.bind(self.0)
    }
}

/// A mark that leaves a taken number alone.
struct QuietMark(i64);

impl DeferredRow for QuietMark {
    fn insert(&self) -> &'static str {
        "INSERT INTO marks (n)"
    }
    fn on_conflict(&self) -> &'static str {
        "ON CONFLICT (n) DO NOTHING"
    }
    fn width(&self) -> usize {
        1
    }
    fn bind<'q>(&'q self, query: BoundQuery<'q>) -> BoundQuery<'q> {
        query.bind(self.0)
    }
}

async fn count(db: &Db, table: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
        .fetch_one(db.reader())
        .await
        .unwrap()
}

async fn contract(db: &Db) {
    db.migrate(&TABLES).await.unwrap();

    // Interleaved, and more rows than one statement takes.
    let mut tx = db.begin().await.unwrap();
    for n in 0..1_200 {
        tx.defer(Note(n));
        if n % 100 == 0 {
            tx.defer(Mark(n));
        }
    }
    // Not written yet: nothing in the transaction can read them back.
    let before: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM notes")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(before, 0);
    tx.commit().await.unwrap();
    assert_eq!(count(db, "notes").await, 1_200);
    assert_eq!(count(db, "marks").await, 12);
    let texts: Vec<String> = sqlx::query_scalar("SELECT text FROM notes WHERE n IN (0, 1199)")
        .fetch_all(db.reader())
        .await
        .unwrap();
    assert_eq!(texts.len(), 2);
    assert!(texts.contains(&"note 1199".to_owned()));

    // Rolled back: nothing written.
    let mut tx = db.begin().await.unwrap();
    tx.defer(Note(5_000));
    tx.rollback().await.unwrap();
    let mut tx = db.begin().await.unwrap();
    tx.defer(Note(5_001));
    drop(tx);
    assert_eq!(count(db, "notes").await, 1_200);

    // A row the database refuses fails the commit, and the transaction's other rows
    // and writes with it.
    let mut tx = db.begin().await.unwrap();
    sqlx::query("INSERT INTO notes (n, text) VALUES (9000, 'direct')")
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.defer(Note(9_001));
    tx.defer(Mark(0));
    let err = tx.commit().await.expect_err("a taken key fails the commit");
    assert!(shangji_platform::db::is_unique_violation(&err), "{err}");
    assert_eq!(count(db, "notes").await, 1_200);
    assert_eq!(count(db, "marks").await, 12);

    // A conflict clause goes with its rows (and apart from rows without one).
    let mut tx = db.begin().await.unwrap();
    tx.defer(QuietMark(0));
    tx.defer(QuietMark(7));
    tx.defer(Mark(8));
    tx.commit().await.unwrap();
    assert_eq!(count(db, "marks").await, 14);
}

#[tokio::test]
async fn deferred_rows_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/deferred.db?mode=rwc", dir.path().display());
    let db = Db::connect(&url, "deferred").await.unwrap();
    contract(&db).await;
}

#[tokio::test]
async fn deferred_rows_on_postgres() {
    let pg = Postgres::start().await.expect("PostgreSQL starts");
    let url = pg.create_database("deferred").await.unwrap();
    let db = Db::connect(&url, "deferred").await.unwrap();
    contract(&db).await;
}
