//! The session state pages read: one set of signals, written only by the token manager.
//!
//! It holds no token: a page cannot leak what it never sees.

use leptos::prelude::*;
use wire::{EndReason, SessionInfo, User};

/// Where the tab stands with the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// The start-up restore is deciding: neither the login page nor protected pages
    /// may show yet, or the user would see a flash of the wrong one.
    Restoring,
    /// The start-up restore could not reach the server (offline, 5xx, 429): it retries
    /// with backoff and when the browser comes back online. The user is not signed out.
    Reconnecting,
    SignedIn,
    SignedOut,
}

/// Something the user may want to be told about, for toasts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionEvent {
    /// The machine slept (or the tab was frozen) and the session was picked up again.
    RefreshedAfterSleep,
    /// A refresh or the restore could not reach the server; retrying.
    Reconnecting,
    /// The server answered again after [`SessionEvent::Reconnecting`].
    BackOnline,
    /// The user logged out in another tab.
    SignedOutInAnotherTab,
    /// The user signed in in another tab.
    SignedInInAnotherTab,
    /// The session ended on the server, for this reason.
    Ended(EndReason),
    /// The session ended for a reason the server did not name.
    EndedUnknown,
    /// The absolute end is near: nothing but a new sign-in continues after it.
    AbsoluteEndNear,
    /// A logout could not reach the server: it is sent as soon as it can be.
    LogoutPending,
}

/// Who fetched a token the timeline shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RefreshBy {
    ThisTab,
    /// Another tab, by its short id.
    OtherTab(String),
}

/// One successful refresh, as the timeline lists it.
#[derive(Clone, Debug, PartialEq)]
pub struct RefreshRecord {
    /// Server time (ms) of the answer.
    pub at_ms: f64,
    pub by: RefreshBy,
    /// Whether it reported user activity (and so slid the idle end).
    pub active: bool,
}

/// The current access token's life on the server's clock (ms), without the token.
#[derive(Clone, Debug, PartialEq)]
pub struct TokenTimes {
    pub issued_ms: f64,
    /// When the proactive refresh is due; `None` when no refresh can outlive the token
    /// (it was cut to the session's end).
    pub refresh_ms: Option<f64>,
    pub expires_ms: f64,
}

/// How many refreshes the timeline keeps.
pub const RECENT_REFRESHES: usize = 8;

/// The signals; `Copy`, so closures and components take them freely.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Signals {
    pub status: RwSignal<Status>,
    pub user: RwSignal<Option<User>>,
    pub info: RwSignal<Option<SessionInfo>>,
    /// A sentence for the user, e.g. why their session ended; shown on the login page.
    pub notice: RwSignal<Option<String>>,
    /// Refreshes are failing for a reason that may pass; the session is kept meanwhile.
    pub reconnecting: RwSignal<bool>,
    /// Server time (ms) as of the last tick (every second).
    pub server_now_ms: RwSignal<f64>,
    /// Server clock minus local wall clock (ms), to show server times on the user's clock.
    pub server_offset_ms: RwSignal<f64>,
    /// The idle lifetime the server grants after activity (ms; 0 until known).
    pub idle_window_ms: RwSignal<f64>,
    pub token: RwSignal<Option<TokenTimes>>,
    pub refreshes: RwSignal<Vec<RefreshRecord>>,
    /// The latest event, numbered so that two equal events in a row both show.
    pub event: RwSignal<Option<(u32, SessionEvent)>>,
}

impl Signals {
    pub fn new() -> Self {
        Self {
            status: RwSignal::new(Status::Restoring),
            user: RwSignal::new(None),
            info: RwSignal::new(None),
            notice: RwSignal::new(None),
            reconnecting: RwSignal::new(false),
            server_now_ms: RwSignal::new(js_sys::Date::now()),
            server_offset_ms: RwSignal::new(0.0),
            idle_window_ms: RwSignal::new(0.0),
            token: RwSignal::new(None),
            refreshes: RwSignal::new(Vec::new()),
            event: RwSignal::new(None),
        }
    }

    pub fn emit(&self, event: SessionEvent) {
        let n = self
            .event
            .with_untracked(|e| e.map_or(0, |(n, _)| n.wrapping_add(1)));
        self.event.set(Some((n, event)));
    }

    pub fn record_refresh(&self, record: RefreshRecord) {
        self.refreshes.update(|list| {
            list.insert(0, record);
            list.truncate(RECENT_REFRESHES);
        });
    }
}
