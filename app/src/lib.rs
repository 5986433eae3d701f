//! The Leptos client as a library: pages and components on top of the session crate
//! (`leptos-token-session`), which holds the token, refreshes it, keeps the tabs in step
//! and makes every authenticated call. `main.rs` only mounts [`App`]; keeping the rest
//! here lets the pure text logic be unit-tested natively (`cargo test -p app --lib`).

pub mod components;
pub mod display;
pub mod hooks;
pub mod pages;
pub mod theme;

use leptos::prelude::*;
use leptos_router::components::{Route, Router, Routes};
use leptos_router::path;
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

    view! {
        <Router>
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
                    <Routes fallback=NotFound>
                        <Route path=path!("/login") view=Login />
                        <Route path=path!("/oauth/authorize") view=Authorize />
                        <Route
                            path=path!("/")
                            view=|| {
                                view! {
                                    <RequireSession>
                                        <Dashboard />
                                    </RequireSession>
                                }
                            }
                        />
                        <Route
                            path=path!("/sessions")
                            view=|| {
                                view! {
                                    <RequireSession>
                                        <Sessions />
                                    </RequireSession>
                                }
                            }
                        />
                        <Route
                            path=path!("/password")
                            view=|| {
                                view! {
                                    <RequireSession>
                                        <Password />
                                    </RequireSession>
                                }
                            }
                        />
                        <Route
                            path=path!("/admin/audit")
                            view=|| {
                                view! {
                                    <RequireSession>
                                        <Audit />
                                    </RequireSession>
                                }
                            }
                        />
                    </Routes>
                </Show>
            </main>
            // Outside `main` and the header: those are made inert while it is open.
            <SessionModal />
            <Toasts />
        </Router>
    }
}
