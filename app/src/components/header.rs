//! The site header: app name, the page links for a signed-in user, who is signed in,
//! the theme toggle.

use leptos::prelude::*;
use leptos_router::components::A;

use crate::pages::audit::ADMIN_ROLE;
use crate::session::use_auth;
use crate::theme::ThemeToggle;

/// Name shown in the header and the document title.
pub const APP_NAME: &str = "Refresh, done right";

#[component]
pub fn Header() -> impl IntoView {
    let auth = use_auth();
    let username = move || auth.user.with(|u| u.as_ref().map(|u| u.username.clone()));
    let signed_in = move || auth.user.with(Option::is_some);
    let is_admin = move || {
        auth.user.with(|u| {
            u.as_ref()
                .is_some_and(|u| u.roles.iter().any(|r| r == ADMIN_ROLE))
        })
    };

    view! {
        <header class="site-header">
            <nav class="site-nav" aria-label="Main">
                <A href="/" attr:class="brand">
                    <img src="/favicon.svg" alt="" width="28" height="28" />
                    <span>{APP_NAME}</span>
                </A>
                <Show when=signed_in>
                    <ul class="nav-links" data-testid="nav">
                        <li>
                            <A href="/" exact=true>
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
                                    <span class="signed-in-as">
                                        "Signed in as " <strong>{name}</strong>
                                    </span>
                                }
                            })
                    }}
                    <ThemeToggle />
                </div>
            </nav>
        </header>
    }
}
