//! Cross-tab coordination: one `BroadcastChannel` and one Web Lock.
//!
//! All tabs of the origin share one refresh cookie, and the server rotates it on every
//! refresh: two tabs each refreshing the same expiry would present one cookie twice, which
//! past the server's grace period is token theft and revokes the session. So:
//!
//! - **One refresh per expiry.** A tab refreshes only while holding the Web Lock
//!   [`REFRESH_LOCK`], and inside it first looks whether another tab has meanwhile handed
//!   over a fresher token; if so it uses that one. The lock holder posts the new token on
//!   the channel *before* releasing the lock.
//! - **Bounded wait.** Browsers release the locks of closed or crashed tabs themselves; a
//!   tab that hangs while holding the lock is waited for a bounded time (half the server's
//!   grace period, [`crate::schedule::lock_wait_ms`]), then the lock is stolen
//!   (`steal: true`). The holder's own request is aborted sooner than that. Where Web Locks are missing the refresh runs unlocked (the
//!   server's grace period still makes a concurrent refresh harmless).
//! - **In memory only.** The token travels in a channel message (structured clone between
//!   same-origin documents), never through localStorage, sessionStorage or a cookie.
//! - Login, logout, "session ended" and user activity reach every tab as [`Message`]s, and
//!   a new tab asks the others for the token ([`Message::Hello`]) before its own silent
//!   refresh — only when another tab exists: each tab holds a shared presence lock
//!   ([`PRESENCE_LOCK`]), and `navigator.locks.query()` tells a new tab whether any is
//!   held, so a tab alone starts without waiting.
//!
//! The token manager (`token.rs`) decides what to do with the messages; this module only
//! moves them and holds the lock.

use std::cell::RefCell;
use std::future::Future;
use std::rc::Rc;
use std::time::Duration;

use futures::channel::oneshot;
use futures::future::{Either, select};
use leptos::task::spawn_local;
use serde::{Deserialize, Serialize};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{BroadcastChannel, MessageEvent};
use wire::{EndReason, SessionInfo, User};

/// Name of the channel every tab of the origin joins.
pub const CHANNEL_NAME: &str = "auth";
/// Name of the Web Lock held around `POST /api/auth/refresh` (and login, logout).
pub const REFRESH_LOCK: &str = "auth-refresh";
/// Name of the Web Lock every open tab holds in shared mode, for as long as it lives.
pub const PRESENCE_LOCK: &str = "auth-tab";
/// How long a new tab waits for another tab to answer its [`Message::Hello`].
pub const HELLO_WAIT: Duration = Duration::from_millis(300);
/// How long a tab that waited for the lock waits for the previous holder's token message
/// (posted before the release, but channel and lock are separate task sources).
pub const HANDOFF_WAIT: Duration = Duration::from_millis(300);
/// User activity is posted to the other tabs at most this often (the last one of a
/// burst follows at the end of the interval).
pub const ACTIVITY_THROTTLE_MS: f64 = 5_000.0;

/// What tabs tell each other. Sent as JSON text, externally tagged (`"hello"`,
/// `{"token":{…}}`): an internally tagged enum buffers every message into serde's
/// `Content` first, which cost 16 KB of WASM here.
#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Message {
    /// A fresh access token, after a refresh or a login, or in answer to a `Hello`.
    Token(SharedToken),
    /// A new tab asks for the current token.
    Hello,
    /// The user logged out in some tab: every tab signs out.
    LoggedOut,
    /// A tab asked the server about the session (`GET /api/auth/session`): new ends.
    Status {
        session: SessionInfo,
        server_offset_ms: f64,
    },
    /// A refresh (or a call) found the session over: every tab signs out, saying why.
    SessionEnded {
        reason: Option<EndReason>,
        notice: Option<String>,
    },
    /// Pointer, key or focus activity in some tab (throttled), at this wall-clock time.
    Activity { at_ms: f64 },
}

impl Message {
    pub fn encode(&self) -> String {
        // Plain data of our own: serialising it cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// `None` for anything that is not one of ours (another app on the origin, an older
    /// version of this one in a tab not yet reloaded).
    pub fn decode(text: &str) -> Option<Self> {
        serde_json::from_str(text).ok()
    }
}

/// Why a token was posted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenSource {
    Login,
    Refresh,
    Reply,
}

