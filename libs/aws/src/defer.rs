//! Sending a record back to its own queue, for later, without counting it as a failure.
//!
//! SQS counts every receive of a message toward its redrive policy's `maxReceiveCount`,
//! whatever the consumer did with it: a record reported failed, or one whose visibility was
//! merely shortened, comes back one receive closer to the DLQ. So a record that could not be
//! done because the dependencies were busy (not started before the deadline, given up at it,
//! or answered busy) is instead copied to the queue as a *new* message, delayed, with its
//! message attributes and two counters (`deferrals`, `deferred_tries`), and the original is
//! reported done (the event source mapping deletes it). The copy starts with a receive count
//! of zero. Consumers are idempotent, so a copy whose original was also redelivered (the
//! invocation died after the send) is harmless. A copy that could not be sent, or a record
//! tried and found busy more than [`MAX_TRIES`] times, is reported failed as before: the DLQ
//! stays for messages that fail, and for a dependency that stays down.

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use aws_lambda_events::sqs::{SqsMessage, SqsMessageAttribute};
use aws_sdk_sqs::types::{MessageAttributeValue, SendMessageBatchRequestEntry};
use tokio::time::Instant;

/// The message attributes the counters travel in.
pub const DEFERRALS_ATTRIBUTE: &str = "deferrals";
pub const TRIES_ATTRIBUTE: &str = "deferred_tries";
/// Times a record may be tried and deferred busy before a busy answer counts as a failure
/// (records deferred unstarted do not count: they were never tried).
pub const MAX_TRIES: u32 = 10;
/// The first deferral's delay; each next one doubles, up to [`MAX_DELAY`], with full jitter
/// over its upper half.
pub const FIRST_DELAY: Duration = Duration::from_secs(1);
pub const MAX_DELAY: Duration = Duration::from_secs(8);
/// SQS allows 10 message attributes; copies of records with more are not attempted.
const MAX_ATTRIBUTES: usize = 10;

/// A record to send back to its queue.
#[derive(Debug, Clone, PartialEq)]
pub struct Deferral {
    pub message_id: String,
    pub body: String,
    pub attributes: HashMap<String, SqsMessageAttribute>,
    /// The counters the copy carries.
    pub deferrals: u32,
    pub tries: u32,
    pub delay: Duration,
}

/// The counters a record arrived with: `(deferrals, tries)`, 0 when absent or unreadable.
pub fn counters(record: &SqsMessage) -> (u32, u32) {
    let read = |name: &str| {
        record
            .message_attributes
            .get(name)
            .and_then(|a| a.string_value.as_deref())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (read(DEFERRALS_ATTRIBUTE), read(TRIES_ATTRIBUTE))
}

/// The deferral of `record` (which arrived with `counters`), `tried` if it was started;
/// `None` when it has been tried too often (then it fails) or cannot be copied.
pub fn plan(
    record: &SqsMessage,
    counters: (u32, u32),
    tried: bool,
    jitter: f64,
) -> Option<Deferral> {
    let (deferrals, tries) = counters;
    let tries = tries + u32::from(tried);
    if tries > MAX_TRIES {
        return None;
    }
    let own = [DEFERRALS_ATTRIBUTE, TRIES_ATTRIBUTE];
    let attributes: HashMap<_, _> = record
        .message_attributes
        .iter()
        .filter(|(k, _)| !own.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if attributes.len() + own.len() > MAX_ATTRIBUTES {
        return None;
    }
    Some(Deferral {
        message_id: record.message_id.clone()?,
        body: record.body.clone()?,
        attributes,
        deferrals: deferrals + 1,
        tries,
        delay: delay(deferrals, jitter),
    })
}

/// The delay of the `n`-th deferral (0-based): `FIRST_DELAY * 2^n` capped at `MAX_DELAY`, scaled
/// into its upper half by `jitter` in [0, 1) (spread out, never near zero: the point is to wait).
pub fn delay(n: u32, jitter: f64) -> Duration {
    let cap = FIRST_DELAY
        .saturating_mul(2u32.saturating_pow(n.min(16)))
        .min(MAX_DELAY);
    cap.mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 1.0))
}

/// Sends deferrals to the consumer's queue.
pub trait Deferrer: Send + Sync {
    /// Sends `batch` (at most 10), giving up at `until`; returns the message ids not sent.
    fn defer(
        &self,
        batch: Vec<Deferral>,
        until: Instant,
    ) -> impl Future<Output = Vec<String>> + Send;
}

/// [`Deferrer`] over SQS `SendMessageBatch` to the queue the records came from.
#[derive(Debug, Clone)]
pub struct SqsDeferrer {
    client: aws_sdk_sqs::Client,
    queue_url: String,
}

impl SqsDeferrer {
    pub fn new(client: aws_sdk_sqs::Client, queue_url: impl Into<String>) -> Self {
        SqsDeferrer {
            client,
            queue_url: queue_url.into(),
        }
    }
}

fn number(n: u32) -> Option<MessageAttributeValue> {
    MessageAttributeValue::builder()
        .data_type("Number")
        .string_value(n.to_string())
        .build()
        .ok()
}

/// The SQS entry of a deferral: its message attributes as they arrived (String, Number and
/// Binary values), and the counters.
fn entry(i: usize, d: &Deferral) -> Option<SendMessageBatchRequestEntry> {
    let mut b = SendMessageBatchRequestEntry::builder()
        .id(i.to_string())
        .message_body(&d.body)
        .delay_seconds(d.delay.as_secs().clamp(1, 900) as i32)
        .message_attributes(DEFERRALS_ATTRIBUTE, number(d.deferrals)?)
        .message_attributes(TRIES_ATTRIBUTE, number(d.tries)?);
    for (name, a) in &d.attributes {
        let mut v = MessageAttributeValue::builder().data_type(a.data_type.clone()?);
        if let Some(s) = &a.string_value {
            v = v.string_value(s);
        } else if let Some(bin) = &a.binary_value {
            v = v.binary_value(aws_sdk_sqs::primitives::Blob::new(bin.0.clone()));
        }
        b = b.message_attributes(name, v.build().ok()?);
    }
    b.build().ok()
}

