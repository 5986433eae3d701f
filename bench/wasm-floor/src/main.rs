//! The floor of the first visit: `counter` alone, `router` (two routes), `session` (the
//! session crate signing in and guarding a page), or both. bench/wasm-floor.sh.

use leptos::prelude::*;

#[component]
fn Counter() -> impl IntoView {
    let count = RwSignal::new(0);
    view! { <button on:click=move |_| *count.write() += 1>{count}</button> }
}

#[cfg(feature = "session")]
fn page() -> impl IntoView {
    use leptos_token_session::{SessionConfig, provide_session};
    let session = provide_session(SessionConfig::default());
    let login = move |_| {
        let request = wire::LoginRequest {
            username: "alice".into(),
            password: "alice-password".into(),
            remember_me: false,
            client: wire::LoginClient::Browser,
        };
        leptos::task::spawn_local(async move {
            let _ = session.login(&request).await;
        });
    };
    view! {
        <button on:click=login>"Sign in"</button>
        <leptos_token_session::RequireSession>
            <Counter />
        </leptos_token_session::RequireSession>
    }
}

#[cfg(not(feature = "session"))]
fn page() -> impl IntoView {
    view! { <Counter /> }
}

#[cfg(feature = "router")]
#[component]
fn App() -> impl IntoView {
    use leptos_router::components::{A, FlatRoutes, Route, Router};
    use leptos_router::path;
    view! {
        <Router>
            <nav>
                <A href="/">"Home"</A>
                <A href="/other">"Other"</A>
            </nav>
            <FlatRoutes fallback=|| "Not found">
                <Route path=path!("/") view=page />
                <Route path=path!("/other") view=|| view! { <p>"Other"</p> } />
            </FlatRoutes>
        </Router>
    }
}

#[cfg(not(feature = "router"))]
#[component]
fn App() -> impl IntoView {
    page()
}

fn main() {
    leptos::mount::mount_to_body(App);
}
