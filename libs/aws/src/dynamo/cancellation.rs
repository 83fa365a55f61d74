//! What a cancelled `TransactWriteItems` says, item by item: the condition failed (the
//! decision is made), or something else (a conflict, a throttle: not decided this time).

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use orders_domain::inventory::reservation::ItemFailure;

/// Per-item outcome of a cancelled transaction, or `None` if it was not a cancellation.
pub(crate) fn cancellation_reasons(
    e: &SdkError<TransactWriteItemsError>,
) -> Option<Vec<ItemFailure>> {
    match e.as_service_error() {
        Some(TransactWriteItemsError::TransactionCanceledException(c)) => Some(
            c.cancellation_reasons()
                .iter()
                .map(|r| item_failure(r.code()))
                .collect(),
        ),
        _ => None,
    }
}

/// Maps a cancellation reason code (`None`, `ConditionalCheckFailed`, `TransactionConflict`, ...).
pub(crate) fn item_failure(code: Option<&str>) -> ItemFailure {
    match code {
        None | Some("None") | Some("") => ItemFailure::None,
        Some("ConditionalCheckFailed") => ItemFailure::ConditionFailed,
        Some(_) => ItemFailure::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reason_codes() {
        assert_eq!(item_failure(None), ItemFailure::None);
        assert_eq!(item_failure(Some("None")), ItemFailure::None);
        assert_eq!(
            item_failure(Some("ConditionalCheckFailed")),
            ItemFailure::ConditionFailed
        );
        assert_eq!(
            item_failure(Some("TransactionConflict")),
            ItemFailure::Other
        );
        assert_eq!(item_failure(Some("ThrottlingError")), ItemFailure::Other);
    }
}
