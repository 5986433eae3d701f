//! `leptos-token-session`: the session client of a Leptos CSR app, for servers that issue
//! short-lived access tokens and rotating HttpOnly refresh cookies (the server of this
//! repository, whose wire types are the [`wire`] crate).
//!
//! What it does for the app, with no token ever in the app's hands or in storage:
//!
//! - keeps the access token in memory and refreshes it silently before it expires, on
//!   clocks that a wrong or jumping wall clock cannot fool;
//! - restores the session on load from the refresh cookie (only when the server's hint
//!   cookie says there is one), and says "Reconnecting…" rather than signing out when the
//!   server cannot be reached;
//! - keeps the tabs of the browser in step: one refresh per expiry under a Web Lock, the
//!   token handed over a `BroadcastChannel`, login, logout and session ends everywhere;
//! - makes idle mean idle: only real activity (pointer, key, focus, in any tab) extends
//!   the session, warns before the end, and signs out at the end once the server agrees;
//! - stays calm when things fail: a browser-wide backoff gate with jitter, `Retry-After`
//!   and a circuit breaker; request timeouts inside the server's grace period; a logout
//!   made offline is sent before anything else;
//! - makes every authenticated call: bearer attached, one refresh and one retry on
//!   `401 token_expired`.
//!
//! HTTP goes through `gloo-net`, timers through `gloo-timers`.
//!
//! With the `split` feature (for apps built by wasm-split, as this repository's is) the
//! token manager is in a WASM chunk, `signed_in`, which the app may add its signed-in
//! pages to: a signed-out visitor's first download holds only the signals, the guard and
//! the hint-cookie check, and the chunk is fetched when there is a session to restore,
//! when the visitor starts to sign in, or when another tab signs in (`src/engine.rs`).
//!
//! # The API
//!
//! - [`provide_session`] once, at the root of the app;
//! - [`use_session`] anywhere below for the [`Session`] handle: read [`Session::status`],
//!   [`Session::user`], the countdown ([`Session::remaining_ms`]) and the warning
//!   ([`Session::warning`]); [`Session::login`] / [`Session::logout`];
//!   [`Session::get`] / [`Session::post`] / [`Session::delete`] for authenticated calls;
//! - [`RequireSession`] around a route's view to guard it: it sends a signed-out user to
//!   the login page with `?next=` to come back ([`go`]: the history entry replaced, then
//!   a `popstate` event for the app's router; the crate depends on no router).
//!
//! Tests: `cargo test -p leptos-token-session` runs the pure logic (timing, the gate,
//! the clock, messages) natively; the browser behaviour is tested end to end by the
//! Playwright suite of this repository (`end2end/tests/`).
//!
//! # A complete minimal app
//!
//! ```no_run
//! use leptos::prelude::*;
//! use leptos::task::spawn_local;
//! use leptos_router::components::{Route, Router, Routes};
//! use leptos_router::path;
//! use leptos_token_session::{
//!     RequireSession, SessionConfig, Status, provide_session, use_session,
//! };
//! use wire::{LoginRequest, User};
//!
//! #[component]
//! fn App() -> impl IntoView {
//!     view! {
//!         <Router>
//!             <Root />
//!         </Router>
//!     }
//! }
//!
//! #[component]
//! fn Root() -> impl IntoView {
//!     let session = provide_session(SessionConfig::default());
//!     view! {
//!         <Show
//!             when=move || !matches!(session.status(), Status::Restoring | Status::Reconnecting)
//!             fallback=|| "Restoring your session…"
//!         >
//!             <Routes fallback=|| "Not found">
//!                 <Route path=path!("/login") view=Login />
//!                 <Route
//!                     path=path!("/")
//!                     view=|| view! { <RequireSession><Home /></RequireSession> }
//!                 />
//!             </Routes>
//!         </Show>
//!     }
//! }
//!
//! #[component]
//! fn Login() -> impl IntoView {
//!     let session = use_session();
//!     let sign_in = move |_| {
//!         spawn_local(async move {
//!             let request = LoginRequest {
//!                 username: "alice".into(),
//!                 password: "alice-password".into(),
//!                 remember_me: false,
//!                 client: Default::default(),
//!             };
//!             // On success the status becomes `SignedIn` (in every tab).
//!             let _ = session.login(&request).await;
//!         });
//!     };
//!     view! {
//!         <p>{move || session.notice()}</p>
//!         <button on:click=sign_in>"Sign in"</button>
//!     }
//! }
//!
//! #[component]
//! fn Home() -> impl IntoView {
//!     let session = use_session();
//!     // An authenticated call: the token is attached (and refreshed) by the session.
//!     let me = LocalResource::new(move || async move { session.get::<User>("/api/me").await });
//!     view! {
//!         <p>"Hello, " {move || session.user().map(|u| u.username)}</p>
//!         <p>{move || me.get().and_then(|r| r.ok()).map(|u| u.roles.join(", "))}</p>
//!         <p>"Session ends in " {move || session.remaining_ms().map(|ms| (ms / 1000.0).ceil())} " s"</p>
//!         <button on:click=move |_| spawn_local(async move { session.logout().await })>
//!             "Log out"
//!         </button>
//!     }
//! }
//!
//! fn main() {
//!     leptos::mount::mount_to_body(App);
//! }
//! ```