/// An access token handed to another tab. Ages, not instants: `performance.now()` has a
/// different origin in every document, so the receiver anchors `age_ms` on its own clocks.
#[derive(Clone, Serialize, Deserialize)]
pub struct SharedToken {
    pub source: TokenSource,
    /// The sending tab's id (for the session timeline).
    pub tab: String,
    pub access_token: String,
    /// The token's whole lifetime (the server's `expires_in`), ms.
    pub ttl_ms: f64,
    /// How old the token was when posted, ms.
    pub age_ms: f64,
    /// `exp` of the token (server Unix seconds), to see whether it was cut to an end.
    pub expires_at: i64,
    /// Server clock minus local wall clock; tabs of one browser share the wall clock.
    pub server_offset_ms: f64,
    /// The idle lifetime the server grants after activity, as far as known (ms).
    pub idle_window_ms: f64,
    /// The server's grace period, seconds.
    pub refresh_grace: u64,
    /// Whether the refresh that fetched it reported activity, and when it was sent.
    pub active: bool,
    pub sent_at_ms: f64,
    pub session: SessionInfo,
    pub user: User,
}

impl SharedToken {
    /// Validity left when posted, ms.
    pub fn left_ms(&self) -> f64 {
        self.ttl_ms - self.age_ms
    }
}

/// Whether a tab takes a token another tab posted. `ours_left_ms` is what is left of the
/// token it holds (none if it holds none). A login always wins (it is the session now in
/// the shared cookie); otherwise only a token that lives longer than ours replaces it, so
/// answers to another tab's `Hello` do not swap a token for an older one.
pub fn should_adopt(source: TokenSource, theirs_left_ms: f64, ours_left_ms: Option<f64>) -> bool {
    if theirs_left_ms <= 0.0 {
        return false;
    }
    match (source, ours_left_ms) {
        (TokenSource::Login, _) | (_, None) => true,
        (_, Some(ours)) => theirs_left_ms > ours,
    }
}

/// Whether a message's text is a token ([`Message::Token`]): the only message that
/// concerns a tab whose token manager is not loaded yet (it is signed out, and another
/// tab signed in). The encoding is externally tagged, so the tag opens the text.
pub fn is_token(text: &str) -> bool {
    text.starts_with("{\"token\":")
}

/// This tab's end of the channel; the handler lives as long as it does. It hands on the
/// text of each message: decoding is the token manager's, which may not be loaded yet.
pub struct Channel {
    channel: BroadcastChannel,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
}

impl Channel {
    /// Joins [`CHANNEL_NAME`]; `None` where `BroadcastChannel` is unavailable.
    pub fn open(mut on_message: impl FnMut(String) + 'static) -> Option<Self> {
        let channel = BroadcastChannel::new(CHANNEL_NAME).ok()?;
        let handler = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
            if let Some(text) = event.data().as_string() {
                on_message(text);
            }
        });
        channel.set_onmessage(Some(handler.as_ref().unchecked_ref()));
        Some(Self {
            channel,
            _on_message: handler,
        })
    }

    /// What the token manager posts through.
    pub fn sender(&self) -> Sender {
        Sender(self.channel.clone())
    }
}

impl Drop for Channel {
    fn drop(&mut self) {
        self.channel.set_onmessage(None);
        self.channel.close();
    }
}

/// Posts to every other tab (a channel does not deliver to itself).
#[derive(Clone)]
pub struct Sender(BroadcastChannel);

impl Sender {
    pub fn post(&self, message: &Message) {
        if let Err(err) = self.0.post_message(&JsValue::from_str(&message.encode())) {
            leptos::logging::warn!("posting to the other tabs failed: {err:?}");
        }
    }
}

// The two calls of the Web Locks API this needs, bound by hand: web-sys has `LockManager`
// only behind `--cfg=web_sys_unstable_apis`, which would change every build.
#[wasm_bindgen]
extern "C" {
    /// `navigator.locks`.
    type LockManager;

    /// `navigator.locks.request(name, options, callback)`: `callback` runs once the lock
    /// is granted (with `null` if `ifAvailable` found it taken) and the lock is held until
    /// the promise it returns settles.
    #[wasm_bindgen(method, catch, js_name = request)]
    fn request(
        this: &LockManager,
        name: &str,
        options: &JsValue,
        callback: &JsValue,
    ) -> Result<js_sys::Promise, JsValue>;

    /// `navigator.locks.query()`: the locks held and waited for, by name.
    #[wasm_bindgen(method, catch)]
    fn query(this: &LockManager) -> Result<js_sys::Promise, JsValue>;
}

fn lock_manager() -> Option<LockManager> {
    let navigator = web_sys::window()?.navigator();
    let locks = js_sys::Reflect::get(&navigator, &JsValue::from_str("locks")).ok()?;
    (!locks.is_undefined() && !locks.is_null()).then(|| locks.unchecked_into())
}

