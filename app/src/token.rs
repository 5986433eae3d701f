//! The token manager: the only code that holds, refreshes or attaches an access token.
//!
//! - The access token lives in this struct's memory only: never localStorage, never a
//!   cookie, so an injected script finds nothing to steal at rest and a reload starts from
//!   the HttpOnly refresh cookie (one silent refresh, [`TokenManager::restore`]).
//! - Expiry is measured from the server's `expires_in` on our own clocks, anchored when the
//!   response arrived, so a client whose wall clock is minutes off changes nothing.
//! - A timer refreshes proactively a margin (plus jitter) before expiry, and every use
//!   checks freshness again, because browsers throttle timers in hidden tabs and stop them
//!   during sleep.
//! - Single flight: while a refresh is on the wire every caller awaits that same future.
//!   Two concurrent `POST /refresh` from one tab would present one cookie twice and look
//!   like token theft to the server.
//! - A 401 that a refresh cannot mend ends the session here, once, with a sentence for
//!   the user in [`Auth::notice`].

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use api::{EndReason, ErrorCode, LoginRequest, TokenResponse};
use futures::future::{FutureExt, LocalBoxFuture, Shared};
use leptos::prelude::*;
use leptos::task::spawn_local;
use serde::de::DeserializeOwned;

use crate::api::{self as http, ApiError, Received, now_monotonic_ms};
use crate::schedule;
use crate::session::{Auth, AuthStatus};

type RefreshFuture = Shared<LocalBoxFuture<'static, Result<(), ApiError>>>;

/// The access token and the moment it arrived, on both clocks.
struct Held {
    value: String,
    monotonic_ms: f64,
    wall_ms: f64,
    ttl_ms: f64,
    /// Age at which the timer refreshes it (lifetime − margin − jitter).
    refresh_after_ms: f64,
}

impl Held {
    fn age_ms(&self) -> f64 {
        schedule::elapsed_ms(
            now_monotonic_ms() - self.monotonic_ms,
            js_sys::Date::now() - self.wall_ms,
        )
    }

    fn is_stale(&self) -> bool {
        schedule::needs_refresh(self.ttl_ms, self.age_ms())
    }

    fn is_expired(&self) -> bool {
        self.age_ms() >= self.ttl_ms
    }
}

struct Inner {
    auth: Auth,
    token: RefCell<Option<Held>>,
    timer: Cell<Option<TimeoutHandle>>,
    in_flight: RefCell<Option<RefreshFuture>>,
    /// Bumped whenever the session is dropped, so a refresh answer that arrives after a
    /// logout cannot bring the old session back.
    epoch: Cell<u64>,
    /// Background refresh failures in a row (drives backoff and the circuit breaker).
    failures: Cell<u32>,
}

/// Handle to the tab's token manager; clones share one state.
#[derive(Clone)]
pub struct TokenManager {
    inner: Rc<Inner>,
}

impl TokenManager {
    /// A manager with no token yet, writing its state to `auth`.
    pub fn new(auth: Auth) -> Self {
        Self {
            inner: Rc::new(Inner {
                auth,
                token: RefCell::new(None),
                timer: Cell::new(None),
                in_flight: RefCell::new(None),
                epoch: Cell::new(0),
                failures: Cell::new(0),
            }),
        }
    }

    /// Start-up: one silent refresh turns the refresh cookie (if any) back into a session.
    pub async fn restore(self) {
        match self.refresh().await {
            Ok(()) => {}
            // `refresh` has already signed out, with the reason if there was one.
            Err(err) if err.is_unauthorized() => {}
            Err(ApiError::SignedOut) => {}
            Err(err) => {
                let notice = if err.code() == Some(ErrorCode::RateLimited) {
                    "Too many sign-in attempts right now. Please try again in a moment."
                } else {
                    "Could not reach the server to restore your session. Please sign in again."
                };
                leptos::logging::warn!("restoring the session failed: {err}");
                self.end(Some(notice.into()));
            }
        }
    }

    /// Signs in with a password; on success the session state becomes `SignedIn`.
    pub async fn login(&self, request: &LoginRequest) -> Result<(), ApiError> {
        let received = http::login(request).await?;
        // Whatever was in flight belonged to the previous session.
        self.forget();
        self.inner.auth.notice.set(None);
        self.accept(received);
        Ok(())
    }

    /// Ends the session on the server (bearer and cookie) and forgets it here.
    ///
    /// Memory is cleared first, so nothing can use the token while the request runs; the
    /// local sign-out happens even if the server cannot be reached.
    pub async fn logout(&self) {
        let token = self.forget();
        if let Err(err) = http::logout(token.as_deref()).await {
            leptos::logging::warn!("logout: {err}");
        }
        self.end(Some(EndReason::LoggedOut.explain().into()));
    }

