use std::time::Duration;

use super::*;

const SEC: Duration = Duration::from_secs(1);

#[test]
fn limits_default_to_the_documented_values() {
    let limits = Limits::default();
    assert_eq!(limits.new_orders_per_account, Limit::new(20, 3 * SEC));
    assert_eq!(
        limits.new_authorizations_per_identifier,
        Limit::new(10, 6 * SEC)
    );
    assert_eq!(
        limits.new_orders_per_account.to_string(),
        "at most 20 at once, then one every 3 s"
    );
}
