//! The DynamoDB adapters' error mapping (and the SQS deferrer's), on canned answers: no
//! LocalStack, so they run with the unit tests. What LocalStack may never produce on its own (a refusal without the
//! item it met, a corrupt item) is fed here byte for byte as DynamoDB documents it.
//!
//! The answers come from a small `HttpClient` of our own rather than the SDK's
//! `StaticReplayClient`: that one needs `aws-smithy-http-client/test-util`, and the changed
//! features made cargo build `aws-smithy-runtime` and every SDK crate a second time for the
//! tests (measured: 42 s on this machine), for what twenty lines do.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::{Response, StatusCode};
use aws_smithy_types::body::SdkBody;
use orders_aws::{NotificationsTable, OrdersTable};
use orders_domain::ports::{
    ClaimOutcome, InsertOutcome, NotificationRecord, NotificationStore, OrderStore, StoreError,
    TransitionOutcome, TransitionWrite,
};
use orders_domain::{CustomerId, EventId, HistoryEntry, Order, OrderId, OrderStatus, Trigger};

/// A DynamoDB answer: status and JSON body, as the JSON 1.0 protocol sends it.
#[derive(Debug, Clone)]
struct Answer(u16, String);

/// Answers requests with the canned answers in order, and counts the requests.
#[derive(Debug, Clone, Default)]
struct Canned {
    answers: Arc<Mutex<VecDeque<Answer>>>,
    requests: Arc<Mutex<usize>>,
}

impl Canned {
    fn requests(&self) -> usize {
        *self.requests.lock().unwrap()
    }
}

impl HttpConnector for Canned {
    fn call(&self, _request: HttpRequest) -> HttpConnectorFuture {
        *self.requests.lock().unwrap() += 1;
        let Answer(status, body) = self
            .answers
            .lock()
            .unwrap()
            .pop_front()
            .expect("a request beyond the canned answers");
        let mut response =
            Response::new(StatusCode::try_from(status).unwrap(), SdkBody::from(body));
        response
            .headers_mut()
            .insert("content-type", "application/x-amz-json-1.0");
        HttpConnectorFuture::ready(Ok(response))
    }
}

impl HttpClient for Canned {
    fn http_connector(
        &self,
        _: &HttpConnectorSettings,
        _: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(self.clone())
    }
}

fn answer(status: u16, body: &str) -> Answer {
    Answer(status, body.to_string())
}

fn error(kind: &str, extra: &str) -> Answer {
    answer(
        400,
        &format!(r#"{{"__type":"com.amazonaws.dynamodb.v20120810#{kind}","message":"m"{extra}}}"#),
    )
}

fn client(answers: Vec<Answer>) -> (aws_sdk_dynamodb::Client, Canned) {
    let http = Canned {
        answers: Arc::new(Mutex::new(answers.into())),
        ..Canned::default()
    };
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("a", "b", None, None, "replay"))
        .http_client(SharedHttpClient::new(http.clone()))
        .build();
    (aws_sdk_dynamodb::Client::from_conf(config), http)
}

fn record(seq: u32) -> NotificationRecord {
    let order_id = OrderId::random();
    NotificationRecord {
        event_id: EventId::for_order_event(&order_id, "OrderStatusChanged/X"),
        order_id,
        seq,
        customer_id: CustomerId::parse("c").unwrap(),
        kind: "order_placed".into(),
        subject: "s".into(),
        message: "m".into(),
    }
}

