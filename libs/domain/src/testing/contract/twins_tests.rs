//! The contract suites against the in-memory twins (the DynamoDB run is
//! `libs/aws/tests/contract.rs`).

use crate::testing::{InMemoryInventory, InMemoryNotifications, InMemoryOrders};

mod orders {
    use super::*;
    crate::store_contract!(orders, InMemoryOrders::new());
}

mod products {
    use super::*;
    crate::store_contract!(products, InMemoryInventory::new());
}

mod inventory {
    use super::*;
    crate::store_contract!(inventory, InMemoryInventory::new());
}

mod notifications {
    use super::*;
    crate::store_contract!(notifications, InMemoryNotifications::new());
}
