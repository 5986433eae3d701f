//! The token manager: the only code that holds, refreshes or attaches an access token.
//!
//! - **Memory only.** The access token lives in this struct: never storage, never a cookie.
//!   A reload starts from the HttpOnly refresh cookie (one silent refresh), and only when
//!   the server's non-secret hint cookie says there is one.
//! - **Expiry on our clocks.** Measured from the server's `expires_in`, anchored when the
//!   response arrived; session ends are placed on a monotonic estimate of the server's
//!   clock ([`crate::clock`]), so a wall clock that is off or jumps changes nothing.
//! - **Idle means the user is idle.** A refresh says whether the user did something
//!   (pointer, key, focus, in any tab) since the last one; only then does the server slide
//!   the idle end. A token the server cut to a session end is not refreshed unless that
//!   can help ([`schedule::refresh_helps`]): at the absolute end never, at the idle end
//!   only for an active user. At a locally computed end, the server is asked
//!   (`GET /api/auth/session`) before the tab acts.
//! - **Resilience.** One refresh in flight per tab and one per browser (a Web Lock, waited
//!   for well inside the server's grace period); every refresh passes the browser-wide
//!   gate ([`crate::gate`]); requests abort after a few seconds; a start-up restore that
//!   cannot reach the server says "Reconnecting…" and retries instead of signing out; a
//!   logout made offline is remembered and sent before anything else.
//! - **Tabs.** The tab that refreshed hands the token to the others over a
//!   `BroadcastChannel`; login, logout, session ends and activity reach every tab.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use futures::future::{FutureExt, LocalBoxFuture, Shared};
use gloo_timers::callback::{Interval, Timeout};
use leptos::prelude::*;
use leptos::task::spawn_local;
use wire::{EndReason, ErrorCode, LoginRequest, SessionInfo, TokenResponse, User};

use crate::clock::{self, ServerClock};
use crate::engine::{Engine, Setup};
use crate::gate;
use crate::http::{self, ApiError, Method, Received, Routes, now_monotonic_ms};
use crate::schedule::{self, Cap, SessionWarning};
use crate::state::{RefreshBy, RefreshRecord, SessionEvent, Signals, Status, TokenTimes};
use crate::storage;
use crate::tabs::{self, Grant, Message, SharedToken, TokenSource};

type RefreshFuture = Shared<LocalBoxFuture<'static, Result<(), ApiError>>>;

/// Login runs Argon2 on the server: it may take a moment under load.
const LOGIN_TIMEOUT: Duration = Duration::from_secs(15);
/// Activity refreshes (near the idle end) at most this often per tab.
const ACTIVITY_REFRESH_EVERY_MS: f64 = 2_000.0;
/// How often the tab looks at its clocks (countdown, session end, sleep).
const TICK: Duration = Duration::from_secs(1);
/// How long an offline tab waits before looking again, if no `online` event comes first.
const OFFLINE_RETRY_MS: f64 = 30_000.0;

/// The access token and the moment it arrived, on both clocks.
struct Held {
    value: String,
    monotonic_ms: f64,
    wall_ms: f64,
    ttl_ms: f64,
    /// Age at which the timer refreshes it (lifetime − margin − jitter).
    refresh_after_ms: f64,
    /// `exp` (server Unix seconds).
    expires_at: i64,
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
    sig: Signals,
    routes: Routes,
    tab_id: String,
    token: RefCell<Option<Held>>,
    /// The proactive refresh, or the retry after a failure.
    timer: RefCell<Option<Timeout>>,
    /// The start-up restore's retry while reconnecting.
    restore_timer: RefCell<Option<Timeout>>,
    in_flight: RefCell<Option<RefreshFuture>>,
    /// Bumped whenever the session is dropped, so a late answer cannot bring it back.
    epoch: Cell<u64>,
    /// Bumped whenever a token is installed (fetched here or adopted).
    generation: Cell<u64>,
    /// The other tabs (none where `BroadcastChannel` is missing).
    tabs: Option<tabs::Sender>,
    clock: Cell<ServerClock>,
    grace_secs: Cell<u64>,
    /// The user did something (in any tab) since the last refresh that reported activity.
    /// A flag, not a time: a wall clock that is set back must not hide activity.
    activity_pending: Cell<bool>,
    /// Wall-clock time the last refresh was sent (for the timeline).
    last_refresh_sent_ms: Cell<f64>,
    /// Wall-clock time of the last activity here (sent to the other tabs).
    last_activity_ms: Cell<f64>,
    activity_posted_ms: Cell<f64>,
    activity_trailing: RefCell<Option<Timeout>>,
    activity_refresh_ms: Cell<f64>,
    confirming: Cell<bool>,
    next_end_check_mono_ms: Cell<f64>,
    last_tick: Cell<(f64, f64)>,
    ticker: RefCell<Option<Interval>>,
    /// Fires just after the session's end as computed here, to ask the server then
    /// rather than at the next tick (the tick stays as the fallback).
    end_timer: RefCell<Option<Timeout>>,
    presence: RefCell<Option<tabs::Held>>,
    warned_absolute_end: Cell<i64>,
}