/// How the lock was (or was not) obtained.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Grant {
    /// It was free.
    Free,
    /// Another tab held it and released it: it has probably just refreshed.
    AfterWait,
    /// Taken from a tab that held it longer than the bounded wait.
    Stolen,
    /// No Web Locks here, or the request failed: running without the lock.
    Unlocked,
}

#[derive(Clone, Copy)]
enum Mode {
    IfAvailable,
    Wait,
    Steal,
    Shared,
}

/// A granted lock; dropping it releases it.
pub struct Held {
    release: js_sys::Function,
}

impl Drop for Held {
    fn drop(&mut self) {
        let _ = self.release.call0(&JsValue::UNDEFINED);
    }
}

/// Requests the lock; resolves to `Ok(None)` when `IfAvailable` finds it taken, `Err` when
/// the request failed. If the future is dropped before the grant, a later grant is
/// released at once.
async fn acquire(locks: &LockManager, name: &str, mode: Mode) -> Result<Option<Held>, ()> {
    let (tx, rx) = oneshot::channel::<Option<Held>>();
    let tx = Rc::new(RefCell::new(Some(tx)));
    let callback = {
        let tx = tx.clone();
        Closure::once_into_js(move |lock: JsValue| -> js_sys::Promise {
            let Some(tx) = tx.borrow_mut().take() else {
                return js_sys::Promise::resolve(&JsValue::UNDEFINED);
            };
            if lock.is_null() {
                let _ = tx.send(None);
                return js_sys::Promise::resolve(&JsValue::UNDEFINED);
            }
            let mut release = None;
            let held = js_sys::Promise::new(&mut |resolve, _reject| release = Some(resolve));
            if let Some(release) = release {
                // Nobody waiting any more: the `Held` comes back and is dropped, releasing.
                let _ = tx.send(Some(Held { release }));
            }
            held
        })
    };
    let options = js_sys::Object::new();
    let flag = match mode {
        Mode::IfAvailable => Some("ifAvailable"),
        Mode::Steal => Some("steal"),
        Mode::Wait | Mode::Shared => None,
    };
    if let Some(flag) = flag {
        let _ = js_sys::Reflect::set(&options, &JsValue::from_str(flag), &JsValue::TRUE);
    }
    if matches!(mode, Mode::Shared) {
        let _ = js_sys::Reflect::set(
            &options,
            &JsValue::from_str("mode"),
            &JsValue::from_str("shared"),
        );
    }
    let request = locks
        .request(name, &options, &callback)
        .map_err(|err| leptos::logging::warn!("Web Locks request failed: {err:?}"))?;
    // The request's promise settles when the lock is released, or rejects if it could not
    // be granted or was stolen. Awaiting it keeps a rejection from being "unhandled" and
    // ends the wait when it fails before any grant.
    spawn_local(async move {
        if JsFuture::from(request).await.is_err() {
            tx.borrow_mut().take();
        }
    });
    rx.await.map_err(|_| ())
}

/// Runs `work` while this tab holds [`REFRESH_LOCK`], telling it how the lock was got;
/// waits at most `wait` for a tab that holds it.
pub async fn with_refresh_lock<T, F, Fut>(wait: Duration, work: F) -> T
where
    F: FnOnce(Grant) -> Fut,
    Fut: Future<Output = T>,
{
    let Some(locks) = lock_manager() else {
        return work(Grant::Unlocked).await;
    };
    let (held, grant) = match acquire(&locks, REFRESH_LOCK, Mode::IfAvailable).await {
        Ok(Some(held)) => (Some(held), Grant::Free),
        Ok(None) => {
            let waiting = Box::pin(acquire(&locks, REFRESH_LOCK, Mode::Wait));
            match select(waiting, Box::pin(sleep(wait))).await {
                Either::Left((Ok(Some(held)), _)) => (Some(held), Grant::AfterWait),
                Either::Left(_) => (None, Grant::Unlocked),
                Either::Right(_) => {
                    // No refresh takes this long: the holder is hung. Its tab's request
                    // is aborted and the lock is ours.
                    leptos::logging::warn!("the refresh lock was held too long; taking it over");
                    match acquire(&locks, REFRESH_LOCK, Mode::Steal).await {
                        Ok(Some(held)) => (Some(held), Grant::Stolen),
                        _ => (None, Grant::Unlocked),
                    }
                }
            }
        }
        Err(()) => (None, Grant::Unlocked),
    };
    let result = work(grant).await;
    drop(held);
    result
}

