//! Pieces shared by the pages.

pub mod error_alert;
pub mod header;
pub mod local_time;
pub mod session_modal;
pub mod timeline;
pub mod toasts;

pub use error_alert::ErrorAlert;
