//! The testkit's nats-server really runs JetStream, and a restart keeps its store.

use std::time::Duration;

use futures::StreamExt;
use shangji_testkit::NatsServer;

#[tokio::test]
async fn a_published_message_reaches_a_subscriber() {
    let server = NatsServer::start().await.unwrap();
    assert!(server.url().starts_with("nats://127.0.0.1:"));

    let client = async_nats::connect(server.url()).await.unwrap();
    let mut subscriber = client.subscribe("testkit.probe").await.unwrap();
    client
        .publish("testkit.probe", "hello".into())
        .await
        .unwrap();
    client.flush().await.unwrap();

    let message = tokio::time::timeout(Duration::from_secs(5), subscriber.next())
        .await
        .expect("message within 5 s")
        .expect("subscription open");
    assert_eq!(&message.payload[..], b"hello");
}

#[tokio::test]
async fn jetstream_messages_survive_a_crash_and_restart() {
    let mut server = NatsServer::start().await.unwrap();
    let url = server.url();
    {
        let jetstream = async_nats::jetstream::new(async_nats::connect(&url).await.unwrap());
        jetstream
            .create_stream(async_nats::jetstream::stream::Config {
                name: "PROBE".into(),
                subjects: vec!["probe.>".into()],
                ..Default::default()
            })
            .await
            .unwrap();
        jetstream
            .publish("probe.one", "kept".into())
            .await
            .unwrap()
            .await
            .expect("ack from JetStream");
    }

    server.restart().await.unwrap();
    assert_eq!(server.url(), url, "restart keeps the port");

    let jetstream = async_nats::jetstream::new(async_nats::connect(&url).await.unwrap());
    let mut stream = jetstream.get_stream("PROBE").await.unwrap();
    assert_eq!(stream.info().await.unwrap().state.messages, 1);
    let message = stream
        .get_last_raw_message_by_subject("probe.one")
        .await
        .unwrap();
    assert_eq!(&message.payload[..], b"kept");
}

#[tokio::test]
async fn dropping_the_server_stops_it() {
    let server = NatsServer::start().await.unwrap();
    let port = server.port();
    drop(server);
    assert!(
        tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err(),
        "nothing listens on {port} after drop"
    );
}
