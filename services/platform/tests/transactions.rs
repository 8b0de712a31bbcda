//! How a `Tx` ends, on SQLite and PostgreSQL: committed with and without rows deferred
//! to the commit, rolled back, dropped after a write, after a failed statement or
//! untouched, failed at commit, abandoned by a cancelled task. SQLite has one writer
//! connection, so every way out must leave it outside any transaction: each case is
//! followed by a transaction that must work and see only what was committed.

use shangji_platform::Db;
use shangji_platform::db::{BoundQuery, DeferredRow, Migration, Migrations};
use shangji_testkit::Postgres;

static TABLES: Migrations = Migrations {
    component: "tx_test",
    list: &[Migration {
        version: 1,
        name: "one table",
        sqlite: "CREATE TABLE items (n BIGINT PRIMARY KEY)",
        postgres: "CREATE TABLE items (n BIGINT PRIMARY KEY)",
    }],
};

/// A row written at commit; a taken number fails the commit.
struct Item(i64);

impl DeferredRow for Item {
    fn insert(&self) -> &'static str {
        "INSERT INTO items (n)"
    }
    fn width(&self) -> usize {
        1
    }
    fn bind<'q>(&'q self, query: BoundQuery<'q>) -> BoundQuery<'q> {
        query.bind(self.0)
    }
}

async fn insert(tx: &mut shangji_platform::Tx, n: i64) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO items (n) VALUES ($1)")
        .bind(n)
        .execute(&mut **tx)
        .await
        .map(drop)
}

async fn items(db: &Db) -> Vec<i64> {
    sqlx::query_scalar("SELECT n FROM items ORDER BY n")
        .fetch_all(db.reader())
        .await
        .unwrap()
}

/// A transaction that must work after whatever came before (on SQLite a connection
/// left inside a transaction would refuse its `BEGIN`, or carry the old writes along).
async fn then_a_clean_transaction_commits(db: &Db, n: i64) {
    let mut tx = db.begin().await.expect("begin after the previous case");
    insert(&mut tx, n)
        .await
        .expect("insert after the previous case");
    tx.commit().await.expect("commit after the previous case");
}

async fn contract(db: &Db) {
    db.migrate(&TABLES).await.unwrap();

    // Committed with statements only, then with deferred rows (COMMIT rides along).
    let mut tx = db.begin().await.unwrap();
    insert(&mut tx, 1).await.unwrap();
    tx.commit().await.unwrap();
    let mut tx = db.begin().await.unwrap();
    tx.defer(Item(2));
    tx.defer(Item(3));
    tx.commit().await.unwrap();
    assert_eq!(items(db).await, [1, 2, 3]);

    // Rolled back.
    let mut tx = db.begin().await.unwrap();
    insert(&mut tx, 10).await.unwrap();
    tx.rollback().await.unwrap();
    then_a_clean_transaction_commits(db, 4).await;
    assert_eq!(items(db).await, [1, 2, 3, 4]);

    // Dropped after a write, as an error returned with `?` does.
    let mut tx = db.begin().await.unwrap();
    insert(&mut tx, 11).await.unwrap();
    drop(tx);
    then_a_clean_transaction_commits(db, 5).await;

    // Dropped after a failed statement.
    let mut tx = db.begin().await.unwrap();
    insert(&mut tx, 12).await.unwrap();
    assert!(insert(&mut tx, 1).await.is_err(), "1 is taken");
    drop(tx);
    then_a_clean_transaction_commits(db, 6).await;

    // Dropped untouched.
    drop(db.begin().await.unwrap());
    then_a_clean_transaction_commits(db, 7).await;
    assert_eq!(items(db).await, [1, 2, 3, 4, 5, 6, 7]);

    // Failed at commit: a deferred row refused. The statement written before it in the
    // transaction is gone with it, and so is the good deferred row before the bad one.
    let mut tx = db.begin().await.unwrap();
    insert(&mut tx, 13).await.unwrap();
    tx.defer(Item(14));
    tx.defer(Item(2));
    let err = tx.commit().await.expect_err("2 is taken");
    assert!(shangji_platform::db::is_unique_violation(&err), "{err}");
    then_a_clean_transaction_commits(db, 8).await;
    assert_eq!(items(db).await, [1, 2, 3, 4, 5, 6, 7, 8]);

    // Abandoned in a task that is cancelled mid-way.
    let writer = db.clone();
    let (started, wait) = tokio::sync::oneshot::channel();
    let task = tokio::spawn(async move {
        let mut tx = writer.begin().await.unwrap();
        insert(&mut tx, 15).await.unwrap();
        started.send(()).unwrap();
        std::future::pending::<()>().await;
        tx.commit().await.unwrap();
    });
    wait.await.unwrap();
    task.abort();
    let _ = task.await;
    then_a_clean_transaction_commits(db, 9).await;
    assert_eq!(items(db).await, [1, 2, 3, 4, 5, 6, 7, 8, 9]);
}

#[tokio::test]
async fn transactions_end_cleanly_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/tx.db?mode=rwc", dir.path().display());
    let db = Db::connect(&url, "tx").await.unwrap();
    contract(&db).await;
}

#[tokio::test]
async fn transactions_end_cleanly_on_postgres() {
    let pg = Postgres::start().await.expect("PostgreSQL starts");
    let url = pg.create_database("tx").await.unwrap();
    let db = Db::connect(&url, "tx").await.unwrap();
    contract(&db).await;
}
