//! Fallbacks: an unknown path, and a page whose code could not be fetched.

use crate::router::A;
use leptos::prelude::*;

#[component]
pub fn NotFound() -> impl IntoView {
    view! {
        <section class="card" aria-labelledby="not-found-title">
            <h1 id="not-found-title">"Page not found"</h1>
            <p>"There is nothing at this address."</p>
            <p>
                <A href="/">"Go to the dashboard"</A>
            </p>
        </section>
    }
}

/// A page's WASM chunk could not be fetched (offline, or a deploy replaced it). A reload
/// fetches the current build; the session survives it (the refresh cookie).
#[component]
pub fn PageUnavailable() -> impl IntoView {
    view! {
        <section class="card" aria-labelledby="unavailable-title" data-testid="page-unavailable">
            <h1 id="unavailable-title">"This page could not be loaded"</h1>
            <p>"Check your connection, then try again."</p>
            <p>
                <button type="button" class="primary" on:click=|_| {
                    let _ = window().location().reload();
                }>"Try again"</button>
            </p>
        </section>
    }
}