    /// `GET` a JSON resource as the signed-in user.
    ///
    /// Refreshes first when the token is inside its margin; on `401 token_expired`
    /// (a throttled timer, a sleeping laptop, a server whose clock runs ahead) refreshes
    /// once and retries exactly once. Other 401s end the session.
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ApiError> {
        let epoch = self.inner.epoch.get();
        let sent = self.fresh_token().await?;
        let first = http::get_json::<T>(path, &sent).await;
        let result = match first {
            Err(err) if err.code() == Some(ErrorCode::TokenExpired) => {
                // If another caller refreshed while this request was on the wire, the
                // new token is already here; refreshing again would waste a rotation.
                if self.current_token().as_deref() == Some(sent.as_str()) {
                    self.refresh().await?;
                }
                let token = self.current_token().ok_or(ApiError::SignedOut)?;
                http::get_json::<T>(path, &token).await
            }
            other => other,
        };
        // A late answer for a session that has since been dropped (a logout, a new
        // login) must not end the one the user has now.
        if let Err(err) = &result
            && err.is_unauthorized()
            && err.code() != Some(ErrorCode::TokenExpired)
            && self.inner.epoch.get() == epoch
        {
            self.end(session_end_notice(err, false));
        }
        result
    }

    /// Re-checks freshness now. Called when the page becomes visible, gains focus or comes
    /// back online: a timer may have been throttled or stopped meanwhile.
    pub fn check(&self) {
        let state = self
            .inner
            .token
            .borrow()
            .as_ref()
            .map(|held| (held.is_stale(), held.refresh_after_ms - held.age_ms()));
        match state {
            None => {}
            Some((true, _)) => {
                // The user is back: close the breaker and try at once.
                self.inner.failures.set(0);
                spawn_local(self.clone().background_refresh());
            }
            // Re-arm from the clocks rather than trusting the old timer.
            Some((false, remaining_ms)) => self.schedule(remaining_ms),
        }
    }

    /// The current token, refreshed first if it is inside its margin.
    async fn fresh_token(&self) -> Result<String, ApiError> {
        let stale = match self.inner.token.borrow().as_ref() {
            None => return Err(ApiError::SignedOut),
            Some(held) => held.is_stale(),
        };
        if stale && let Err(err) = self.refresh().await {
            // Inside the margin the old token still works: a blip in the network
            // should not fail a call that can still succeed.
            let usable = self
                .inner
                .token
                .borrow()
                .as_ref()
                .is_some_and(|held| !held.is_expired());
            if !(err.is_transient() && usable) {
                return Err(err);
            }
        }
        self.current_token().ok_or(ApiError::SignedOut)
    }

    fn current_token(&self) -> Option<String> {
        self.inner
            .token
            .borrow()
            .as_ref()
            .map(|held| held.value.clone())
    }

    /// The refresh in flight, or a new one: never two `POST /refresh` at once.
    fn refresh(&self) -> RefreshFuture {
        if let Some(in_flight) = self.inner.in_flight.borrow().as_ref() {
            return in_flight.clone();
        }
        let this = self.clone();
        let epoch = self.inner.epoch.get();
        let future = async move {
            let result = http::refresh().await;
            if this.inner.epoch.get() != epoch {
                // Logged out (or in again) while this was on the wire; `forget` already
                // let go of this future, and a newer one may be in flight.
                return Err(ApiError::SignedOut);
            }
            this.inner.in_flight.borrow_mut().take();
            match result {
                Ok(received) => {
                    this.accept(received);
                    Ok(())
                }
                Err(err) => {
                    if err.is_unauthorized() {
                        let restoring =
                            this.inner.auth.status.get_untracked() == AuthStatus::Restoring;
                        this.end(session_end_notice(&err, restoring));
                    }
                    Err(err)
                }
            }
        }
        .boxed_local()
        .shared();
        *self.inner.in_flight.borrow_mut() = Some(future.clone());
        // Drive it to the end even if every caller stops waiting, so `in_flight` clears.
        spawn_local(future.clone().map(|_| ()));
        future
    }

    /// Timer-driven refresh: transient failures back off, and after a few the breaker
    /// opens until [`Self::check`] or a use tries again.
    async fn background_refresh(self) {
        // Success re-armed the timer; a final failure already ended the session.
        let Err(err) = self.refresh().await else {
            return;
        };
        if !err.is_transient() {
            return;
        }
        let failures = self.inner.failures.get().saturating_add(1);
        self.inner.failures.set(failures);
        let signed_in = self.inner.token.borrow().is_some();
        if signed_in && failures < schedule::BREAKER_THRESHOLD {
            let retry_after = match &err {
                ApiError::Http { retry_after, .. } => *retry_after,
                _ => None,
            };
            self.schedule(schedule::backoff_ms(failures, retry_after));
        }
    }

