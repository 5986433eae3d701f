//! The Leptos client as a library: the token manager, the HTTP client, the session state
//! and the pages. `main.rs` only mounts [`App`]; keeping the rest here lets the pure
//! timing and redirect logic be unit-tested natively (`cargo test -p app --lib`) and lets
//! another Leptos app lift `token`, `api` and `session` as they are.

pub mod api;
pub mod components;
pub mod display;
pub mod hooks;
pub mod navigation;
pub mod pages;
pub mod schedule;
pub mod session;
pub mod tabs;
pub mod theme;
pub mod token;

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::{Route, Router, Routes};
use leptos_router::path;

use crate::components::header::Header;
use crate::components::require_auth::RequireAuth;
use crate::components::session_modal::SessionModal;
use crate::hooks::{use_activity, use_freshness_checks};
use crate::pages::audit::Audit;
use crate::pages::authorize::Authorize;
use crate::pages::dashboard::Dashboard;
use crate::pages::login::Login;
use crate::pages::not_found::NotFound;
use crate::pages::password::Password;
use crate::pages::sessions::Sessions;
use crate::session::{Auth, AuthStatus};
use crate::token::provide_token_manager;

/// The root: session state, token manager, router.
#[component]
pub fn App() -> impl IntoView {
    let auth = Auth::new();
    provide_context(auth);
    let tokens = provide_token_manager(auth);
    use_freshness_checks(&tokens);
    use_activity(&tokens);
    // Exactly one silent refresh at start: the HttpOnly cookie is the only thing that
    // survives a reload, by design.
    spawn_local(tokens.restore());

    view! {
        <Router>
            <a class="skip-link" href="#main">
                "Skip to content"
            </a>
            <Header />
            <main id="main" class="container">
                // Until the restore answers, neither the login page nor a protected page
                // is shown: no flash of the wrong one.
                <Show
                    when=move || auth.status.get() != AuthStatus::Restoring
                    fallback=|| {
                        view! {
                            <p class="restoring" data-testid="restoring" role="status">
                                "Restoring your session…"
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
                                    <RequireAuth>
                                        <Dashboard />
                                    </RequireAuth>
                                }
                            }
                        />
                        <Route
                            path=path!("/sessions")
                            view=|| {
                                view! {
                                    <RequireAuth>
                                        <Sessions />
                                    </RequireAuth>
                                }
                            }
                        />
                        <Route
                            path=path!("/password")
                            view=|| {
                                view! {
                                    <RequireAuth>
                                        <Password />
                                    </RequireAuth>
                                }
                            }
                        />
                        <Route
                            path=path!("/admin/audit")
                            view=|| {
                                view! {
                                    <RequireAuth>
                                        <Audit />
                                    </RequireAuth>
                                }
                            }
                        />
                    </Routes>
                </Show>
            </main>
            // Outside `main` and the header: those are made inert while it is open.
            <SessionModal />
        </Router>
    }
}