mod clock;
mod engine;
mod gate;
mod http;
mod manager;
mod navigation;
mod schedule;
mod state;
mod storage;
mod tabs;

use leptos::prelude::*;
use leptos::task::spawn_local;
use serde::Serialize;
use serde::de::DeserializeOwned;
use wasm_bindgen::JsCast;
use web_sys::VisibilityState;
use wire::{LoginRequest, SessionInfo, User};

pub use crate::http::ApiError;
pub use crate::navigation::{go, safe_next};
pub use crate::schedule::SessionWarning;
pub use crate::state::{RefreshBy, RefreshRecord, SessionEvent, Status, TokenTimes};

use crate::engine::{Engine, Loader};
use crate::http::Method;
use crate::state::Signals;

/// How the session client is set up; [`Default`] suits an app served with its API.
#[derive(Clone, Debug)]
pub struct SessionConfig {
    /// Origin (and path prefix) of the auth routes; `""` for the page's own origin.
    pub api_base: &'static str,
    /// Where [`RequireSession`] sends a signed-out user (with `?next=` to come back).
    pub login_path: &'static str,
    /// A CSS selector: pointer and key events inside matching elements are not activity
    /// (a "Stay signed in?" dialog must not keep the session alive by itself).
    pub ignore_activity_in: Option<&'static str>,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            api_base: "",
            login_path: "/login",
            ignore_activity_in: None,
        }
    }
}

/// The session handle: `Copy`, reactive where it reads signals.
#[derive(Clone, Copy)]
pub struct Session {
    sig: Signals,
    loader: StoredValue<Loader, LocalStorage>,
    login_path: &'static str,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("status", &self.sig.status.get_untracked())
            .finish_non_exhaustive()
    }
}

/// How long (ms) after a failed fetch of the token manager's code the start-up restore
/// fetches it again (meanwhile the user is told "Reconnecting…").
const LOAD_RETRY_MS: u64 = 2_000;

/// Starts the session client for this app and provides it to everything below; call
/// once, at the root. Starts the restore at once (no request without the server's
/// session hint cookie).
pub fn provide_session(config: SessionConfig) -> Session {
    let sig = Signals::new();
    // A session to restore, or a logout to send: the token manager now. Otherwise this
    // visitor is signed out, at once (no session hint: no tab of this browser has one),
    // and the manager comes when it is needed (see `engine`).
    let restore = storage::pending_logout() || storage::has_session_hint();
    if !restore {
        sig.status.set(Status::SignedOut);
    }
    let loader = Loader::new(sig, config.api_base, restore);
    let session = Session {
        sig,
        loader: StoredValue::new_local(loader.clone()),
        login_path: config.login_path,
    };
    provide_context(session);
    listen(&loader, sig, config.ignore_activity_in);
    if restore {
        spawn_local(load_for_restore(loader, sig));
    }
    session
}

/// Fetches the token manager for the start-up restore, which it then runs. If the code
/// cannot be fetched (offline, with nothing cached), the user is told "Reconnecting…",
/// as when the server cannot be reached, and it is fetched again until it comes.
async fn load_for_restore(loader: Loader, sig: Signals) {
    while loader.get().await.is_err() {
        let Some(status) = sig.status.try_get_untracked() else {
            return; // the app is gone
        };
        if status == Status::Restoring {
            sig.status.set(Status::Reconnecting);
            sig.emit(SessionEvent::Reconnecting);
        }
        gloo_timers::future::sleep(std::time::Duration::from_millis(LOAD_RETRY_MS)).await;
    }
}