    /// Takes a fresh token body: memory, timer and the session signals.
    fn accept(&self, received: Received<TokenResponse>) {
        let Received {
            body,
            monotonic_ms,
            wall_ms,
            server_date_ms,
        } = received;
        let ttl_ms = body.expires_in as f64 * 1_000.0;
        let held = Held {
            value: body.access_token,
            monotonic_ms,
            wall_ms,
            ttl_ms,
            refresh_after_ms: schedule::refresh_delay_ms(ttl_ms, js_sys::Math::random()),
        };
        let delay_ms = held.refresh_after_ms - held.age_ms();
        *self.inner.token.borrow_mut() = Some(held);
        self.inner.failures.set(0);
        self.schedule(delay_ms);

        let auth = self.inner.auth;
        auth.clock_offset_ms
            .set(schedule::clock_offset_ms(server_date_ms, wall_ms));
        // Set only on change: a refresh every few seconds should not re-render pages.
        if auth.user.with_untracked(|u| u.as_ref() != Some(&body.user)) {
            auth.user.set(Some(body.user));
        }
        if auth
            .session
            .with_untracked(|s| s.as_ref() != Some(&body.session))
        {
            auth.session.set(Some(body.session));
        }
        if auth.status.get_untracked() != AuthStatus::SignedIn {
            auth.status.set(AuthStatus::SignedIn);
        }
    }

    /// Arms the refresh timer, always clearing the previous one first.
    fn schedule(&self, delay_ms: f64) {
        if let Some(handle) = self.inner.timer.take() {
            handle.clear();
        }
        // setTimeout fires at once for delays beyond 2^31 − 1 ms: clamp.
        let delay = Duration::from_millis(delay_ms.clamp(0.0, f64::from(i32::MAX)) as u64);
        let this = self.clone();
        let armed = set_timeout_with_handle(
            move || {
                this.inner.timer.set(None);
                spawn_local(this.clone().background_refresh());
            },
            delay,
        );
        if let Ok(handle) = armed {
            self.inner.timer.set(Some(handle));
        }
    }

    /// Drops the token and its timer, and invalidates any refresh in flight.
    fn forget(&self) -> Option<String> {
        if let Some(handle) = self.inner.timer.take() {
            handle.clear();
        }
        self.inner.epoch.set(self.inner.epoch.get().wrapping_add(1));
        self.inner.in_flight.borrow_mut().take();
        self.inner.failures.set(0);
        self.inner.token.borrow_mut().take().map(|held| held.value)
    }

    /// Signs out locally, telling the user why (if there is something to tell).
    fn end(&self, notice: Option<String>) {
        self.forget();
        let auth = self.inner.auth;
        auth.user.set(None);
        auth.session.set(None);
        auth.notice.set(notice);
        auth.status.set(AuthStatus::SignedOut);
    }
}

/// What to tell a user whose session a 401 just ended. Nothing when a start-up restore
/// finds no (usable) cookie: that is simply a visitor who is not signed in.
fn session_end_notice(err: &ApiError, restoring: bool) -> Option<String> {
    let ApiError::Http { code, reason, .. } = err else {
        return None;
    };
    if let Some(reason) = reason {
        return Some(reason.explain().into());
    }
    let text = match code {
        ErrorCode::RefreshMissing | ErrorCode::RefreshInvalid if restoring => return None,
        ErrorCode::RefreshExpired => "Your session expired. Please sign in again.",
        ErrorCode::RefreshReused => EndReason::ReuseDetected.explain(),
        ErrorCode::SessionRevoked | ErrorCode::TokenRevoked => {
            "Your session was ended. Please sign in again."
        }
        _ => "Your session ended. Please sign in again.",
    };
    Some(text.into())
}

/// Installs the manager for the app below the current owner; call once at the root.
pub fn provide_token_manager(auth: Auth) -> TokenManager {
    let manager = TokenManager::new(auth);
    // The manager is `Rc`-based (single-threaded WASM); contexts want `Send + Sync`, which
    // a local `StoredValue` handle is.
    provide_context(StoredValue::new_local(manager.clone()));
    manager
}

/// The tab's token manager.
pub fn use_tokens() -> TokenManager {
    use_context::<StoredValue<TokenManager, LocalStorage>>()
        .expect("the token manager is provided at the root of the app")
        .get_value()
}