/// Handle to the tab's token manager; clones share one state.
#[derive(Clone)]
pub(crate) struct Manager {
    inner: Rc<Inner>,
}

impl Manager {
    pub fn new(setup: Setup) -> Self {
        let Setup {
            sig,
            api_base,
            sender,
        } = setup;
        let tab_id = format!("{:04x}", (js_sys::Math::random() * 65_536.0) as u32);
        let clock = ServerClock::anchor(None, js_sys::Date::now(), now_monotonic_ms());
        Self {
            inner: Rc::new(Inner {
                sig,
                routes: Routes::new(api_base),
                tab_id,
                token: RefCell::new(None),
                timer: RefCell::new(None),
                restore_timer: RefCell::new(None),
                in_flight: RefCell::new(None),
                epoch: Cell::new(0),
                generation: Cell::new(0),
                tabs: sender,
                clock: Cell::new(clock),
                grace_secs: Cell::new(schedule::DEFAULT_GRACE_SECS),
                // A page load is the user at work.
                activity_pending: Cell::new(true),
                last_refresh_sent_ms: Cell::new(f64::NEG_INFINITY),
                last_activity_ms: Cell::new(js_sys::Date::now()),
                activity_posted_ms: Cell::new(f64::NEG_INFINITY),
                activity_trailing: RefCell::new(None),
                activity_refresh_ms: Cell::new(f64::NEG_INFINITY),
                confirming: Cell::new(false),
                next_end_check_mono_ms: Cell::new(0.0),
                last_tick: Cell::new((now_monotonic_ms(), js_sys::Date::now())),
                ticker: RefCell::new(None),
                end_timer: RefCell::new(None),
                presence: RefCell::new(None),
                warned_absolute_end: Cell::new(0),
            }),
        }
    }

    fn sig(&self) -> Signals {
        self.inner.sig
    }

    fn lock_wait(&self) -> Duration {
        Duration::from_millis(schedule::lock_wait_ms(self.inner.grace_secs.get()) as u64)
    }

    fn request_timeout(&self) -> Duration {
        Duration::from_millis(schedule::request_timeout_ms(self.inner.grace_secs.get()) as u64)
    }

    /// Starts the clock tick, joins the other tabs (the presence lock) and, with
    /// `restore`, runs the start-up restore. Call once.
    fn start_up(&self, restore: bool) {
        let weak = Rc::downgrade(&self.inner);
        let ticker = Interval::new(TICK.as_millis() as u32, move || {
            if let Some(inner) = weak.upgrade() {
                Manager { inner }.tick();
            }
        });
        *self.inner.ticker.borrow_mut() = Some(ticker);
        let this = self.clone();
        spawn_local(async move {
            // Asked before this tab joins: is anyone else there to hand us a token?
            let others = restore && tabs::another_tab_exists().await;
            *this.inner.presence.borrow_mut() = tabs::hold_presence().await;
            if restore {
                this.restore(others).await;
            }
        });
    }

    // ----- start-up ---------------------------------------------------------------

    /// Turns the refresh cookie (if any) back into a session, unless a logout is pending.
    async fn restore(&self, others: bool) {
        let sig = self.sig();
        // Settled already: signed in by now (another tab's token, a sign-in here) while
        // the tab coordination was answering.
        if sig.status.get_untracked() != Status::Restoring {
            return;
        }
        if storage::pending_logout() {
            // The user signed out while offline: that comes first, and nothing is restored.
            self.send_pending_logout().await;
            self.end_quietly(None);
            return;
        }
        if !storage::has_session_hint() {
            // A signed-out visitor: no request that can only fail.
            self.end_quietly(None);
            return;
        }
        if others && self.inner.tabs.is_some() && self.ask_other_tabs().await {
            return;
        }
        if sig.status.get_untracked() == Status::Restoring {
            self.restore_by_refresh().await;
        }
    }

    async fn restore_by_refresh(&self) {
        let sig = self.sig();
        if !restoring(sig.status.get_untracked()) {
            return;
        }
        match self.refresh(true).await {
            Ok(()) => {}
            Err(err) if err.is_transient() => {
                if sig.status.get_untracked() == Status::Restoring {
                    sig.status.set(Status::Reconnecting);
                    sig.emit(SessionEvent::Reconnecting);
                }
                let until = match err {
                    ApiError::Deferred { until_ms } => until_ms,
                    _ => gate::load().until_ms,
                };
                let delay = (until - js_sys::Date::now()).clamp(200.0, OFFLINE_RETRY_MS);
                let this = self.clone();
                *self.inner.restore_timer.borrow_mut() =
                    Some(Timeout::new(delay as u32, move || {
                        spawn_local(async move { this.restore_by_refresh().await });
                    }));
            }
            // A 401 already signed out (quietly, or with the server's reason).
            Err(err) if err.is_unauthorized() => {}
            Err(ApiError::SignedOut) => {}
            Err(err) => {
                leptos::logging::warn!("restoring the session failed: {err}");
                self.end(Some(err.to_string()));
            }
        }
    }

