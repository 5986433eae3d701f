//! Pieces shared by the pages.

pub mod header;
pub mod require_auth;
