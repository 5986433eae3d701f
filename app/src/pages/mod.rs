//! One module per route.

pub mod audit;
pub mod authorize;
pub mod dashboard;
pub mod login;
pub mod not_found;
pub mod password;
pub mod sessions;
