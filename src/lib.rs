//! callgrade: call-recording quality assurance for contact centers.
//!
//! Module map:
//! - [`cli`]: the command line; [`config`]: flags and environment; [`clock`]: the
//!   service's notion of now (manual in tests).
//! - [`app`]: application state, router assembly, the server loop.
//! - [`http`]: one module per API resource, auth extractors, the embedded web app.
//! - [`domain`]: pure rules (roles, months, call metadata, access), no I/O.
//! - [`sampling`]: drawing, freezing and verifying monthly samples (over [`domain::sampling`]).
//! - [`grading`]: the current rubric, who reads an evaluation, submitting one (over
//!   [`domain::grading`]).
//! - [`publication`]: publishing a month, its deadlines and notices (in the app and to the
//!   webhook); [`appeals`]: appeals, the panel's decisions and every audited change of a
//!   submitted evaluation (over [`domain::publication`] and [`domain::audit`]).
//! - [`scoring`]: a month's scores (service quality with its interval, pay, the overall
//!   score, levels, leads' assessments) as versioned runs, and the component import (over
//!   [`domain::scoring`]).
//! - [`ingest`]: the one path a recording takes in (HTTP, bulk import, demo).
//! - [`audio`]: probing and decoding with symphonia.
//! - [`store`]: all SQL, SQLite and PostgreSQL; [`blobs`]: recording bytes on disk.
//! - [`auth`]: password hashing and login throttling; [`org`]: roster and users;
//!   [`import`]: bulk import; [`demo`]: the demo organisation.

pub mod app;
pub mod appeals;
pub mod audio;
pub mod auth;
pub mod blobs;
pub mod cli;
pub mod clock;
pub mod config;
pub mod demo;
pub mod domain;
pub mod error;
pub mod export;
pub mod grading;
pub mod http;
pub mod import;
pub mod ingest;
pub mod org;
pub mod publication;
pub mod pulls;
pub mod sampling;
pub mod scoring;
pub mod store;
pub mod sweep;
