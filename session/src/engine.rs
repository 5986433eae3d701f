//! The token manager, loaded when it is first needed.
//!
//! A signed-out visitor needs the session's signals and guard, not the manager (refresh,
//! tabs, idle rules, gate, authorised calls: a third of this repository's app's first
//! download). So [`Session`](crate::Session) reaches the manager only through [`Engine`],
//! a trait object it gets from [`Loader`]. With the `split` feature the manager is in a
//! WASM chunk (`#[wasm_split(signed_in)]`), fetched:
//!
//! - at start, when there may be a session to restore (the hint cookie) or a logout to
//!   send;
//! - when another tab signs in (its token message, kept until the manager runs);
//! - at a signed-out visitor's first click or key (not a scroll, not a return to the
//!   tab), so it is there for the sign-in;
//! - by any call that needs it (a sign-in, say) if it is not there yet.
//!
//! An app puts what only a signed-in user needs into the same chunk by naming the same
//! module, `#[wasm_split(signed_in, …)]`: it arrives with the manager, in one module.
//!
//! Without the feature it is an ordinary function call, and the crate works the same
//! (its example, apps built without wasm-split).

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

use futures::future::LocalBoxFuture;
use leptos::prelude::{GetUntracked, Set};
use leptos::task::spawn_local;
use leptos::wasm_split::SplitLoaderError;
use wire::LoginRequest;

use crate::http::{ApiError, Method, now_monotonic_ms};
use crate::manager::Manager;
use crate::state::{SessionEvent, Signals, Status};
use crate::tabs;

/// What the session handle asks of the token manager: `dyn`, so that nothing of the
/// manager is reachable from the first download except through the chunk.
pub(crate) trait Engine {
    /// Joins the other tabs and starts the clock; with `restore`, turns the refresh
    /// cookie back into a session (or sends the logout that is waiting).
    fn start(&self, restore: bool);
    /// A message from another tab, as its text, which waited `held_ms` for the manager
    /// (a token is that much older).
    fn receive(&self, text: &str, held_ms: f64);
    fn login<'a>(&'a self, request: &'a LoginRequest) -> LocalBoxFuture<'a, Result<(), ApiError>>;
    fn logout(&self) -> LocalBoxFuture<'_, ()>;
    fn logout_everywhere(&self) -> LocalBoxFuture<'_, Result<(), ApiError>>;
    fn stay_signed_in(&self) -> LocalBoxFuture<'_, Result<(), ApiError>>;
    /// A bearer request; the answer's body as text (`None` for `204`).
    fn authorized<'a>(
        &'a self,
        method: Method,
        path: &'a str,
        json_body: Option<&'a str>,
    ) -> LocalBoxFuture<'a, Result<Option<String>, ApiError>>;
    fn check(&self);
    fn on_online(&self);
    fn note_activity(&self);
}

/// What a manager is made from.
#[derive(Clone)]
pub(crate) struct Setup {
    pub sig: Signals,
    pub api_base: &'static str,
    pub sender: Option<tabs::Sender>,
}

#[cfg(feature = "split")]
#[leptos::wasm_split::wasm_split(signed_in, wasm_split_path = ::leptos::wasm_split, fallible)]
fn new_engine(setup: Setup) -> Result<Rc<dyn Engine>, SplitLoaderError> {
    Ok(Rc::new(Manager::new(setup)))
}

#[cfg(not(feature = "split"))]
async fn new_engine(setup: Setup) -> Result<Rc<dyn Engine>, SplitLoaderError> {
    Ok(Rc::new(Manager::new(setup)))
}

/// The tab's manager once it runs, and the way to it until then; clones share one state.
#[derive(Clone)]
pub(crate) struct Loader {
    inner: Rc<LoaderInner>,
}

struct LoaderInner {
    setup: Setup,
    /// This tab's end of the channel: open from the start, so a sign-in in another tab
    /// reaches a tab whose manager is not loaded yet.
    _channel: Option<tabs::Channel>,
    /// Whether the manager restores a session when it starts.
    restore: bool,
    engine: RefCell<Option<Rc<dyn Engine>>>,
    /// Fetches on their way.
    loads: Cell<u32>,
    /// Meanwhile: the other tabs' messages, in order, with when each came.
    waiting: RefCell<Option<Vec<(String, f64)>>>,
}

impl Loader {
    pub fn new(sig: Signals, api_base: &'static str, restore: bool) -> Self {
        let inner = Rc::new_cyclic(|weak: &Weak<LoaderInner>| {
            let weak = weak.clone();
            let channel = tabs::Channel::open(move |text| {
                if let Some(inner) = weak.upgrade() {
                    Loader { inner }.receive(text);
                }
            });
            LoaderInner {
                setup: Setup {
                    sig,
                    api_base,
                    sender: channel.as_ref().map(tabs::Channel::sender),
                },
                _channel: channel,
                restore,
                engine: RefCell::new(None),
                loads: Cell::new(0),
                waiting: RefCell::new(None),
            }
        });
        Self { inner }
    }

    /// The manager, if it runs.
    pub fn loaded(&self) -> Option<Rc<dyn Engine>> {
        self.inner.engine.borrow().clone()
    }

    /// The manager, fetched and started first if need be. A failed fetch (offline, a
    /// rolling upgrade) is transient: the next call tries again.
    pub async fn get(&self) -> Result<Rc<dyn Engine>, ApiError> {
        if let Some(engine) = self.loaded() {
            return Ok(engine);
        }
        let inner = &self.inner;
        inner.waiting.borrow_mut().get_or_insert_with(Vec::new);
        inner.loads.set(inner.loads.get() + 1);
        let made = new_engine(inner.setup.clone()).await;
        inner.loads.set(inner.loads.get() - 1);
        // Another call may have started one meanwhile: one manager per tab.
        if let Some(engine) = self.loaded() {
            return Ok(engine);
        }
        let Ok(engine) = made else {
            if inner.loads.get() == 0 {
                inner.waiting.borrow_mut().take();
            }
            return Err(ApiError::Unloaded);
        };
        *inner.engine.borrow_mut() = Some(engine.clone());
        // The restore said "Reconnecting…" while the code could not be fetched: it came
        // from the server, so the restore starts afresh, as it would have.
        let sig = inner.setup.sig;
        if sig.status.get_untracked() == Status::Reconnecting {
            sig.status.set(Status::Restoring);
            sig.emit(SessionEvent::BackOnline);
        }
        engine.start(inner.restore);
        let waiting = inner.waiting.borrow_mut().take().unwrap_or_default();
        for (text, came_ms) in waiting {
            engine.receive(&text, now_monotonic_ms() - came_ms);
        }
        Ok(engine)
    }

    /// Starts fetching the manager, unless it is there or on its way.
    pub fn prefetch(&self) {
        if self.loaded().is_none() && self.inner.waiting.borrow().is_none() {
            self.fetch();
        }
    }

    fn fetch(&self) {
        let this = self.clone();
        spawn_local(async move {
            let _ = this.get().await;
        });
    }

    /// A message from another tab: to the manager; kept for it while it is on its way;
    /// or, for a token (another tab signed in), the reason to fetch it.
    pub fn receive(&self, text: String) {
        if let Some(engine) = self.loaded() {
            engine.receive(&text, 0.0);
            return;
        }
        let came_ms = now_monotonic_ms();
        if let Some(waiting) = self.inner.waiting.borrow_mut().as_mut() {
            waiting.push((text, came_ms));
            return;
        }
        if tabs::is_token(&text) {
            *self.inner.waiting.borrow_mut() = Some(vec![(text, came_ms)]);
            self.fetch();
        }
    }
}