/// A refused claim, with the item it met (`ReturnValuesOnConditionCheckFailure: ALL_OLD`).
fn refused(item: &str) -> Answer {
    error(
        "ConditionalCheckFailedException",
        &format!(r#","Item":{item}"#),
    )
}

#[tokio::test]
async fn a_refused_claim_is_decided_from_the_item_it_met_without_a_read() {
    let newer = r#"{"order_id":{"S":"o"},"hwm":{"N":"3"},"busy":{"S":"e3"}}"#;
    let same = r#"{"order_id":{"S":"o"},"hwm":{"N":"1"},"busy":{"S":"e1"}}"#;
    let sent = r#"{"order_id":{"S":"o"},"hwm":{"N":"2"},"m2":{"M":{"state":{"S":"SENT"}}}}"#;
    let (ddb, http) = client(vec![refused(newer), refused(same), refused(sent)]);
    let t = NotificationsTable::new(ddb, "n");
    assert_eq!(
        t.claim(&record(1), 10, 0).await.unwrap(),
        ClaimOutcome::Superseded
    );
    // Not newer: another message of the order is in flight, so this one waits.
    assert_eq!(
        t.claim(&record(1), 10, 0).await.unwrap(),
        ClaimOutcome::InProgress
    );
    // Sent is final, even where the mark has not moved past it.
    assert_eq!(
        t.claim(&record(2), 10, 0).await.unwrap(),
        ClaimOutcome::AlreadySent
    );
    assert_eq!(http.requests(), 3, "one write each, no read");
}

#[tokio::test]
async fn a_refusal_without_the_item_is_undecided_and_other_errors_are_errors() {
    let (ddb, _) = client(vec![
        error("ConditionalCheckFailedException", ""),
        error("ResourceNotFoundException", ""),
    ]);
    let t = NotificationsTable::new(ddb, "n");
    let err = t.claim(&record(1), 10, 0).await.unwrap_err();
    assert!(matches!(err, StoreError::Retry(_)), "{err:?}");
    let err = t.claim(&record(1), 10, 0).await.unwrap_err();
    assert!(matches!(err, StoreError::Refused(_)), "{err:?}");
}

#[tokio::test]
async fn a_claim_taken_over_is_still_marked_sent_and_not_freed() {
    let (ddb, http) = client(vec![
        error("ConditionalCheckFailedException", ""),
        answer(200, "{}"),
    ]);
    let t = NotificationsTable::new(ddb, "n");
    t.mark_sent(&record(1), 10, (chrono::Utc::now(), chrono::Utc::now()))
        .await
        .unwrap();
    assert_eq!(
        http.requests(),
        2,
        "mark-and-free refused, then the mark alone"
    );
}

fn pending_order() -> Order {
    Order::new_pending(
        OrderId::random(),
        CustomerId::parse("c").unwrap(),
        vec![],
        "h".into(),
        chrono::Utc::now(),
    )
}

#[tokio::test]
async fn a_failed_insert_condition_is_an_existing_order_and_a_missing_table_is_refused() {
    let (ddb, _) = client(vec![
        error("ConditionalCheckFailedException", ""),
        error("ResourceNotFoundException", ""),
    ]);
    let t = OrdersTable::new(ddb, "o");
    let o = pending_order();
    assert_eq!(
        t.insert_new(&o).await.unwrap(),
        InsertOutcome::AlreadyExists
    );
    let err = t.insert_new(&o).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::Refused(m) if m.contains("ResourceNotFound")),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_failed_transition_condition_is_not_applied() {
    let (ddb, _) = client(vec![error("ConditionalCheckFailedException", "")]);
    let t = OrdersTable::new(ddb, "o");
    let o = pending_order();
    let write = TransitionWrite {
        order_id: &o.order_id,
        trigger: Trigger::Cancel,
        entry: HistoryEntry {
            status: OrderStatus::Cancelled,
            at: o.created_at,
            reason: None,
            event_id: None,
        },
        applied_event: None,
        outbox: None,
        at: o.created_at,
    };
    assert_eq!(
        t.transition(write).await.unwrap(),
        TransitionOutcome::NotApplied
    );
}

#[tokio::test]
async fn a_corrupt_item_is_reported_as_corrupt_not_as_missing() {
    let item = r#"{"Item":{"order_id":{"S":"0b6f6b3e-8a4c-4f57-9a57-3c1d2e9f0a11"},"status":{"S":"SHIPPED"}}}"#;
    let (ddb, _) = client(vec![answer(200, item)]);
    let t = OrdersTable::new(ddb, "o");
    let id = OrderId::parse("0b6f6b3e-8a4c-4f57-9a57-3c1d2e9f0a11").unwrap();
    let err = t.get(&id).await.unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
}

/// An SQS client answering `answers` (SQS's JSON protocol).
fn sqs_client(answers: Vec<Answer>) -> aws_sdk_sqs::Client {
    let http = Canned {
        answers: Arc::new(Mutex::new(answers.into())),
        ..Canned::default()
    };
    let config = aws_sdk_sqs::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("a", "b", None, None, "replay"))
        .http_client(SharedHttpClient::new(http))
        .build();
    aws_sdk_sqs::Client::from_conf(config)
}

fn deferral(id: &str) -> orders_aws::defer::Deferral {
    orders_aws::defer::Deferral {
        message_id: id.into(),
        body: "{}".into(),
        attributes: Default::default(),
        deferrals: 1,
        tries: 1,
        delay: std::time::Duration::from_secs(1),
    }
}

#[tokio::test]
async fn the_deferrals_sqs_did_not_take_are_named_by_their_message_ids() {
    use orders_aws::defer::{Deferrer, SqsDeferrer};
    let until = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    // Entries are sent with their position as id: SQS refused the second one.
    let sqs = sqs_client(vec![answer(
        200,
        r#"{"Successful":[{"Id":"0","MessageId":"x","MD5OfMessageBody":"99914b932bd37a50b983c5e7c90ae93b"}],
            "Failed":[{"Id":"1","SenderFault":false,"Code":"InternalError","Message":"m"}]}"#,
    )]);
    let deferrer = SqsDeferrer::new(sqs, "https://sqs.us-east-1.amazonaws.com/1/q");
    let unsent = deferrer
        .defer(vec![deferral("m-a"), deferral("m-b")], until)
        .await;
    assert_eq!(unsent, ["m-b"]);
    // A refused request: none of them went.
    let sqs = sqs_client(vec![answer(
        400,
        r#"{"__type":"com.amazonaws.sqs#InvalidAddress","message":"m"}"#,
    )]);
    let deferrer = SqsDeferrer::new(sqs, "https://sqs.us-east-1.amazonaws.com/1/q");
    let mut unsent = deferrer
        .defer(vec![deferral("m-a"), deferral("m-b")], until)
        .await;
    unsent.sort();
    assert_eq!(unsent, ["m-a", "m-b"]);
}
