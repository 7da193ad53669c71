//! Pure domain rules: no I/O, no database, no clock. Values are parsed once into these types
//! and trusted afterwards.

pub mod access;
pub mod audit;
pub mod calibration;
pub mod call;
pub mod grading;
pub mod listening;
pub mod login;
pub mod month;
pub mod org;
pub mod publication;
pub mod queues;
pub mod rubric;
pub mod said;
pub mod sampling;
pub mod scoring;
