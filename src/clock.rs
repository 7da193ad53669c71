//! The time the service believes it is. Windows and deadlines (sampling weeks freezing,
//! later appeal windows) depend on it, so tests must be able to move it; production reads
//! the system clock.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

/// Milliseconds since the Unix epoch (UTC): the system clock, or a manual one shared by
/// every clone (tests set or advance it).
#[derive(Clone, Default)]
pub struct Clock {
    manual: Option<Arc<AtomicI64>>,
}

impl Clock {
    pub fn system() -> Clock {
        Clock { manual: None }
    }

    pub fn manual(now_ms: i64) -> Clock {
        Clock {
            manual: Some(Arc::new(AtomicI64::new(now_ms))),
        }
    }

    pub fn now_ms(&self) -> i64 {
        match &self.manual {
            Some(t) => t.load(Ordering::SeqCst),
            None => chrono::Utc::now().timestamp_millis(),
        }
    }

    /// Sets a manual clock; a system clock cannot be set, so this panics on one (a test bug).
    pub fn set(&self, now_ms: i64) {
        match &self.manual {
            Some(t) => t.store(now_ms, Ordering::SeqCst),
            None => panic!("Clock::set on the system clock"),
        }
    }

    pub fn advance(&self, ms: i64) {
        match &self.manual {
            Some(t) => {
                t.fetch_add(ms, Ordering::SeqCst);
            }
            None => panic!("Clock::advance on the system clock"),
        }
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.manual {
            Some(_) => write!(f, "Clock(manual {})", self.now_ms()),
            None => f.write_str("Clock(system)"),
        }
    }
}
