//! The one integration test binary. Every test runs on a fresh database with a real server on
//! port 0: on SQLite always, and on PostgreSQL when `CALLGRADE_TEST_DATABASE_URL` is set
//! (under `CI=true` it must be set and reachable: the suite never skips PostgreSQL there).

// Test code: a failed expectation should stop the test loudly.
#![allow(clippy::unwrap_used)]

mod helpers;

mod appeal_ids;
mod appeals;
mod audio;
mod auth;
mod blind;
mod browser;
mod ceilings;
mod chaos;
mod cli;
mod commit_failures;
mod contract;
mod counting;
mod formats;
mod grading;
mod hardening;
mod ingest;
mod listening;
mod nodes;
mod player;
mod recordings;
mod sampling;
mod scores;
mod sweep;
