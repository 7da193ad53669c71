//! Passwords (argon2id), and the gate that bounds how many are checked at once (the
//! slow-down of repeated failures is `domain::login`, counted in the database).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::Context;
use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use tokio::sync::Semaphore;

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

/// Verifies on a blocking thread (argon2 takes tens of milliseconds by design). Logins go
/// through [`LoginGate::verify`], which bounds how many run at once.
pub async fn verify_password_async(password: String, hash: Option<String>) -> anyhow::Result<bool> {
    tokio::task::spawn_blocking(move || check(&password, hash.as_deref()))
        .await
        .context("password verification task")
}

/// Unknown users are checked against a fixed hash so that timing does not reveal which
/// usernames exist.
fn check(password: &str, hash: Option<&str>) -> bool {
    match hash {
        Some(hash) => verify_password(password, hash),
        None => {
            let _ = verify_password(password, dummy_hash());
            false
        }
    }
}

fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash_password("callgrade-no-such-user").unwrap_or_default())
}

/// Bounds password verification. argon2id takes 19 MiB and tens of milliseconds of CPU per
/// check by design, so a flood of logins run at once exhausts memory (hundreds of checks on
/// the blocking pool) and starves streaming and ingest of CPU. At most `permits` checks run
/// at once (half the cores, at least one) and at most `queue` more wait for a turn; any
/// further login is turned away at once with "busy, retry" before anything is hashed.
pub struct LoginGate {
    permits: Arc<Semaphore>,
    inflight: AtomicUsize,
    limit: usize,
}

/// Logins that may wait for a check per running check: with a check taking ~30 ms, a full
/// queue clears in well under two seconds.
const QUEUE_PER_PERMIT: usize = 32;

impl LoginGate {
    pub fn new(cores: usize) -> LoginGate {
        let permits = cores.div_ceil(2).max(1);
        LoginGate {
            permits: Arc::new(Semaphore::new(permits)),
            inflight: AtomicUsize::new(0),
            limit: permits * (1 + QUEUE_PER_PERMIT),
        }
    }

    /// Verifies as [`verify_password_async`] does, in turn; `None` when the gate is full and
    /// the caller should answer 429. The turn is held until the check itself ends, even if
    /// the client goes away meanwhile, so disconnecting clients cannot start more checks.
    pub async fn verify(
        &self,
        password: String,
        hash: Option<String>,
    ) -> anyhow::Result<Option<bool>> {
        // Counted until this returns or is dropped (a client that goes away).
        let inflight = Inflight::enter(&self.inflight);
        if inflight.before >= self.limit {
            return Ok(None);
        }
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .context("the login gate is closed")?;
        tokio::task::spawn_blocking(move || {
            let ok = check(&password, hash.as_deref());
            drop(permit);
            ok
        })
        .await
        .context("password verification task")
        .map(Some)
    }
}

/// One login counted in the gate while it waits or runs.
struct Inflight<'a> {
    counter: &'a AtomicUsize,
    before: usize,
}

impl<'a> Inflight<'a> {
    fn enter(counter: &'a AtomicUsize) -> Inflight<'a> {
        let before = counter.fetch_add(1, Ordering::SeqCst);
        Inflight { counter, before }
    }
}

impl Drop for Inflight<'_> {
    fn drop(&mut self) {
        self.counter.fetch_sub(1, Ordering::SeqCst);
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

    #[tokio::test]
    async fn the_gate_turns_logins_away_when_full_and_frees_its_turns() {
        let gate = Arc::new(LoginGate::new(1));
        let hash = hash_password("pw").expect("hash");
        // Far more at once than the gate lets in: some are turned away, none fails, and
        // the right password still passes once the crowd is gone.
        let tries: Vec<_> = (0..200)
            .map(|_| {
                let gate = gate.clone();
                let hash = hash.clone();
                tokio::spawn(async move { gate.verify("wrong".into(), Some(hash)).await })
            })
            .collect();
        let mut shed = 0;
        for t in tries {
            match t.await.expect("task").expect("verified") {
                None => shed += 1,
                Some(ok) => assert!(!ok),
            }
        }
        assert!(shed > 0, "a full gate turns logins away");
        assert_eq!(gate.inflight.load(Ordering::SeqCst), 0);
        assert_eq!(
            gate.verify("pw".into(), Some(hash)).await.expect("ok"),
            Some(true)
        );
    }
}