/// Whether this browser may hold a session to restore: the server's hint cookie, which
/// lives as long as the refresh cookie. Without it the start-up restore asks nothing and
/// ends signed out; with it an app can fetch what a signed-in user will see (a page's
/// code, say) while the restore runs.
pub fn may_restore() -> bool {
    storage::has_session_hint()
}

/// The session provided by [`provide_session`].
pub fn use_session() -> Session {
    use_context::<Session>().expect("provide_session() is called at the root of the app")
}

impl Session {
    /// The token manager, fetched first if it is not there yet.
    async fn engine(&self) -> Result<std::rc::Rc<dyn Engine>, ApiError> {
        self.loader.get_value().get().await
    }

    /// Where the tab stands (reactive).
    pub fn status(&self) -> Status {
        self.sig.status.get()
    }

    pub fn is_signed_in(&self) -> bool {
        self.status() == Status::SignedIn
    }

    /// The signed-in user (reactive).
    pub fn user(&self) -> Option<User> {
        self.sig.user.get()
    }

    /// The session's id and ends (server Unix seconds; reactive).
    pub fn info(&self) -> Option<SessionInfo> {
        self.sig.info.get()
    }

    /// Why the last session ended, for the login page (reactive).
    pub fn notice(&self) -> Option<String> {
        self.sig.notice.get()
    }

    /// Refreshes fail for a reason that may pass (offline, server trouble); the session is
    /// kept and retried meanwhile (reactive).
    pub fn reconnecting(&self) -> bool {
        self.sig.reconnecting.get()
    }

    /// Server time now (ms), updated every second (reactive): a wall clock that is set
    /// does not move it.
    pub fn server_now_ms(&self) -> f64 {
        self.sig.server_now_ms.get()
    }

    /// A server time (ms) on the user's wall clock, for display.
    pub fn to_local_ms(&self, server_ms: f64) -> f64 {
        server_ms - self.sig.server_offset_ms.get()
    }

    /// Time left until the session's first end, idle or absolute (reactive, every second).
    pub fn remaining_ms(&self) -> Option<f64> {
        let now = self.server_now_ms();
        self.sig.info.with(|info| {
            info.as_ref()
                .map(|i| i.idle_expires_at.min(i.absolute_expires_at) as f64 * 1_000.0 - now)
        })
    }

    /// What the session-end dialog should offer now, if anything (reactive).
    pub fn warning(&self) -> Option<SessionWarning> {
        if self.status() != Status::SignedIn {
            return None;
        }
        let now = self.server_now_ms();
        let lead = schedule::warning_lead_ms(self.sig.idle_window_ms.get());
        self.sig.info.with(|info| {
            let info = info.as_ref()?;
            schedule::session_warning(
                now,
                info.idle_expires_at as f64 * 1_000.0,
                info.absolute_expires_at as f64 * 1_000.0,
                lead,
            )
        })
    }

    /// The current access token's life on the server clock (reactive), for a timeline.
    pub fn token_times(&self) -> Option<TokenTimes> {
        self.sig.token.get()
    }

    /// The latest successful refreshes, newest first (reactive).
    pub fn recent_refreshes(&self) -> Vec<RefreshRecord> {
        self.sig.refreshes.get()
    }

    /// The latest event worth telling the user, numbered (reactive): for toasts.
    pub fn last_event(&self) -> Option<(u32, SessionEvent)> {
        self.sig.event.get()
    }

    /// Signs in with a password; on success the status becomes `SignedIn` in every tab.
    pub async fn login(&self, request: &LoginRequest) -> Result<(), ApiError> {
        self.engine().await?.login(request).await
    }

    /// Signs out here and in every tab; the server is told now or, if it cannot be
    /// reached, before anything else later.
    pub async fn logout(&self) {
        match self.engine().await {
            Ok(engine) => engine.logout().await,
            // Only while a restore waits for the manager's code: the logout is sent
            // before anything else once it comes, as one made offline is.
            Err(_) => {
                storage::set_pending_logout(true);
                self.sig.user.set(None);
                self.sig.status.set(Status::SignedOut);
            }
        }
    }

