//! Session state: one context of signals, provided once at the root.
//!
//! Pages read who is signed in and until when from here; only the token manager writes
//! it. It holds no token: a page cannot leak what it never sees.

use leptos::prelude::*;
use wire::{SessionInfo, User};

use crate::schedule;

/// Where the tab stands with the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthStatus {
    /// The start-up refresh is in flight: neither the login page nor protected pages
    /// may show yet, or the user would see a flash of the wrong one.
    Restoring,
    SignedIn,
    SignedOut,
}

/// The signals every page shares.
#[derive(Clone, Copy, Debug)]
pub struct Auth {
    pub status: RwSignal<AuthStatus>,
    pub user: RwSignal<Option<User>>,
    pub session: RwSignal<Option<SessionInfo>>,
    /// A sentence for the user, e.g. why their session ended; shown on the login page.
    pub notice: RwSignal<Option<String>>,
    /// Server clock minus local clock (ms), from the `Date` of the last token response,
    /// so session ends (server Unix seconds) land right on a clock that is off.
    pub clock_offset_ms: RwSignal<f64>,
}

impl Auth {
    pub fn new() -> Self {
        Self {
            status: RwSignal::new(AuthStatus::Restoring),
            user: RwSignal::new(None),
            session: RwSignal::new(None),
            notice: RwSignal::new(None),
            clock_offset_ms: RwSignal::new(0.0),
        }
    }

    /// When the session ends on the local wall clock (ms): the earlier of the idle and
    /// the absolute end.
    pub fn session_end_local_ms(&self) -> Option<f64> {
        let offset = self.clock_offset_ms.get();
        self.session.with(|session| {
            session.as_ref().map(|s| {
                let end = s.idle_expires_at.min(s.absolute_expires_at);
                schedule::local_time_ms(end, offset)
            })
        })
    }
}

impl Default for Auth {
    fn default() -> Self {
        Self::new()
    }
}

/// The session state provided by [`crate::App`].
pub fn use_auth() -> Auth {
    use_context::<Auth>().expect("Auth is provided at the root of the app")
}
