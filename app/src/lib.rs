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
    // "Stay signed in?" is for a signed-in user only, whose tab has the chunk it is in
    // (the token manager's): mounted from the first sign-in on.
    let modal_wanted = RwSignal::new(false);
    Effect::new(move |_| {
        if session.status() == Status::SignedIn {
            modal_wanted.set(true);
        }
    });
    let modal = move || {
        Suspend::new(async move { session_modal().await.unwrap_or_else(|_| ().into_any()) })
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
/// first download; every other page is in the one WASM chunk a signed-in user's tab
/// has anyway: the token manager's (`signed_in`, scripts/build-wasm.mjs splits it off).
/// One chunk, not one per page: with a chunk per page wasm-split adds a module for each
/// set of chunks that share code, and a reload loaded 21 modules in 60–95 ms where it
/// now loads one in 27–37 ms (docs/BENCHMARKS.md, section 12). The pages are behind the guard, so a signed-out
/// visitor sent to the sign-in page fetches nothing for the page they asked for.
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

/// A page for a signed-in user only, behind the guard: a signed-out visitor is sent to
/// the sign-in page without its chunk being fetched.
fn protected(load: fn() -> PageFuture) -> AnyView {
    view! { <RequireSession>{split(load)}</RequireSession> }.into_any()
}

/// Fetching a page's chunk, then the page: one type for every page, so `split` is built once.
type PageFuture = Pin<Box<dyn Future<Output = Result<AnyView, SplitLoaderError>> + Send>>;

/// A page from its chunk: nothing until it has arrived (at once for a signed-in user,
/// whose tab has it), and a way to try again if it cannot be fetched (offline: the
/// consent page of a signed-out visitor), rather than a broken app. Before saying so it
/// fetches once more, a second later: a blip of the network, or an instance of a rolling
/// upgrade that does not have this build yet, then goes unnoticed.
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

// The dialog and the pages, in the token manager's chunk (`signed_in`, named by the
// session crate): `fallible`, so a failed fetch is an `Err`, not a panic that would stop
// the whole app.
#[wasm_split(signed_in, wasm_split_path = ::leptos::wasm_split, fallible)]
fn session_modal() -> Result<AnyView, SplitLoaderError> {
    Ok(view! { <SessionModal /> }.into_any())
}

#[wasm_split(signed_in, wasm_split_path = ::leptos::wasm_split, fallible)]
fn authorize() -> Result<AnyView, SplitLoaderError> {
    Ok(view! { <Authorize /> }.into_any())
}

#[wasm_split(signed_in, wasm_split_path = ::leptos::wasm_split, fallible)]
fn dashboard() -> Result<AnyView, SplitLoaderError> {
    Ok(view! { <Dashboard /> }.into_any())
}

#[wasm_split(signed_in, wasm_split_path = ::leptos::wasm_split, fallible)]
fn sessions() -> Result<AnyView, SplitLoaderError> {
    Ok(view! { <Sessions /> }.into_any())
}

#[wasm_split(signed_in, wasm_split_path = ::leptos::wasm_split, fallible)]
fn password() -> Result<AnyView, SplitLoaderError> {
    Ok(view! { <Password /> }.into_any())
}

#[wasm_split(signed_in, wasm_split_path = ::leptos::wasm_split, fallible)]
fn audit() -> Result<AnyView, SplitLoaderError> {
    Ok(view! { <Audit /> }.into_any())
}
