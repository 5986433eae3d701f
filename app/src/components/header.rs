//! The site header on every page: app name, the page links, and for a signed-in user the
//! session countdown, who is signed in and "Log out"; the theme toggle.

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_token_session::use_session;

use crate::LOGIN_PATH;
use crate::display::format_countdown;
use crate::pages::audit::ADMIN_ROLE;
use crate::router::{A, navigate};
use crate::theme::ThemeToggle;

/// Name shown in the header and the document title.
pub const APP_NAME: &str = "Refresh, done right";

#[component]
pub fn Header() -> impl IntoView {
    let session = use_session();
    let username = move || session.user().map(|u| u.username);
    let signed_in = move || session.user().is_some();
    let is_admin = move || {
        session
            .user()
            .is_some_and(|u| u.roles.iter().any(|r| r == ADMIN_ROLE))
    };
    let countdown = move || session.remaining_ms().map(format_countdown);
    let logging_out = RwSignal::new(false);
    let on_logout = move |_| {
        if logging_out.get_untracked() {
            return;
        }
        logging_out.set(true);
        spawn_local(async move {
            session.logout().await;
            navigate(LOGIN_PATH);
            logging_out.try_set(false);
        });
    };

    view! {
        <header class="site-header">
            <nav class="site-nav" aria-label="Main">
                <A href="/" class="brand">
                    <img src="/favicon.svg" alt="" width="28" height="28" />
                    <span>{APP_NAME}</span>
                </A>
                <Show when=signed_in>
                    <ul class="nav-links" data-testid="nav">
                        <li>
                            <A href="/">
                                "Dashboard"
                            </A>
                        </li>
                        <li>
                            <A href="/sessions">"Sessions"</A>
                        </li>
                        <li>
                            <A href="/password">"Password"</A>
                        </li>
                        <Show when=is_admin>
                            <li>
                                <A href="/admin/audit">"Audit"</A>
                            </li>
                        </Show>
                    </ul>
                </Show>
                <div class="site-nav-end">
                    {move || {
                        username()
                            .map(|name| {
                                view! {
                                    <span class="signed-in-as" data-testid="signed-in-as">
                                        "Signed in as " <strong>{name}</strong>
                                    </span>
                                    <span class="countdown" data-testid="countdown" title="Until the session ends">
                                        <span class="visually-hidden">"Session ends in "</span>
                                        {countdown}
                                    </span>
                                    <Show when=move || session.reconnecting()>
                                        <span class="badge warn" data-testid="reconnecting" role="status">
                                            "Reconnecting…"
                                        </span>
                                    </Show>
                                    <button
                                        type="button"
                                        class="secondary small"
                                        data-testid="logout"
                                        disabled=move || logging_out.get()
                                        on:click=on_logout
                                    >
                                        "Log out"
                                    </button>
                                }
                            })
                    }}
                    <ThemeToggle />
                </div>
            </nav>
        </header>
    }
}