    /// A new tab asks the others for their token; true if that settled the start-up.
    async fn ask_other_tabs(&self) -> bool {
        self.post(&Message::Hello);
        let (epoch, generation) = (self.inner.epoch.get(), self.inner.generation.get());
        self.wait_for_token(epoch, generation, tabs::HELLO_WAIT)
            .await;
        self.sig().status.get_untracked() != Status::Restoring
    }

    async fn send_pending_logout(&self) {
        let result = self.inner.routes.logout(None, self.request_timeout()).await;
        match result {
            Err(err) if err.is_transient() => {}
            // Done, or nothing left to end (a 401: no live session behind the cookie).
            _ => storage::set_pending_logout(false),
        }
    }

    // ----- what the app calls -------------------------------------------------------

    /// Signs in with a password; on success the status becomes `SignedIn` in every tab.
    pub async fn login(&self, request: &LoginRequest) -> Result<(), ApiError> {
        if storage::pending_logout() {
            self.send_pending_logout().await;
        }
        let routes = &self.inner.routes;
        let received =
            tabs::with_refresh_lock(self.lock_wait(), |_| routes.login(request, LOGIN_TIMEOUT))
                .await?;
        self.forget();
        gate::clear();
        self.sig().notice.set(None);
        self.inner.last_refresh_sent_ms.set(js_sys::Date::now());
        self.inner.activity_pending.set(false);
        self.accept(received, true);
        self.publish(TokenSource::Login, true);
        Ok(())
    }

    /// Ends the session on the server (bearer and cookie) and forgets it here. The local
    /// sign-out happens at once; if the server cannot be reached the logout is remembered
    /// and sent before anything else, so a reload cannot bring the session back.
    pub async fn logout(&self) {
        let token = self.forget();
        self.post(&Message::LoggedOut);
        // Under the refresh lock: a refresh another tab has on the wire finishes first, so
        // its answer cannot set a cookie after the logout cleared it.
        let routes = &self.inner.routes;
        let timeout = self.request_timeout();
        let result = tabs::with_refresh_lock(self.lock_wait(), |_| {
            routes.logout(token.as_deref(), timeout)
        })
        .await;
        match result {
            Err(err) if err.is_transient() => {
                storage::set_pending_logout(true);
                self.sig().emit(SessionEvent::LogoutPending);
            }
            _ => storage::set_pending_logout(false),
        }
        self.end(Some(EndReason::LoggedOut.explain().into()));
    }

    /// Ends every session of the user on the server, then here and in the other tabs.
    pub async fn logout_everywhere(&self) -> Result<(), ApiError> {
        self.authorized(Method::Post, "/api/auth/logout-all", None)
            .await?;
        let notice = "You signed out on every device.".to_owned();
        self.post(&Message::SessionEnded {
            reason: None,
            notice: Some(notice.clone()),
        });
        self.end(Some(notice));
        Ok(())
    }

    /// "Stay signed in": a refresh that reports activity, which slides the idle end.
    pub async fn stay_signed_in(&self) -> Result<(), ApiError> {
        self.inner.activity_pending.set(true);
        self.refresh(true).await
    }

