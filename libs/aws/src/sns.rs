//! SNS publisher: the event JSON as the message body (subscriptions use raw delivery) and
//! its type as the `type` message attribute, which the queues' filter policies match. A
//! customer message also carries its customer as the `customer_id` attribute (a subscriber
//! for one customer filters on it) and its subject as the SNS `Subject` (email subscribers'
//! subject line).

use aws_sdk_sns::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_sns::types::MessageAttributeValue;
use aws_sdk_sns::Client;
use orders_domain::ports::{EventPublisher, PublishError};
use orders_domain::{Event, EventPayload};

/// Publishes to one topic.
#[derive(Debug, Clone)]
pub struct SnsPublisher {
    client: Client,
    topic_arn: String,
}

impl SnsPublisher {
    pub fn new(client: Client, topic_arn: impl Into<String>) -> Self {
        SnsPublisher {
            client,
            topic_arn: topic_arn.into(),
        }
    }
}

/// The `type` attribute of an event.
pub fn type_attribute(event: &Event) -> Result<MessageAttributeValue, PublishError> {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(event.event_type().as_str())
        .build()
        .map_err(|e| PublishError::failed(format!("message attribute: {e}")))
}

/// A string message attribute.
fn string_attribute(value: &str) -> Result<MessageAttributeValue, PublishError> {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()
        .map_err(|e| PublishError::failed(format!("message attribute: {e}")))
}

/// SNS's throttling answers (after the SDK's retries) and a call out of time are load, not a
/// fault: the publish is [`PublishError::busy`].
fn publish_error<E, R>(e: SdkError<E, R>) -> PublishError
where
    SdkError<E, R>: std::error::Error + ProvideErrorMetadata,
{
    let busy = matches!(
        e.code(),
        Some("Throttled" | "Throttling" | "ThrottledException")
    ) || match &e {
        SdkError::TimeoutError(_) => true,
        SdkError::DispatchFailure(d) => d.is_timeout(),
        _ => false,
    };
    let detail = DisplayErrorContext(e).to_string();
    if busy {
        PublishError::busy(detail)
    } else {
        PublishError::failed(detail)
    }
}

impl EventPublisher for SnsPublisher {
    async fn publish(&self, event: &Event) -> Result<(), PublishError> {
        let mut request = self
            .client
            .publish()
            .topic_arn(&self.topic_arn)
            .message(event.to_json())
            .message_attributes("type", type_attribute(event)?);
        if let EventPayload::CustomerNotified(note) = &event.payload {
            request = request
                .subject(&note.subject)
                .message_attributes("customer_id", string_attribute(note.customer_id.as_str())?);
        }
        let out = request.send().await.map_err(|e| {
            metrics::counter!(crate::metrics::names::PUBLISH_FAILURES).increment(1);
            publish_error(e)
        })?;
        crate::metrics::published(event);
        tracing::debug!(
            order_id = %event.order_id,
            event_id = %event.id,
            event_type = %event.event_type(),
            sns_message_id = out.message_id().unwrap_or("-"),
            "published"
        );
        Ok(())
    }
}
