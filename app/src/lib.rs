//! The Leptos client as a library: pages and components on top of the session crate
//! (`leptos-token-session`), which holds the token, refreshes it, keeps the tabs in step
//! and makes every authenticated call. `main.rs` only mounts [`App`]; keeping the rest
//! here lets the pure text logic be unit-tested natively (`cargo test -p app --lib`).

pub mod components;
pub mod display;
pub mod hooks;
pub mod pages;
pub mod router;
pub mod theme;

use std::pin::Pin;

use gloo_timers::callback::Timeout;
use leptos::prelude::*;
use leptos::wasm_split::{SplitLoaderError, wasm_split};
use leptos_token_session::{RequireSession, SessionConfig, Status, provide_session};

use crate::components::header::Header;
use crate::components::session_modal::{MODAL_SELECTOR, SessionModal};
use crate::components::toasts::Toasts;
use crate::pages::audit::Audit;
use crate::pages::authorize::Authorize;
use crate::pages::dashboard::Dashboard;
use crate::pages::login::Login;
use crate::pages::not_found::{NotFound, PageUnavailable};
use crate::pages::password::Password;
use crate::pages::sessions::Sessions;

/// The sign-in page; protected pages send signed-out users here.
pub const LOGIN_PATH: &str = "/login";

/// How long (ms) after the first sign-in the dialog's code is fetched.
const MODAL_DELAY_MS: u32 = 1_000;
/// How long (ms) after a failed fetch of the dialog's code it is fetched again.
const MODAL_RETRY_MS: u32 = 10_000;
/// How long (ms) after a failed fetch of a page's code it is fetched a second time,
/// before the page says it cannot be loaded.
const PAGE_RETRY_MS: u32 = 1_000;

/// The root: session, router, header, pages, dialog and toasts.
#[component]
pub fn App() -> impl IntoView {
    let session = provide_session(SessionConfig {
        login_path: LOGIN_PATH,
        // Answers to "Stay signed in?" are not activity: the dialog must not close itself.
        ignore_activity_in: Some(MODAL_SELECTOR),
        ..SessionConfig::default()
    });

    let path = router::provide_router(|path| page(path).is_some());
    // A reload of a signed-in page: its code is fetched while the session is restored,
    // not after.
    if leptos_token_session::may_restore() {
        preload(untrack(|| path.get()));
    }
    // "Stay signed in?" is for a signed-in user only: its code, a chunk of its own, is
    // fetched a second after the first sign-in (not to slow the page being shown), and
    // again every 10 s while that fails (offline), so the warning is not lost. The
    // dialog stays mounted from then on.
    let modal_wanted = RwSignal::new(false);
    Effect::new(move |_| {
        if session.status() == Status::SignedIn && !modal_wanted.get_untracked() {
            Timeout::new(MODAL_DELAY_MS, move || modal_wanted.set(true)).forget();
        }
    });
    let modal_tries = RwSignal::new(0u32);
    let modal = move || {
        modal_tries.track();
        Suspend::new(async move {
            session_modal().await.unwrap_or_else(|_| {
                Timeout::new(MODAL_RETRY_MS, move || modal_tries.update(|n| *n += 1)).forget();
                ().into_any()
            })
        })
    };

    view! {
            <a class="skip-link" href="#main">
                "Skip to content"
            </a>
            <Header />
            <main id="main" class="container">
                // Until the restore decides, neither the login page nor a protected page
                // is shown: no flash of the wrong one.
                <Show
                    when=move || {
                        !matches!(session.status(), Status::Restoring | Status::Reconnecting)
                    }
                    fallback=move || {
                        let text = if session.status() == Status::Reconnecting {
                            "Reconnecting… Your session is kept while the server is out of reach."
                        } else {
                            "Restoring your session…"
                        };
                        view! {
                            <p class="restoring" data-testid="restoring" role="status">
                                {text}
                            </p>
                        }
                    }
                >
                    {move || {
                        let path = path.get();
                        // A page's own reads must not re-render the page: only the path.
                        untrack(|| match page(&path) {
                            Some(page) => page(),
                            None => view! { <NotFound /> }.into_any(),
                        })
                    }}
                </Show>
            </main>
            // Outside `main` and the header: those are made inert while it is open.
            <Show when=move || modal_wanted.get()>{modal}</Show>
            <Toasts />
    }
}

