//! Pieces shared by the pages.

pub mod error_alert;
pub mod header;
pub mod local_time;
pub mod require_auth;
pub mod session_modal;

pub use error_alert::ErrorAlert;
