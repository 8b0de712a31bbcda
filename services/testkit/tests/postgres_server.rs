//! The testkit's PostgreSQL starts, makes databases, and goes away on drop.

use shangji_testkit::{Postgres, postgres_available};
use sqlx::{Connection, PgConnection, Row};

#[tokio::test]
async fn a_created_database_answers_select_1() {
    if !postgres_available() {
        eprintln!("skipped: no PostgreSQL binaries and no SHANGJI_TEST_POSTGRES_URL");
        return;
    }
    let postgres = Postgres::start().await.unwrap();
    let url = postgres.create_database("testkit_probe").await.unwrap();
    assert!(url.starts_with("postgres://"), "{url}");

    let mut conn = PgConnection::connect(&url).await.unwrap();
    let row = sqlx::query("SELECT 1::int4 AS one, current_database() AS db")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(row.get::<i32, _>("one"), 1);
    assert!(row.get::<String, _>("db").starts_with("testkit_probe"));
    conn.close().await.unwrap();
}

#[tokio::test]
async fn databases_are_separate_and_names_are_checked() {
    if !postgres_available() {
        eprintln!("skipped: no PostgreSQL binaries and no SHANGJI_TEST_POSTGRES_URL");
        return;
    }
    let postgres = Postgres::start().await.unwrap();
    let a = postgres.create_database("testkit_a").await.unwrap();
    let b = postgres.create_database("testkit_b").await.unwrap();
    assert_ne!(a, b);

    let mut conn_a = PgConnection::connect(&a).await.unwrap();
    sqlx::query("CREATE TABLE only_in_a (id int)")
        .execute(&mut conn_a)
        .await
        .unwrap();
    let mut conn_b = PgConnection::connect(&b).await.unwrap();
    let in_b: i64 =
        sqlx::query_scalar("SELECT count(*) FROM pg_tables WHERE tablename = 'only_in_a'")
            .fetch_one(&mut conn_b)
            .await
            .unwrap();
    assert_eq!(in_b, 0);

    assert!(postgres.create_database("Bad-Name").await.is_err());
}

#[tokio::test]
async fn dropping_a_private_server_stops_it() {
    if !postgres_available() || std::env::var_os("SHANGJI_TEST_POSTGRES_URL").is_some() {
        eprintln!("skipped: needs a private PostgreSQL server");
        return;
    }
    let postgres = Postgres::start().await.unwrap();
    let url = postgres.create_database("testkit_gone").await.unwrap();
    drop(postgres);
    assert!(PgConnection::connect(&url).await.is_err());
}
