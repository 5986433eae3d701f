//! Pieces shared by the pages.

pub mod header;
pub mod local_time;
pub mod require_auth;
pub mod session_modal;