    /// Every request as the signed-in user goes through here.
    ///
    /// Refreshes first when the token is inside its margin (and a refresh can help); on
    /// `401 token_expired` refreshes once and retries exactly once. Other 401s end the
    /// session, except `invalid_credentials`: a re-entered password that was wrong.
    /// Not generic (the callers decode the text): one copy of this state machine.
    pub async fn authorized(
        &self,
        method: Method,
        path: &str,
        json_body: Option<&str>,
    ) -> Result<Option<String>, ApiError> {
        let epoch = self.inner.epoch.get();
        let sent = self.fresh_token().await?;
        let first = http::bearer_text(method, path, json_body, &sent).await;
        let result = match first {
            Err(err) if err.code() == Some(ErrorCode::TokenExpired) => {
                // If another caller refreshed meanwhile, the new token is already here.
                if self.current_token().as_deref() == Some(sent.as_str()) {
                    self.refresh(false).await?;
                }
                let token = self.current_token().ok_or(ApiError::SignedOut)?;
                http::bearer_text(method, path, json_body, &token).await
            }
            other => other,
        };
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

    // ----- refreshing -----------------------------------------------------------------

    /// The current token, refreshed first if it is inside its margin and a refresh helps.
    async fn fresh_token(&self) -> Result<String, ApiError> {
        let stale = match self.inner.token.borrow().as_ref() {
            None => return Err(ApiError::SignedOut),
            Some(held) => held.is_stale(),
        };
        if stale
            && self.refresh_helps()
            && let Err(err) = self.refresh(false).await
        {
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

    /// Which session end the held token was cut to, if any.
    fn cap(&self) -> Option<Cap> {
        let expires_at = self.inner.token.borrow().as_ref()?.expires_at;
        self.sig().info.with_untracked(|info| {
            let info = info.as_ref()?;
            schedule::cap(expires_at, info.idle_expires_at, info.absolute_expires_at)
        })
    }

    /// Whether the user did something since the last refresh (in any tab).
    fn activity_pending(&self) -> bool {
        self.inner.activity_pending.get()
    }

    fn refresh_helps(&self) -> bool {
        schedule::refresh_helps(self.cap(), self.activity_pending())
    }

    /// The refresh in flight, or a new one: never two `POST /refresh` at once.
    /// `force_active` reports activity whatever the tabs saw (restore, "Stay signed in").
    fn refresh(&self, force_active: bool) -> RefreshFuture {
        if let Some(in_flight) = self.inner.in_flight.borrow().as_ref() {
            return in_flight.clone();
        }
        let this = self.clone();
        let epoch = self.inner.epoch.get();
        let generation = self.inner.generation.get();
        let future = tabs::with_refresh_lock(self.lock_wait(), move |grant| {
            this.refresh_locked(grant, epoch, generation, force_active)
        })
        .boxed_local()
        .shared();
        *self.inner.in_flight.borrow_mut() = Some(future.clone());
        // Drive it to the end even if every caller stops waiting, so `in_flight` clears.
        spawn_local(future.clone().map(|_| ()));
        future
    }

    /// The refresh proper, while this tab holds the cross-tab lock.
    async fn refresh_locked(
        self,
        grant: Grant,
        epoch: u64,
        generation: u64,
        force_active: bool,
    ) -> Result<(), ApiError> {
        let result = self
            .refresh_gated(grant, epoch, generation, force_active)
            .await;
        if self.inner.epoch.get() == epoch {
            self.inner.in_flight.borrow_mut().take();
        }
        result
    }

    async fn refresh_gated(
        &self,
        grant: Grant,
        epoch: u64,
        generation: u64,
        force_active: bool,
    ) -> Result<(), ApiError> {
        if grant == Grant::AfterWait {
            // The tab that held the lock has most likely just refreshed, and its token is
            // on the way (posted before it let go, but channel and lock are not ordered).
            self.wait_for_token(epoch, generation, tabs::HANDOFF_WAIT)
                .await;
        }
        if self.inner.epoch.get() != epoch {
            return Err(ApiError::SignedOut);
        }
        let adopted = self.inner.generation.get() != generation
            && self
                .inner
                .token
                .borrow()
                .as_ref()
                .is_some_and(|held| !held.is_stale());
        if adopted {
            return Ok(());
        }
        // The browser-wide gate: whoever asks, no request before it opens.
        let now = js_sys::Date::now();
        let closed = if navigator_online() {
            gate::load().closed_until(now)
        } else {
            // Offline: nothing to send until the `online` event (or a while).
            Some(
                gate::load()
                    .closed_until(now)
                    .unwrap_or(now + OFFLINE_RETRY_MS),
            )
        };
        if let Some(until_ms) = closed {
            self.note_unreachable();
            return Err(ApiError::Deferred { until_ms });
        }
        let active = force_active || self.activity_pending();
        let previous_sent = self.inner.last_refresh_sent_ms.replace(now);
        let previous_pending = self.inner.activity_pending.replace(false);
        let result = self
            .inner
            .routes
            .refresh(active, self.request_timeout())
            .await;
        if self.inner.epoch.get() != epoch {
            return Err(ApiError::SignedOut);
        }
        let sig = self.sig();
        match result {
            Ok(received) => {
                gate::clear();
                self.note_reachable();
                self.accept(received, active);
                // Still holding the lock: a tab waiting for it finds this token first.
                self.publish(TokenSource::Refresh, active);
                Ok(())
            }
            Err(err) => {
                self.inner.last_refresh_sent_ms.set(previous_sent);
                // Not delivered: the activity is still to be reported.
                if previous_pending {
                    self.inner.activity_pending.set(true);
                }
                if err.is_transient() {
                    let gate = gate::load().after_failure(
                        js_sys::Date::now(),
                        err.retry_after(),
                        js_sys::Math::random(),
                    );
                    gate::save(&gate);
                    self.note_unreachable();
                } else if err.is_unauthorized() {
                    let notice = session_end_notice(&err, restoring(sig.status.get_untracked()));
                    // No notice: a visitor without a session, nothing for other tabs.
                    if notice.is_some() {
                        self.end_everywhere(&err, notice);
                    } else {
                        self.end_quietly(None);
                    }
                }
                Err(err)
            }
        }
    }

    /// A refresh could not be made or answered: a signed-in user is told, once.
    fn note_unreachable(&self) {
        let sig = self.sig();
        if sig.status.get_untracked() == Status::SignedIn && !sig.reconnecting.get_untracked() {
            sig.reconnecting.set(true);
            sig.emit(SessionEvent::Reconnecting);
        }
    }

    /// The server answered, here or to another tab: a user told "Reconnecting…" (signed
    /// in, or still restoring at start-up) is told it is over. A tab that adopts the token
    /// never sends a request of its own. Called before the token is installed, which
    /// ends the restore.
    fn note_reachable(&self) {
        let sig = self.sig();
        let restoring = sig.status.get_untracked() == Status::Reconnecting;
        if sig.reconnecting.get_untracked() || restoring {
            sig.reconnecting.set(false);
            sig.emit(SessionEvent::BackOnline);
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

    /// Timer-driven refresh: a failure that may pass retries when the gate opens (the
    /// `online` event comes sooner when the browser was offline).
    async fn background_refresh(self) {
        let Err(err) = self.refresh(false).await else {
            return;
        };
        if !err.is_transient() || self.inner.token.borrow().is_none() {
            return;
        }
        let until = match err {
            ApiError::Deferred { until_ms } => until_ms,
            _ => gate::load().until_ms,
        };
        self.arm_in((until - js_sys::Date::now()).max(100.0));
    }

    /// Re-checks freshness now: the page became visible, gained focus, came back online,
    /// or the clock jumped. Timers may have been throttled or stopped meanwhile.
    pub fn check(&self) {
        let stale = self.inner.token.borrow().as_ref().map(Held::is_stale);
        match stale {
            None => {}
            Some(true) if self.refresh_helps() => spawn_local(self.clone().background_refresh()),
            Some(_) => self.arm(),
        }
    }

    /// The browser is back online: a logout waiting to be sent goes first, then the
    /// restore or the refresh that were waiting, at once.
    pub fn on_online(&self) {
        let gate = gate::load();
        if !gate.server_said {
            gate::clear();
        }
        let this = self.clone();
        spawn_local(async move {
            if storage::pending_logout() {
                this.send_pending_logout().await;
            }
            match this.sig().status.get_untracked() {
                Status::Reconnecting => this.restore_by_refresh().await,
                Status::SignedIn => this.check(),
                Status::Restoring | Status::SignedOut => {}
            }
        });
    }

    // ----- activity ---------------------------------------------------------------

    /// Pointer, key or focus activity in this tab.
    pub fn note_activity(&self) {
        let now = js_sys::Date::now();
        self.inner.last_activity_ms.set(now);
        self.inner.activity_pending.set(true);
        self.post_activity(now);
        if self.sig().status.get_untracked() != Status::SignedIn {
            return;
        }
        // Near the idle end (the dialog, or a token cut to it), activity refreshes at once;
        // otherwise it rides along with the next scheduled refresh.
        let near_idle_end =
            self.cap() == Some(Cap::Idle) || self.warning() == Some(SessionWarning::StaySignedIn);
        if near_idle_end && now - self.inner.activity_refresh_ms.get() >= ACTIVITY_REFRESH_EVERY_MS
        {
            self.inner.activity_refresh_ms.set(now);
            spawn_local(self.clone().background_refresh());
        }
    }

    /// Tells the other tabs, at most every [`tabs::ACTIVITY_THROTTLE_MS`]; the last of a
    /// burst follows at the end of the interval, so none is lost.
    fn post_activity(&self, now: f64) {
        let since = now - self.inner.activity_posted_ms.get();
        if since >= tabs::ACTIVITY_THROTTLE_MS {
            self.inner.activity_posted_ms.set(now);
            self.post(&Message::Activity { at_ms: now });
            return;
        }
        if self.inner.activity_trailing.borrow().is_some() {
            return;
        }
        let weak = Rc::downgrade(&self.inner);
        let delay = (tabs::ACTIVITY_THROTTLE_MS - since).max(0.0) as u32;
        *self.inner.activity_trailing.borrow_mut() = Some(Timeout::new(delay, move || {
            if let Some(inner) = weak.upgrade() {
                let this = Manager { inner };
                this.inner.activity_trailing.borrow_mut().take();
                let at_ms = this.inner.last_activity_ms.get();
                this.inner.activity_posted_ms.set(js_sys::Date::now());
                this.post(&Message::Activity { at_ms });
            }
        }));
    }

    /// What the session-end dialog should offer right now, if anything.
    pub fn warning(&self) -> Option<SessionWarning> {
        let sig = self.sig();
        if sig.status.get_untracked() != Status::SignedIn {
            return None;
        }
        let lead = schedule::warning_lead_ms(sig.idle_window_ms.get_untracked());
        let now = self.server_now();
        sig.info.with_untracked(|info| {
            let info = info.as_ref()?;
            schedule::session_warning(
                now,
                info.idle_expires_at as f64 * 1_000.0,
                info.absolute_expires_at as f64 * 1_000.0,
                lead,
            )
        })
    }

    // ----- the clock tick ------------------------------------------------------------

    fn server_now(&self) -> f64 {
        self.inner.clock.get().now(now_monotonic_ms())
    }

    /// Every second: the countdown's clock; sleep and clock jumps; the session's end.
    fn tick(&self) {
        let (mono, wall) = (now_monotonic_ms(), js_sys::Date::now());
        let (mono_before, wall_before) = self.inner.last_tick.replace((mono, wall));
        let sig = self.sig();
        sig.server_now_ms.set(self.server_now());
        if sig.status.get_untracked() != Status::SignedIn {
            return;
        }
        let drift = clock::drift_ms(mono_before, wall_before, mono, wall);
        if drift.abs() > clock::JUMP_THRESHOLD_MS {
            // Slept, or the clock was set: ask the server where we are.
            spawn_local(self.clone().confirm_with_server(true));
            return;
        }
        let Some((end, absolute_end)) = sig.info.with_untracked(|info| {
            info.as_ref().map(|i| {
                (
                    i.idle_expires_at.min(i.absolute_expires_at),
                    i.absolute_expires_at,
                )
            })
        }) else {
            return;
        };
        if self.server_now() >= end as f64 * 1_000.0 + schedule::END_CHECK_DELAY_MS
            && mono >= self.inner.next_end_check_mono_ms.get()
        {
            // The end, as computed here: the server decides.
            self.inner.next_end_check_mono_ms.set(mono + 1_000.0);
            spawn_local(self.clone().confirm_with_server(false));
        }
        if self.warning() == Some(SessionWarning::MustSignInAgain)
            && self.inner.warned_absolute_end.replace(absolute_end) != absolute_end
        {
            sig.emit(SessionEvent::AbsoluteEndNear);
        }
    }

    /// `GET /api/auth/session`: the server's view of the session's ends and its clock.
    /// A session it calls over ends here (and in every tab); otherwise the ends and the
    /// clock are corrected and the token is checked.
    async fn confirm_with_server(self, woke: bool) {
        if self.inner.confirming.replace(true) {
            return;
        }
        let epoch = self.inner.epoch.get();
        let estimate_before = self.server_now();
        let result = self
            .inner
            .routes
            .session_status(self.request_timeout())
            .await;
        self.inner.confirming.set(false);
        if self.inner.epoch.get() != epoch {
            return;
        }
        match result {
            Ok(received) => {
                let clock = ServerClock::anchor(
                    Some(received.body.server_time as f64 * 1_000.0),
                    received.wall_ms,
                    received.monotonic_ms,
                );
                self.inner.clock.set(clock);
                let slept = self.server_now() - estimate_before > clock::JUMP_THRESHOLD_MS;
                self.set_offset();
                self.set_info(received.body.session.clone());
                self.post(&Message::Status {
                    session: received.body.session,
                    server_offset_ms: self.sig().server_offset_ms.get_untracked(),
                });
                self.sig().server_now_ms.set(self.server_now());
                let stale = self.inner.token.borrow().as_ref().map(Held::is_stale);
                if woke && slept && stale == Some(true) && self.refresh_helps() {
                    if self.refresh(false).await.is_ok() {
                        self.sig().emit(SessionEvent::RefreshedAfterSleep);
                    }
                } else {
                    self.check();
                }
                // Re-anchored: the end may be nearer or further than this tab thought.
                self.arm_end();
            }
            Err(err) if err.is_unauthorized() => {
                self.end_everywhere(&err, session_end_notice(&err, false));
            }
            // Unreachable: the next tick asks again.
            Err(_) => {}
        }
    }

    // ----- tabs -------------------------------------------------------------------

    /// A message from another tab, which waited `held_ms` for this manager to load.
    fn receive(&self, text: &str, held_ms: f64) {
        let Some(message) = Message::decode(text) else {
            return;
        };
        let sig = self.sig();
        match message {
            Message::Token(mut shared) => {
                shared.age_ms += held_ms;
                self.adopt(shared);
            }
            Message::Hello => {
                if let Some(shared) = self.shared_token(TokenSource::Reply, false) {
                    self.post(&Message::Token(shared));
                }
            }
            Message::LoggedOut => {
                if sig.status.get_untracked() != Status::SignedOut {
                    self.end(Some(EndReason::LoggedOut.explain().into()));
                    sig.emit(SessionEvent::SignedOutInAnotherTab);
                }
            }
            Message::SessionEnded { reason, notice } => {
                if sig.status.get_untracked() != Status::SignedOut {
                    let notice = notice.or_else(|| reason.map(|r| r.explain().into()));
                    self.end(notice);
                    sig.emit(reason.map_or(SessionEvent::EndedUnknown, SessionEvent::Ended));
                }
            }
            Message::Status {
                session,
                server_offset_ms,
            } => {
                let same = sig
                    .info
                    .with_untracked(|i| i.as_ref().is_some_and(|i| i.id == session.id));
                if same {
                    self.anchor_from_offset(server_offset_ms);
                    self.set_info(session);
                }
            }
            Message::Activity { at_ms: _ } => self.inner.activity_pending.set(true),
        }
    }

    /// Takes a token another tab fetched, if it is newer than ours.
    fn adopt(&self, shared: SharedToken) {
        let sig = self.sig();
        if shared.source != TokenSource::Reply {
            // Fresh from the server (a reply may hand on an old token).
            self.note_reachable();
        }
        if shared.source == TokenSource::Refresh {
            sig.record_refresh(RefreshRecord {
                at_ms: shared.sent_at_ms + shared.server_offset_ms,
                by: RefreshBy::OtherTab(shared.tab.clone()),
                active: shared.active,
            });
            // That refresh reported the activity this tab knew of.
            if shared.active {
                self.inner.activity_pending.set(false);
            }
        }
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
        let was_signed_out = sig.status.get_untracked() != Status::SignedIn;
        if shared.source == TokenSource::Login || was_signed_out {
            // A new session: whatever was in flight belonged to the previous one.
            self.forget();
            sig.notice.set(None);
            if shared.source == TokenSource::Login && was_signed_out {
                sig.emit(SessionEvent::SignedInInAnotherTab);
            }
        }
        self.inner.grace_secs.set(shared.refresh_grace.max(1));
        if shared.idle_window_ms > sig.idle_window_ms.get_untracked() {
            sig.idle_window_ms.set(shared.idle_window_ms);
        }
        self.anchor_from_offset(shared.server_offset_ms);
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
            expires_at: shared.expires_at,
        };
        self.install(held, shared.user, shared.session);
    }

    /// The token as another tab can use it, unless there is none or it has expired.
    fn shared_token(&self, source: TokenSource, active: bool) -> Option<SharedToken> {
        let sig = self.sig();
        if sig.status.get_untracked() != Status::SignedIn {
            return None;
        }
        let token = self.inner.token.borrow();
        let held = token.as_ref().filter(|held| !held.is_expired())?;
        Some(SharedToken {
            source,
            tab: self.inner.tab_id.clone(),
            access_token: held.value.clone(),
            ttl_ms: held.ttl_ms,
            age_ms: held.age_ms(),
            expires_at: held.expires_at,
            server_offset_ms: sig.server_offset_ms.get_untracked(),
            idle_window_ms: sig.idle_window_ms.get_untracked(),
            refresh_grace: self.inner.grace_secs.get(),
            active,
            sent_at_ms: self.inner.last_refresh_sent_ms.get(),
            session: sig.info.get_untracked()?,
            user: sig.user.get_untracked()?,
        })
    }

    fn publish(&self, source: TokenSource, active: bool) {
        if let Some(shared) = self.shared_token(source, active) {
            self.post(&Message::Token(shared));
        }
    }

    fn post(&self, message: &Message) {
        if let Some(tabs) = &self.inner.tabs {
            tabs.post(message);
        }
    }

    // ----- state -------------------------------------------------------------------

    /// Takes a fresh token body: memory, clock, timer and the session signals.
    fn accept(&self, received: Received<TokenResponse>, active: bool) {
        let Received {
            body,
            monotonic_ms,
            wall_ms,
            server_date_ms,
        } = received;
        let sig = self.sig();
        let clock = ServerClock::anchor(server_date_ms, wall_ms, monotonic_ms);
        self.inner.clock.set(clock);
        self.set_offset();
        if body.refresh_grace > 0 {
            self.inner.grace_secs.set(body.refresh_grace);
        }
        if active {
            // Just slid by the server: now → idle end is the whole idle window.
            let window = body.session.idle_expires_at as f64 * 1_000.0 - clock.now(monotonic_ms);
            if window > sig.idle_window_ms.get_untracked() {
                sig.idle_window_ms.set(window);
            }
        }
        sig.record_refresh(RefreshRecord {
            at_ms: clock.now(monotonic_ms),
            by: RefreshBy::ThisTab,
            active,
        });
        let ttl_ms = body.expires_in as f64 * 1_000.0;
        let held = Held {
            value: body.access_token,
            monotonic_ms,
            wall_ms,
            ttl_ms,
            refresh_after_ms: schedule::refresh_delay_ms(ttl_ms, js_sys::Math::random()),
            expires_at: body.expires_at,
        };
        self.install(held, body.user, body.session);
    }

    fn install(&self, held: Held, user: User, session: SessionInfo) {
        *self.inner.token.borrow_mut() = Some(held);
        self.inner
            .generation
            .set(self.inner.generation.get().wrapping_add(1));
        let sig = self.sig();
        // Set only on change: a refresh every few seconds should not re-render pages.
        if sig.user.with_untracked(|u| u.as_ref() != Some(&user)) {
            sig.user.set(Some(user));
        }
        self.set_info(session);
        if sig.status.get_untracked() != Status::SignedIn {
            sig.status.set(Status::SignedIn);
        }
        self.inner.restore_timer.borrow_mut().take();
        sig.server_now_ms.set(self.server_now());
        self.arm();
        self.arm_end();
    }

    fn set_info(&self, session: SessionInfo) {
        let sig = self.sig();
        if sig.info.with_untracked(|s| s.as_ref() != Some(&session)) {
            sig.info.set(Some(session));
            self.arm_end();
        }
    }

    /// Arms the end check for the session's first end (on the server clock).
    fn arm_end(&self) {
        let end = self.sig().info.with_untracked(|info| {
            info.as_ref()
                .map(|i| i.idle_expires_at.min(i.absolute_expires_at) as f64 * 1_000.0)
        });
        let Some(end) = end else {
            self.inner.end_timer.borrow_mut().take();
            return;
        };
        let delay = (end + schedule::END_CHECK_DELAY_MS - self.server_now())
            .clamp(0.0, f64::from(i32::MAX));
        let weak = Rc::downgrade(&self.inner);
        *self.inner.end_timer.borrow_mut() = Some(Timeout::new(delay as u32, move || {
            if let Some(inner) = weak.upgrade() {
                let this = Manager { inner };
                this.inner.end_timer.borrow_mut().take();
                if this.sig().status.get_untracked() == Status::SignedIn {
                    spawn_local(this.confirm_with_server(false));
                }
            }
        }));
    }

    fn set_offset(&self) {
        let offset = self
            .inner
            .clock
            .get()
            .offset_ms(now_monotonic_ms(), js_sys::Date::now());
        self.sig().server_offset_ms.set(offset);
    }

    fn anchor_from_offset(&self, server_offset_ms: f64) {
        let (mono, wall) = (now_monotonic_ms(), js_sys::Date::now());
        self.inner.clock.set(ServerClock {
            server_ms: wall + server_offset_ms,
            mono_ms: mono,
        });
        self.sig().server_offset_ms.set(server_offset_ms);
        self.arm_end();
    }

    /// Arms the proactive refresh for the held token, if a refresh can help; updates the
    /// timeline either way.
    fn arm(&self) {
        let plan = self.inner.token.borrow().as_ref().map(|held| {
            let clock = self.inner.clock.get();
            let issued_ms = clock.now(now_monotonic_ms()) - held.age_ms();
            (
                held.refresh_after_ms - held.age_ms(),
                issued_ms,
                issued_ms + held.refresh_after_ms,
                held.expires_at as f64 * 1_000.0,
            )
        });
        let Some((delay_ms, issued_ms, refresh_ms, expires_ms)) = plan else {
            return;
        };
        let helps = self.refresh_helps();
        self.sig().token.set(Some(TokenTimes {
            issued_ms,
            refresh_ms: helps.then_some(refresh_ms),
            expires_ms,
        }));
        if helps {
            self.arm_in(delay_ms);
        } else {
            // Cut to the session's end: the tick meets the end and asks the server.
            self.inner.timer.borrow_mut().take();
        }
    }

    /// (Re)arms the refresh timer; the previous one is dropped, which clears it.
    fn arm_in(&self, delay_ms: f64) {
        // setTimeout fires at once for delays beyond 2^31 − 1 ms: clamp.
        let delay = delay_ms.clamp(0.0, f64::from(i32::MAX)) as u32;
        let weak = Rc::downgrade(&self.inner);
        let timeout = Timeout::new(delay, move || {
            if let Some(inner) = weak.upgrade() {
                let this = Manager { inner };
                this.inner.timer.borrow_mut().take();
                spawn_local(this.background_refresh());
            }
        });
        *self.inner.timer.borrow_mut() = Some(timeout);
    }

    /// Drops the token and its timer, and invalidates any refresh in flight.
    fn forget(&self) -> Option<String> {
        self.inner.timer.borrow_mut().take();
        self.inner.epoch.set(self.inner.epoch.get().wrapping_add(1));
        self.inner.in_flight.borrow_mut().take();
        self.inner.token.borrow_mut().take().map(|held| held.value)
    }

    /// Signs out here and in every other tab: the session is over on the server.
    fn end_everywhere(&self, err: &ApiError, notice: Option<String>) {
        let reason = err.reason();
        self.post(&Message::SessionEnded {
            reason,
            notice: notice.clone(),
        });
        self.end(notice);
        self.sig()
            .emit(reason.map_or(SessionEvent::EndedUnknown, SessionEvent::Ended));
    }

    /// Signs out locally, telling the user why (if there is something to tell).
    fn end(&self, notice: Option<String>) {
        self.end_quietly(notice);
    }

    fn end_quietly(&self, notice: Option<String>) {
        self.forget();
        self.inner.end_timer.borrow_mut().take();
        self.inner.restore_timer.borrow_mut().take();
        let sig = self.sig();
        sig.user.set(None);
        sig.info.set(None);
        sig.token.set(None);
        sig.refreshes.set(Vec::new());
        sig.reconnecting.set(false);
        sig.idle_window_ms.set(0.0);
        sig.notice.set(notice);
        sig.status.set(Status::SignedOut);
    }
}

impl Engine for Manager {
    fn start(&self, restore: bool) {
        self.start_up(restore);
    }

    fn receive(&self, text: &str, held_ms: f64) {
        Manager::receive(self, text, held_ms);
    }

    fn login<'a>(&'a self, request: &'a LoginRequest) -> LocalBoxFuture<'a, Result<(), ApiError>> {
        Manager::login(self, request).boxed_local()
    }

    fn logout(&self) -> LocalBoxFuture<'_, ()> {
        Manager::logout(self).boxed_local()
    }

    fn logout_everywhere(&self) -> LocalBoxFuture<'_, Result<(), ApiError>> {
        Manager::logout_everywhere(self).boxed_local()
    }

    fn stay_signed_in(&self) -> LocalBoxFuture<'_, Result<(), ApiError>> {
        Manager::stay_signed_in(self).boxed_local()
    }

    fn authorized<'a>(
        &'a self,
        method: Method,
        path: &'a str,
        json_body: Option<&'a str>,
    ) -> LocalBoxFuture<'a, Result<Option<String>, ApiError>> {
        Manager::authorized(self, method, path, json_body).boxed_local()
    }

    fn check(&self) {
        Manager::check(self);
    }

    fn on_online(&self) {
        Manager::on_online(self);
    }

    fn note_activity(&self) {
        Manager::note_activity(self);
    }
}

/// Whether the start-up restore is still deciding.
fn restoring(status: Status) -> bool {
    matches!(status, Status::Restoring | Status::Reconnecting)
}

/// `navigator.onLine`: `false` means surely offline (a `true` may still fail).
fn navigator_online() -> bool {
    web_sys::window().is_none_or(|w| w.navigator().on_line())
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
