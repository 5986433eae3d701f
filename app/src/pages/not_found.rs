//! Fallback for unknown paths.

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
