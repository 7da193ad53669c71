//! How failed logins slow down further guesses. Two counters: one per username and client
//! address (someone mistyping their own password, or guessing one person's), and one per
//! client address across every name (one machine trying many). Each locks for a time that
//! doubles with every failure past its free allowance, up to a cap. A name is never locked
//! for everyone: an attacker elsewhere cannot keep a colleague out, and one address can
//! only slow itself down.

/// Failures counted within this of each other; a quiet spell this long forgives them.
pub const FORGET_AFTER_MS: i64 = 15 * 60_000;

/// The counters' allowances and caps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rule {
    /// Failures before the first lock.
    pub free: i64,
    /// The longest lock.
    pub max_lock_ms: i64,
}

/// One name from one address: five tries, then 1 s, 2 s, 4 s ... up to a minute.
pub const NAME_AT_ADDRESS: Rule = Rule {
    free: 5,
    max_lock_ms: 60_000,
};

/// One address across names: thirty tries, then 1 s doubling up to five minutes.
pub const ADDRESS: Rule = Rule {
    free: 30,
    max_lock_ms: 5 * 60_000,
};

impl Rule {
    /// How long to lock after the `failures`-th failure in a row (0: not locked).
    pub fn lock_ms(self, failures: i64) -> i64 {
        if failures < self.free {
            return 0;
        }
        let doublings = (failures - self.free).clamp(0, 30);
        (1_000i64 << doublings).min(self.max_lock_ms)
    }
}

/// The counter keys of a login attempt. Names are case-insensitive, as logins are.
pub fn keys(username: &str, address: &str) -> (String, String) {
    (
        format!("name:{}|{address}", username.to_lowercase()),
        format!("addr:{address}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_double_from_the_allowance_up_to_the_cap() {
        assert_eq!(NAME_AT_ADDRESS.lock_ms(4), 0);
        assert_eq!(NAME_AT_ADDRESS.lock_ms(5), 1_000);
        assert_eq!(NAME_AT_ADDRESS.lock_ms(6), 2_000);
        assert_eq!(NAME_AT_ADDRESS.lock_ms(12), 60_000);
        assert_eq!(NAME_AT_ADDRESS.lock_ms(i64::MAX), 60_000);
        assert_eq!(ADDRESS.lock_ms(29), 0);
        assert_eq!(ADDRESS.lock_ms(1_000), 300_000);
    }

    #[test]
    fn keys_ignore_the_case_of_names_and_keep_addresses_apart() {
        let (a, b) = keys("Ann", "10.0.0.1");
        assert_eq!(a, "name:ann|10.0.0.1");
        assert_eq!(b, "addr:10.0.0.1");
        assert_ne!(keys("ann", "10.0.0.2").0, a);
    }
}