/// Resolves after `duration` (a `gloo-timers` timeout).
pub async fn sleep(duration: Duration) {
    gloo_timers::future::sleep(duration).await;
}

/// Whether another tab of this origin is open (holds the presence lock). Asked before
/// this tab takes its own; `false` where Web Locks are missing (then nobody waits).
pub async fn another_tab_exists() -> bool {
    let Some(locks) = lock_manager() else {
        return false;
    };
    let Ok(promise) = locks.query() else {
        return false;
    };
    let Ok(snapshot) = JsFuture::from(promise).await else {
        return false;
    };
    let held = js_sys::Reflect::get(&snapshot, &JsValue::from_str("held")).unwrap_or_default();
    js_sys::Array::from(&held).iter().any(|lock| {
        js_sys::Reflect::get(&lock, &JsValue::from_str("name"))
            .ok()
            .and_then(|name| name.as_string())
            .is_some_and(|name| name == PRESENCE_LOCK)
    })
}

/// Takes this tab's share of the presence lock, held until the returned value is dropped
/// (in practice: until the tab closes, when the browser releases it).
pub async fn hold_presence() -> Option<Held> {
    let locks = lock_manager()?;
    acquire(&locks, PRESENCE_LOCK, Mode::Shared)
        .await
        .ok()
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(source: TokenSource) -> SharedToken {
        SharedToken {
            source,
            tab: "t1".into(),
            access_token: "eyJ.test.token".into(),
            ttl_ms: 3_000.0,
            age_ms: 100.0,
            expires_at: 1_000,
            server_offset_ms: -250.0,
            idle_window_ms: 1_800_000.0,
            refresh_grace: 10,
            active: true,
            sent_at_ms: 5.0,
            session: SessionInfo {
                id: "s1".into(),
                idle_expires_at: 1_000,
                absolute_expires_at: 2_000,
            },
            user: User {
                id: "u1".into(),
                username: "alice".into(),
                roles: vec!["admin".into()],
                permissions: vec![],
            },
        }
    }

    #[test]
    fn messages_round_trip_as_json() {
        let text = Message::Token(token(TokenSource::Refresh)).encode();
        let Some(Message::Token(back)) = Message::decode(&text) else {
            panic!("not a token message: {text}");
        };
        assert_eq!(back.source, TokenSource::Refresh);
        assert_eq!(back.access_token, "eyJ.test.token");
        assert_eq!(back.left_ms(), 2_900.0);
        assert_eq!(back.session.id, "s1");

        let ended = Message::SessionEnded {
            reason: Some(EndReason::ReuseDetected),
            notice: Some("Bye.".into()),
        };
        assert!(matches!(
            Message::decode(&ended.encode()),
            Some(Message::SessionEnded {
                reason: Some(EndReason::ReuseDetected),
                ..
            })
        ));
        assert_eq!(Message::Hello.encode(), r#""hello""#);
        assert!(matches!(
            Message::decode(r#""logged_out""#),
            Some(Message::LoggedOut)
        ));
    }

    #[test]
    fn only_token_messages_are_told_apart_without_decoding() {
        assert!(is_token(
            &Message::Token(token(TokenSource::Login)).encode()
        ));
        for other in [
            Message::Hello,
            Message::LoggedOut,
            Message::Activity { at_ms: 1.0 },
            Message::SessionEnded {
                reason: None,
                notice: None,
            },
        ] {
            assert!(!is_token(&other.encode()));
        }
    }

    #[test]
    fn foreign_messages_are_ignored() {
        assert!(Message::decode("hello").is_none());
        assert!(Message::decode(r#"{"something_else":{}}"#).is_none());
        assert!(Message::decode("").is_none());
    }

    #[test]
    fn tabs_adopt_logins_and_longer_lived_tokens_only() {
        use TokenSource::*;
        assert!(should_adopt(Refresh, 2_000.0, None));
        assert!(should_adopt(Reply, 2_000.0, None));
        assert!(should_adopt(Refresh, 2_000.0, Some(500.0)));
        assert!(!should_adopt(Reply, 500.0, Some(2_000.0)));
        assert!(!should_adopt(Refresh, 2_000.0, Some(2_000.0)));
        assert!(should_adopt(Login, 500.0, Some(2_000.0)));
        // An expired token is useless to anyone.
        assert!(!should_adopt(Login, 0.0, None));
        assert!(!should_adopt(Refresh, -1.0, None));
    }
}
