//! The site header: app name, who is signed in, the theme toggle.

use leptos::prelude::*;
use leptos_router::components::A;

use crate::session::use_auth;
use crate::theme::ThemeToggle;

/// Name shown in the header and the document title.
pub const APP_NAME: &str = "Refresh, done right";

#[component]
pub fn Header() -> impl IntoView {
    let auth = use_auth();
    let username = move || auth.user.with(|u| u.as_ref().map(|u| u.username.clone()));

    view! {
        <header class="site-header">
            <nav class="site-nav" aria-label="Main">
                <A href="/" attr:class="brand">
                    <img src="/favicon.svg" alt="" width="28" height="28" />
                    <span>{APP_NAME}</span>
                </A>
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
