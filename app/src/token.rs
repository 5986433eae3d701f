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
//! - Across tabs (see [`crate::tabs`]): one refresh per expiry for the whole browser,
//!   under a Web Lock; the tab that refreshed hands the token to the others over a
//!   `BroadcastChannel` (memory to memory), and login, logout and "session ended" reach
//!   every tab. Tabs that adopted a token refresh a little later than the tab that
//!   fetched it ([`schedule::follower_refresh_delay_ms`]), so that tab normally stays the
//!   one that refreshes.
//! - Activity: every open tab keeps refreshing on schedule, and each refresh slides the
//!   server's idle end, so an open tab counts as activity. Pointer and key activity
//!   (posted to the other tabs at most every 15 s) additionally refreshes at once when
//!   the idle end is inside the "Stay signed in?" window
//!   ([`schedule::SESSION_WARNING_MS`]), in whichever tab sees it; the lock keeps that to
//!   one request.

use std::cell::{Cell, OnceCell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use futures::future::{FutureExt, LocalBoxFuture, Shared};
use leptos::prelude::*;
use leptos::task::spawn_local;
use serde::Serialize;
use serde::de::DeserializeOwned;
use wire::{EndReason, ErrorCode, LoginRequest, TokenResponse};

use crate::api::{self as http, ApiError, Method, Received, now_monotonic_ms};
use crate::schedule::{self, SessionWarning};
use crate::session::{Auth, AuthStatus};
use crate::tabs::{self, Grant, Message, SharedToken, TokenSource};

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
    /// Bumped whenever a token is installed (fetched here or adopted from another tab),
    /// so a refresh that waited for the lock can see that it is no longer needed.
    generation: Cell<u64>,
    /// The channel to the other tabs (unset where `BroadcastChannel` is missing).
    tabs: OnceCell<tabs::Channel>,
    /// When this tab last posted user activity (`Date.now()`).
    activity_posted_ms: Cell<f64>,
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
                generation: Cell::new(0),
                tabs: OnceCell::new(),
                activity_posted_ms: Cell::new(f64::NEG_INFINITY),
            }),
        }
    }

    /// Joins the other tabs of this origin on the auth channel. Call once.
    pub fn connect_tabs(&self) {
        let weak = Rc::downgrade(&self.inner);
        let channel = tabs::Channel::open(move |message| {
            if let Some(inner) = weak.upgrade() {
                TokenManager { inner }.receive(message);
            }
        });
        if let Some(channel) = channel {
            let _ = self.inner.tabs.set(channel);
        }
    }

    /// Start-up: one silent refresh turns the refresh cookie (if any) back into a session.
    /// A tab that another tab can serve (within [`tabs::HELLO_WAIT`]) makes no request.
    pub async fn restore(self) {
        if self.ask_other_tabs().await {
            return;
        }
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
        // Under the refresh lock: another tab's refresh answering after the login would
        // put the old session's cookie back.
        let received = tabs::with_refresh_lock(|_| http::login(request)).await?;
        // Whatever was in flight belonged to the previous session.
        self.forget();
        self.inner.auth.notice.set(None);
        self.accept(received);
        self.publish(TokenSource::Login);
        Ok(())
    }

    /// Ends the session on the server (bearer and cookie) and forgets it here.
    ///
    /// Memory is cleared first, so nothing can use the token while the request runs; the
    /// local sign-out happens even if the server cannot be reached.
    pub async fn logout(&self) {
        let token = self.forget();
        self.post(&Message::LoggedOut);
        // Under the refresh lock: a refresh another tab has on the wire finishes first, so
        // its answer cannot set a cookie after the logout cleared it.
        let result = tabs::with_refresh_lock(|_| http::logout(token.as_deref())).await;
        if let Err(err) = result {
            leptos::logging::warn!("logout: {err}");
        }
        self.end(Some(EndReason::LoggedOut.explain().into()));
    }

    /// `GET` a JSON resource as the signed-in user (see [`Self::authorized`]).
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ApiError> {
        self.authorized(Method::Get, path, None).await
    }

    /// `POST` `body` as JSON as the signed-in user; `T = ()` for `204 No Content`.
    pub async fn post_json<B, T>(&self, path: &str, body: &B) -> Result<T, ApiError>
    where
        B: Serialize + ?Sized,
        T: DeserializeOwned,
    {
        let json = serde_json::to_string(body).map_err(|e| ApiError::Network(e.to_string()))?;
        self.authorized(Method::Post, path, Some(&json)).await
    }

    /// `DELETE` a resource as the signed-in user; the route answers `204 No Content`.
    pub async fn delete(&self, path: &str) -> Result<(), ApiError> {
        self.authorized(Method::Delete, path, None).await
    }

    /// Ends every session of the user on the server, this one included, then here.
    /// On failure nothing changes locally and the error says why.
    pub async fn logout_everywhere(&self) -> Result<(), ApiError> {
        self.authorized::<()>(Method::Post, http::LOGOUT_ALL, None)
            .await?;
        let notice = "You signed out on every device.".to_owned();
        // The other tabs share this session's cookie: they are signed out too.
        self.post(&Message::SessionEnded {
            reason: None,
            notice: Some(notice.clone()),
        });
        self.end(Some(notice));
        Ok(())
    }

    /// Every request as the signed-in user goes through here.
    ///
    /// Refreshes first when the token is inside its margin; on `401 token_expired`
    /// (a throttled timer, a sleeping laptop, a server whose clock runs ahead) refreshes
    /// once and retries exactly once. Other 401s end the session, except
    /// `invalid_credentials`: that is a re-entered password that was wrong (changing the
    /// password), not a verdict on the session.
    async fn authorized<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        json_body: Option<&str>,
    ) -> Result<T, ApiError> {
        let epoch = self.inner.epoch.get();
        let sent = self.fresh_token().await?;
        let first = http::bearer_json::<T>(method, path, json_body, &sent).await;
        let result = match first {
            Err(err) if err.code() == Some(ErrorCode::TokenExpired) => {
                // If another caller refreshed while this request was on the wire, the
                // new token is already here; refreshing again would waste a rotation.
                if self.current_token().as_deref() == Some(sent.as_str()) {
                    self.refresh().await?;
                }
                let token = self.current_token().ok_or(ApiError::SignedOut)?;
                http::bearer_json::<T>(method, path, json_body, &token).await
            }
            other => other,
        };
        // A late answer for a session that has since been dropped (a logout, a new
        // login) must not end the one the user has now.
        if let Err(err) = &result
            && err.is_unauthorized()
            && !matches!(
                err.code(),
                Some(ErrorCode::TokenExpired | ErrorCode::InvalidCredentials)
            )
            && self.inner.epoch.get() == epoch
        {
            self.end_everywhere(err, session_end_notice(err, false));
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
        let generation = self.inner.generation.get();
        let future =
            tabs::with_refresh_lock(move |grant| this.refresh_locked(grant, epoch, generation))
                .boxed_local()
                .shared();
        *self.inner.in_flight.borrow_mut() = Some(future.clone());
        // Drive it to the end even if every caller stops waiting, so `in_flight` clears.
        spawn_local(future.clone().map(|_| ()));
        future
    }

    /// The refresh proper, while this tab holds the cross-tab lock. `epoch` and
    /// `generation` are from when the refresh was decided.
    async fn refresh_locked(
        self,
        grant: Grant,
        epoch: u64,
        generation: u64,
    ) -> Result<(), ApiError> {
        if grant == Grant::AfterWait {
            // The tab that held the lock has most likely just refreshed, and its token is
            // on the way (posted before it let go, but channel and lock are not ordered).
            self.wait_for_token(epoch, generation, tabs::HANDOFF_WAIT)
                .await;
        }
        if self.inner.epoch.get() != epoch {
            // Logged out (or in again) meanwhile; `forget` already let go of this future.
            return Err(ApiError::SignedOut);
        }
        // Another tab published a token since this refresh was decided: use it.
        let adopted = self.inner.generation.get() != generation
            && self
                .inner
                .token
                .borrow()
                .as_ref()
                .is_some_and(|held| !held.is_stale());
        if adopted {
            self.inner.in_flight.borrow_mut().take();
            return Ok(());
        }
        let result = http::refresh().await;
        if self.inner.epoch.get() != epoch {
            // Logged out (or in again) while this was on the wire; `forget` already
            // let go of this future, and a newer one may be in flight.
            return Err(ApiError::SignedOut);
        }
        self.inner.in_flight.borrow_mut().take();
        match result {
            Ok(received) => {
                self.accept(received);
                // Still holding the lock: a tab waiting for it finds this token first.
                self.publish(TokenSource::Refresh);
                Ok(())
            }
            Err(err) => {
                if err.is_unauthorized() {
                    let restoring = self.inner.auth.status.get_untracked() == AuthStatus::Restoring;
                    let notice = session_end_notice(&err, restoring);
                    // No notice: a visitor without a session, nothing for other tabs.
                    if notice.is_some() {
                        self.end_everywhere(&err, notice);
                    } else {
                        self.end(notice);
                    }
                }
                Err(err)
            }
        }
    }

    /// Waits up to `limit` for a token from another tab (or a sign-out).
    async fn wait_for_token(&self, epoch: u64, generation: u64, limit: Duration) {
        const STEP: Duration = Duration::from_millis(20);
        let mut waited = Duration::ZERO;
        while waited < limit
            && self.inner.generation.get() == generation
            && self.inner.epoch.get() == epoch
        {
            tabs::sleep(STEP).await;
            waited += STEP;
        }
    }

    /// A new tab asks the others for their token; true if that settled the start-up
    /// (a token was adopted, or a sign-out arrived meanwhile).
    async fn ask_other_tabs(&self) -> bool {
        if self.inner.tabs.get().is_none() {
            return false;
        }
        self.post(&Message::Hello);
        let (epoch, generation) = (self.inner.epoch.get(), self.inner.generation.get());
        self.wait_for_token(epoch, generation, tabs::HELLO_WAIT)
            .await;
        self.inner.auth.status.get_untracked() != AuthStatus::Restoring
    }

    /// "Stay signed in": refreshes now, which slides the session's idle end (for every
    /// tab: the new token is handed over).
    pub async fn stay_signed_in(&self) -> Result<(), ApiError> {
        self.refresh().await
    }

    /// Pointer or key activity in this tab: posted to the others (throttled), and a
    /// refresh if the idle end is near.
    pub fn note_activity(&self) {
        let now = js_sys::Date::now();
        if now - self.inner.activity_posted_ms.get() >= tabs::ACTIVITY_THROTTLE_MS {
            self.inner.activity_posted_ms.set(now);
            self.post(&Message::Activity);
        }
        self.on_activity();
    }

    /// Activity here or in another tab: inside the warning window before the idle end, a
    /// refresh slides it (the lock and the hand-over keep that to one request).
    fn on_activity(&self) {
        if self.session_warning() == Some(SessionWarning::StaySignedIn) {
            spawn_local(self.clone().background_refresh());
        }
    }

    /// What the "Stay signed in?" dialog should offer right now, if anything.
    pub fn session_warning(&self) -> Option<SessionWarning> {
        let auth = self.inner.auth;
        if auth.status.get_untracked() != AuthStatus::SignedIn {
            return None;
        }
        let offset = auth.clock_offset_ms.get_untracked();
        auth.session.with_untracked(|session| {
            let s = session.as_ref()?;
            schedule::session_warning(
                js_sys::Date::now(),
                schedule::local_time_ms(s.idle_expires_at, offset),
                schedule::local_time_ms(s.absolute_expires_at, offset),
            )
        })
    }

    /// Handles a message from another tab.
    fn receive(&self, message: Message) {
        match message {
            Message::Token(shared) => self.adopt(shared),
            Message::Hello => {
                if let Some(shared) = self.shared_token(TokenSource::Reply) {
                    self.post(&Message::Token(shared));
                }
            }
            Message::LoggedOut => {
                if self.inner.auth.status.get_untracked() != AuthStatus::SignedOut {
                    self.end(Some(EndReason::LoggedOut.explain().into()));
                }
            }
            Message::SessionEnded { reason, notice } => {
                if self.inner.auth.status.get_untracked() != AuthStatus::SignedOut {
                    let notice = notice.or_else(|| reason.map(|r| r.explain().into()));
                    self.end(notice);
                }
            }
            Message::Activity => self.on_activity(),
        }
    }

    /// Takes a token another tab fetched, if it is newer than ours.
    fn adopt(&self, shared: SharedToken) {
        let ours = self.inner.token.borrow().as_ref().map(|held| {
            (
                held.value == shared.access_token,
                held.ttl_ms - held.age_ms(),
            )
        });
        if ours.as_ref().is_some_and(|(same, _)| *same)
            || !tabs::should_adopt(shared.source, shared.left_ms(), ours.map(|(_, left)| left))
        {
            return;
        }
        if shared.source == TokenSource::Login
            || self.inner.auth.status.get_untracked() != AuthStatus::SignedIn
        {
            // A new session: whatever was in flight belonged to the previous one, and a
            // notice about how that one ended no longer applies.
            self.forget();
            self.inner.auth.notice.set(None);
        }
        let (monotonic_now, wall_now) = (now_monotonic_ms(), js_sys::Date::now());
        let held = Held {
            value: shared.access_token,
            monotonic_ms: monotonic_now - shared.age_ms,
            wall_ms: wall_now - shared.age_ms,
            ttl_ms: shared.ttl_ms,
            refresh_after_ms: schedule::follower_refresh_delay_ms(
                shared.ttl_ms,
                js_sys::Math::random(),
            ),
        };
        self.install(held, shared.clock_offset_ms, shared.user, shared.session);
    }

    /// The token as another tab can use it, unless there is none or it has expired.
    fn shared_token(&self, source: TokenSource) -> Option<SharedToken> {
        let auth = self.inner.auth;
        if auth.status.get_untracked() != AuthStatus::SignedIn {
            return None;
        }
        let token = self.inner.token.borrow();
        let held = token.as_ref().filter(|held| !held.is_expired())?;
        Some(SharedToken {
            source,
            access_token: held.value.clone(),
            ttl_ms: held.ttl_ms,
            age_ms: held.age_ms(),
            clock_offset_ms: auth.clock_offset_ms.get_untracked(),
            session: auth.session.get_untracked()?,
            user: auth.user.get_untracked()?,
        })
    }

    /// Hands the token just fetched to the other tabs.
    fn publish(&self, source: TokenSource) {
        if let Some(shared) = self.shared_token(source) {
            self.post(&Message::Token(shared));
        }
    }

    fn post(&self, message: &Message) {
        if let Some(channel) = self.inner.tabs.get() {
            channel.post(message);
        }
    }

    /// Signs out here and in every other tab: the session is over on the server.
    fn end_everywhere(&self, err: &ApiError, notice: Option<String>) {
        let reason = match err {
            ApiError::Http { reason, .. } => *reason,
            _ => None,
        };
        self.post(&Message::SessionEnded {
            reason,
            notice: notice.clone(),
        });
        self.end(notice);
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
        let offset_ms = schedule::clock_offset_ms(server_date_ms, wall_ms);
        self.install(held, offset_ms, body.user, body.session);
    }

    /// Installs a token (fetched here or adopted): memory, timer and the session signals.
    fn install(
        &self,
        held: Held,
        clock_offset_ms: f64,
        user: wire::User,
        session: wire::SessionInfo,
    ) {
        let delay_ms = held.refresh_after_ms - held.age_ms();
        *self.inner.token.borrow_mut() = Some(held);
        self.inner
            .generation
            .set(self.inner.generation.get().wrapping_add(1));
        self.inner.failures.set(0);
        self.schedule(delay_ms);

        let auth = self.inner.auth;
        auth.clock_offset_ms.set(clock_offset_ms);
        // Set only on change: a refresh every few seconds should not re-render pages.
        if auth.user.with_untracked(|u| u.as_ref() != Some(&user)) {
            auth.user.set(Some(user));
        }
        if auth
            .session
            .with_untracked(|s| s.as_ref() != Some(&session))
        {
            auth.session.set(Some(session));
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
    manager.connect_tabs();
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