    /// Ends every session of the user, on every device.
    pub async fn logout_everywhere(&self) -> Result<(), ApiError> {
        self.engine().await?.logout_everywhere().await
    }

    /// Extends the idle end now ("Stay signed in").
    pub async fn stay_signed_in(&self) -> Result<(), ApiError> {
        self.engine().await?.stay_signed_in().await
    }

    /// `GET` a JSON resource as the signed-in user.
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ApiError> {
        let engine = self.engine().await?;
        http::decode(engine.authorized(Method::Get, path, None).await?.as_deref())
    }

    /// `POST` `body` as JSON as the signed-in user; `T = ()` for `204 No Content`.
    pub async fn post<B, T>(&self, path: &str, body: &B) -> Result<T, ApiError>
    where
        B: Serialize + ?Sized,
        T: DeserializeOwned,
    {
        let json = serde_json::to_string(body).map_err(|e| ApiError::Network(e.to_string()))?;
        let engine = self.engine().await?;
        let answer = engine.authorized(Method::Post, path, Some(&json)).await?;
        http::decode(answer.as_deref())
    }

    /// `DELETE` a resource as the signed-in user (`204 No Content`).
    pub async fn delete(&self, path: &str) -> Result<(), ApiError> {
        let engine = self.engine().await?;
        engine.authorized(Method::Delete, path, None).await?;
        Ok(())
    }
}

/// The window events the session needs, removed with the root. Until the token manager
/// runs there is nothing to check; a visitor's first activity fetches it for the sign-in.
fn listen(loader: &Loader, sig: Signals, ignore_activity_in: Option<&'static str>) {
    // Timers are throttled in hidden tabs and stop during sleep: look again on return.
    let checks = ["visibilitychange", "focus", "pageshow"].map(|event| {
        let loader = loader.clone();
        window_event_listener_untyped(event, move |_| {
            if document().visibility_state() == VisibilityState::Visible
                && let Some(engine) = loader.loaded()
            {
                engine.check();
            }
        })
    });
    let online = {
        let loader = loader.clone();
        window_event_listener_untyped("online", move |_| match loader.loaded() {
            Some(engine) => engine.on_online(),
            // The restore waits for the manager's code: fetch it now.
            None if sig.status.get_untracked() == Status::Reconnecting => loader.prefetch(),
            None => {}
        })
    };
    // Activity: what a person does. Timers and network answers are not activity.
    let activity = ["pointerdown", "keydown", "wheel", "focus"].map(|event| {
        let loader = loader.clone();
        // A click or a key in a signed-out tab is someone about to sign in.
        let signing_in = matches!(event, "pointerdown" | "keydown");
        window_event_listener_untyped(event, move |ev| {
            let ignored = ignore_activity_in.is_some_and(|selector| {
                ev.target()
                    .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
                    .and_then(|el| el.closest(selector).ok().flatten())
                    .is_some()
            });
            match loader.loaded() {
                Some(engine) if !ignored => engine.note_activity(),
                Some(_) => {}
                None if signing_in => loader.prefetch(),
                None => {}
            }
        })
    });
    on_cleanup(move || {
        checks
            .into_iter()
            .chain(activity)
            .chain([online])
            .for_each(WindowListenerHandle::remove);
    });
}

/// Shows `children` only to a signed-in user; anyone else is sent to the login page,
/// which brings them back here afterwards.
#[component]
pub fn RequireSession(children: ChildrenFn) -> impl IntoView {
    let session = use_session();
    let login_path = session.login_path;

    Effect::new(move |_| {
        if session.status() != Status::SignedOut {
            return;
        }
        let location = window().location();
        let path = location.pathname().unwrap_or_default();
        // A deliberate logout already navigated to the login page: nothing to return to.
        if path == login_path {
            return;
        }
        let here = format!(
            "{path}{}{}",
            location.search().unwrap_or_default(),
            location.hash().unwrap_or_default()
        );
        go(&navigation::login_url(login_path, &here), true);
    });

    view! { <Show when=move || session.status() == Status::SignedIn>{children()}</Show> }
}
