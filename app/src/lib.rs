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

use leptos::prelude::*;
use leptos_token_session::{RequireSession, SessionConfig, Status, provide_session};

use crate::components::header::Header;
use crate::components::session_modal::{MODAL_SELECTOR, SessionModal};
use crate::components::toasts::Toasts;
use crate::pages::audit::Audit;
use crate::pages::authorize::Authorize;
use crate::pages::dashboard::Dashboard;
use crate::pages::login::Login;
use crate::pages::not_found::NotFound;
use crate::pages::password::Password;
use crate::pages::sessions::Sessions;

/// The sign-in page; protected pages send signed-out users here.
pub const LOGIN_PATH: &str = "/login";

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
            <SessionModal />
            <Toasts />
    }
}

/// The page at `path`, `None` for a path that is none of the app's; every page but the
/// login and consent pages is for a signed-in user only.
fn page(path: &str) -> Option<fn() -> AnyView> {
    Some(match path {
        LOGIN_PATH => || view! { <Login /> }.into_any(),
        "/oauth/authorize" => || view! { <Authorize /> }.into_any(),
        "/" => || view! { <RequireSession><Dashboard /></RequireSession> }.into_any(),
        "/sessions" => || view! { <RequireSession><Sessions /></RequireSession> }.into_any(),
        "/password" => || view! { <RequireSession><Password /></RequireSession> }.into_any(),
        "/admin/audit" => || view! { <RequireSession><Audit /></RequireSession> }.into_any(),
        _ => return None,
    })
}