impl Deferrer for SqsDeferrer {
    async fn defer(&self, batch: Vec<Deferral>, until: Instant) -> Vec<String> {
        let mut unsent = Vec::new();
        let mut entries = Vec::new();
        let mut ids = HashMap::new();
        for (i, d) in batch.iter().enumerate() {
            match entry(i, d) {
                Some(e) => {
                    ids.insert(i.to_string(), d.message_id.clone());
                    entries.push(e);
                }
                None => unsent.push(d.message_id.clone()),
            }
        }
        if entries.is_empty() {
            return unsent;
        }
        let send = self
            .client
            .send_message_batch()
            .queue_url(&self.queue_url)
            .set_entries(Some(entries))
            .send();
        match tokio::time::timeout_at(until, send).await {
            Ok(Ok(out)) => {
                for f in out.failed() {
                    tracing::warn!(
                        code = f.code(),
                        reason = f.message().unwrap_or("-"),
                        "deferral not sent"
                    );
                    unsent.extend(ids.get(f.id()).cloned());
                }
            }
            Ok(Err(e)) => {
                tracing::warn!(error = %aws_sdk_sqs::error::DisplayErrorContext(e), "deferrals not sent");
                unsent.extend(ids.into_values());
            }
            Err(_) => {
                tracing::warn!("deferrals not sent: out of time");
                unsent.extend(ids.into_values());
            }
        }
        unsent
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(attrs: &[(&str, &str, &str)]) -> SqsMessage {
        let mut m = SqsMessage::default();
        m.message_id = Some("m1".into());
        m.body = Some("{}".into());
        for (name, ty, value) in attrs {
            let mut a = SqsMessageAttribute::default();
            a.data_type = Some(ty.to_string());
            a.string_value = Some(value.to_string());
            m.message_attributes.insert(name.to_string(), a);
        }
        m
    }

    #[test]
    fn delays_double_up_to_the_cap_and_never_near_zero() {
        assert_eq!(delay(0, 0.0), Duration::from_millis(500));
        assert_eq!(delay(0, 0.999_999).as_millis(), 999);
        assert_eq!(delay(3, 0.0), Duration::from_secs(4));
        assert_eq!(delay(4, 1.0), MAX_DELAY);
        assert_eq!(delay(40, 1.0), MAX_DELAY);
    }

    #[test]
    fn the_copy_keeps_the_attributes_and_counts_on() {
        let r = record(&[("type", "String", "OrderPlaced")]);
        assert_eq!(counters(&r), (0, 0));
        let d = plan(&r, counters(&r), true, 0.0).unwrap();
        assert_eq!((d.deferrals, d.tries), (1, 1));
        assert_eq!(
            d.attributes["type"].string_value.as_deref(),
            Some("OrderPlaced")
        );
        // Arrived deferred twice, once tried: an unstarted deferral does not count a try.
        let r = record(&[
            ("deferrals", "Number", "2"),
            ("deferred_tries", "Number", "1"),
        ]);
        let d = plan(&r, counters(&r), false, 0.0).unwrap();
        assert_eq!((d.deferrals, d.tries), (3, 1));
        assert!(
            d.attributes.is_empty(),
            "its own counters are replaced, not copied"
        );
        assert_eq!(d.delay, delay(2, 0.0));
    }

    #[test]
    fn a_record_tried_too_often_is_not_deferred_again() {
        let tries = MAX_TRIES.to_string();
        let r = record(&[("deferred_tries", "Number", &tries)]);
        assert!(plan(&r, counters(&r), true, 0.0).is_none());
        assert!(
            plan(&r, counters(&r), false, 0.0).is_some(),
            "not tried: still deferred"
        );
        let garbage = record(&[("deferred_tries", "Number", "lots")]);
        assert_eq!(counters(&garbage), (0, 0));
    }

    #[test]
    fn a_copy_fits_in_sqs_ten_attributes_with_its_two_counters_or_is_not_made() {
        let names: Vec<String> = (0..9).map(|i| format!("a{i}")).collect();
        let attrs = |n: usize| -> Vec<(&str, &str, &str)> {
            names[..n]
                .iter()
                .map(|k| (k.as_str(), "String", "v"))
                .collect()
        };
        // The counters it arrived with are replaced, so they do not count twice.
        let mut eight = attrs(8);
        eight.push(("deferrals", "Number", "1"));
        let r = record(&eight);
        assert_eq!(
            plan(&r, counters(&r), true, 0.0).unwrap().attributes.len(),
            8
        );
        let r = record(&attrs(9));
        assert!(plan(&r, counters(&r), true, 0.0).is_none(), "9 + 2 > 10");
    }

    #[test]
    fn entries_carry_the_delay_and_the_counters() {
        let r = record(&[("type", "String", "OrderPlaced")]);
        let d = plan(&r, (0, 0), true, 0.0).unwrap();
        let e = entry(3, &d).unwrap();
        assert_eq!(e.id(), "3");
        assert_eq!(
            e.delay_seconds(),
            Some(1),
            "SQS counts whole seconds; at least one"
        );
        let attrs = e.message_attributes().unwrap();
        assert_eq!(attrs["deferrals"].string_value(), Some("1"));
        assert_eq!(attrs["type"].string_value(), Some("OrderPlaced"));
    }
}
