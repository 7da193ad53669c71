//! Passwords (argon2id) and the slow-down of repeated failed logins.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::Context;
use argon2::{Argon2, PasswordHasher, PasswordVerifier};

/// Hashes with argon2id and the crate's recommended parameters (19 MiB, 2 passes).
pub fn hash_password(password: &str) -> anyhow::Result<String> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("hashing password: {e}"))
}

pub fn verify_password(password: &str, hash: &str) -> bool {
    Argon2::default()
        .verify_password(password.as_bytes(), hash)
        .is_ok()
}

/// Verifies on a blocking thread (argon2 takes tens of milliseconds by design). Unknown users
/// are checked against a fixed hash so that timing does not reveal which usernames exist.
pub async fn verify_password_async(password: String, hash: Option<String>) -> anyhow::Result<bool> {
    tokio::task::spawn_blocking(move || match hash {
        Some(hash) => verify_password(&password, &hash),
        None => {
            let _ = verify_password(&password, dummy_hash());
            false
        }
    })
    .await
    .context("password verification task")
}

fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash_password("callgrade-no-such-user").unwrap_or_default())
}

/// Counts consecutive failed logins per username. After [`FREE_FAILURES`] failures each
/// further failure locks the name for twice as long as the last (1 s, 2 s, 4 s ... up to a
/// minute): slow enough to stop guessing, short enough that nobody can lock a colleague out
/// for long.
#[derive(Default)]
pub struct LoginThrottle {
    state: Mutex<HashMap<String, Failures>>,
}

struct Failures {
    count: u32,
    last: Instant,
    locked_until: Option<Instant>,
}

pub const FREE_FAILURES: u32 = 5;
const MAX_LOCK: Duration = Duration::from_secs(60);
/// A quiet quarter of an hour forgives earlier failures.
const FORGET_AFTER: Duration = Duration::from_secs(15 * 60);

impl LoginThrottle {
    /// `Err(wait)` while the name is locked.
    pub fn check(&self, username: &str) -> Result<(), Duration> {
        let now = Instant::now();
        let map = self.state.lock().unwrap_or_else(|p| p.into_inner());
        match map
            .get(&username.to_lowercase())
            .and_then(|f| f.locked_until)
        {
            Some(until) if until > now => Err(until - now),
            _ => Ok(()),
        }
    }

    pub fn failed(&self, username: &str) {
        let now = Instant::now();
        let mut map = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() > 100_000 {
            // Bounded memory under a flood of made-up names.
            map.retain(|_, f| now.duration_since(f.last) < FORGET_AFTER);
        }
        let f = map.entry(username.to_lowercase()).or_insert(Failures {
            count: 0,
            last: now,
            locked_until: None,
        });
        if now.duration_since(f.last) > FORGET_AFTER {
            f.count = 0;
        }
        f.count += 1;
        f.last = now;
        if f.count >= FREE_FAILURES {
            let exp = (f.count - FREE_FAILURES).min(6);
            f.locked_until = Some(now + Duration::from_secs(1 << exp).min(MAX_LOCK));
        }
    }

    pub fn succeeded(&self, username: &str) {
        let mut map = self.state.lock().unwrap_or_else(|p| p.into_inner());
        map.remove(&username.to_lowercase());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_differ() -> anyhow::Result<()> {
        let h1 = hash_password("correct horse")?;
        let h2 = hash_password("correct horse")?;
        assert!(h1.starts_with("$argon2id$"));
        assert_ne!(h1, h2, "salted");
        assert!(verify_password("correct horse", &h1));
        assert!(!verify_password("wrong horse", &h1));
        assert!(!verify_password("x", "not a hash"));
        Ok(())
    }

    #[test]
    fn locks_after_repeated_failures_and_success_resets() {
        let t = LoginThrottle::default();
        for _ in 0..FREE_FAILURES - 1 {
            t.failed("Ann");
            assert!(t.check("ann").is_ok());
        }
        t.failed("ann");
        let wait = t.check("ANN").expect_err("locked");
        assert!(wait <= Duration::from_secs(1));
        assert!(t.check("bob").is_ok());
        t.succeeded("ann");
        assert!(t.check("ann").is_ok());
    }
}