/// The page at `path`, `None` for a path that is none of the app's; every page but the
/// login and consent pages is for a signed-in user only. The sign-in page is in the
/// first download; every other page is a WASM chunk of its own, fetched the first time
/// it is shown (scripts/build-wasm.mjs splits them off): behind the guard, so a
/// signed-out visitor sent to the sign-in page never fetches the page they asked for.
fn page(path: &str) -> Option<fn() -> AnyView> {
    Some(match path {
        LOGIN_PATH => || view! { <Login /> }.into_any(),
        "/oauth/authorize" => || split(|| Box::pin(authorize())),
        "/" => || protected(|| Box::pin(dashboard())),
        "/sessions" => || protected(|| Box::pin(sessions())),
        "/password" => || protected(|| Box::pin(password())),
        "/admin/audit" => || protected(|| Box::pin(audit())),
        _ => return None,
    })
}

/// Starts fetching the chunks of the page at `path` (a failure is only logged: the
/// page's own fetch tries again and says so).
fn preload(path: String) {
    leptos::task::spawn_local(async move {
        let _ = match path.as_str() {
            "/" => preload_dashboard().await,
            "/sessions" => preload_sessions().await,
            "/password" => preload_password().await,
            "/admin/audit" => preload_audit().await,
            _ => Ok(()),
        };
    });
}

/// A page for a signed-in user only, behind the guard: a signed-out visitor is sent to
/// the sign-in page without its chunk being fetched.
fn protected(load: fn() -> PageFuture) -> AnyView {
    view! { <RequireSession>{split(load)}</RequireSession> }.into_any()
}

/// Fetching a page's chunk, then the page: one type for every page, so `split` is built once.
type PageFuture = Pin<Box<dyn Future<Output = Result<AnyView, SplitLoaderError>> + Send>>;

/// A page from its chunk: nothing until it has arrived (a few ms on a warm cache), and a
/// way to try again if it cannot be fetched (offline), rather than a broken app. Before
/// saying so it fetches once more, a second later: a blip of the network, or an instance
/// of a rolling upgrade that does not have this build yet, then goes unnoticed.
fn split(load: fn() -> PageFuture) -> AnyView {
    let retried = RwSignal::new(false);
    (move || {
        let second = retried.get();
        Suspend::new(async move {
            load().await.unwrap_or_else(|_| {
                if second {
                    view! { <PageUnavailable /> }.into_any()
                } else {
                    Timeout::new(PAGE_RETRY_MS, move || retried.set(true)).forget();
                    ().into_any()
                }
            })
        })
    })
    .into_any()
}

// A chunk for the dialog and one per page (`fallible`: a failed fetch is an `Err`, not a
// panic that would stop the whole app).
#[wasm_split(session_modal, wasm_split_path = ::leptos::wasm_split, fallible)]
fn session_modal() -> Result<AnyView, SplitLoaderError> {
    Ok(view! { <SessionModal /> }.into_any())
}

#[wasm_split(page_authorize, wasm_split_path = ::leptos::wasm_split, fallible)]
fn authorize() -> Result<AnyView, SplitLoaderError> {
    Ok(view! { <Authorize /> }.into_any())
}

#[wasm_split(page_dashboard, wasm_split_path = ::leptos::wasm_split, fallible, preload(preload_dashboard))]
fn dashboard() -> Result<AnyView, SplitLoaderError> {
    Ok(view! { <Dashboard /> }.into_any())
}

#[wasm_split(page_sessions, wasm_split_path = ::leptos::wasm_split, fallible, preload(preload_sessions))]
fn sessions() -> Result<AnyView, SplitLoaderError> {
    Ok(view! { <Sessions /> }.into_any())
}

#[wasm_split(page_password, wasm_split_path = ::leptos::wasm_split, fallible, preload(preload_password))]
fn password() -> Result<AnyView, SplitLoaderError> {
    Ok(view! { <Password /> }.into_any())
}

#[wasm_split(page_audit, wasm_split_path = ::leptos::wasm_split, fallible, preload(preload_audit))]
fn audit() -> Result<AnyView, SplitLoaderError> {
    Ok(view! { <Audit /> }.into_any())
}
