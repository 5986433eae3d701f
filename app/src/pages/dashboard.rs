//! `/`: the protected page. Proves the token works by asking the server every 2 s, and
//! shows the session's timeline.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_token_session::{ApiError, use_session};
use wire::User;

use crate::components::ErrorAlert;
use crate::components::timeline::SessionTimeline;
use crate::hooks::use_interval;

const ME: &str = "/api/me";
const VERIFY_EVERY: Duration = Duration::from_secs(2);

#[component]
pub fn Dashboard() -> impl IntoView {
    let session = use_session();

    let checks = RwSignal::new(0u32);
    let last_check = RwSignal::new(None::<String>);
    let permissions = RwSignal::new(Vec::<String>::new());
    let error = RwSignal::new(None::<String>);

    // `GET /api/me` through the session, which refreshes and retries as needed.
    // One check at a time: a slow answer must not pile up requests behind it.
    let busy = Rc::new(Cell::new(false));
    let verify = move || {
        if busy.replace(true) {
            return;
        }
        let busy = busy.clone();
        spawn_local(async move {
            match session.get::<User>(ME).await {
                Ok(user) => {
                    checks.try_update(|n| *n += 1);
                    last_check.try_set(Some(clock_time()));
                    permissions.try_set(user.permissions);
                    error.try_set(None);
                }
                // Signed out meanwhile (logout, or the session ended): the guard takes
                // the user to the login page, which says why.
                Err(ApiError::SignedOut) => {}
                Err(err) => {
                    error.try_set(Some(format!("Could not verify your session: {err}")));
                }
            }
            busy.set(false);
        });
    };
    verify();
    use_interval(VERIFY_EVERY, verify);

    let username = move || session.user().map(|u| u.username);
    let roles = move || session.user().map(|u| u.roles).unwrap_or_default();
    let checks_text = move || match checks.get() {
        1 => "once".to_owned(),
        n => format!("{n} times"),
    };

    view! {
        <section class="card" aria-labelledby="dashboard-title">
            <h1 id="dashboard-title">"Welcome, " <span data-testid="username">{username}</span></h1>

            <dl class="facts">
                <div>
                    <dt>"Roles"</dt>
                    <dd>
                        <ul class="tags" data-testid="roles">
                            <For each=roles key=|role| role.clone() let:role>
                                <li class="tag">{role}</li>
                            </For>
                        </ul>
                        <Show when=move || roles().is_empty()>
                            <span class="muted">"No roles"</span>
                        </Show>
                    </dd>
                </div>
                <div>
                    <dt>"Permissions"</dt>
                    <dd data-testid="permissions">
                        {move || {
                            let list = permissions.get();
                            if list.is_empty() { "None".to_owned() } else { list.join(", ") }
                        }}
                    </dd>
                </div>
                <div>
                    <dt>"Server checks"</dt>
                    <dd>
                        "Verified with the server "
                        <span data-testid="me-checks" data-count=move || checks.get()>
                            {checks_text}
                        </span>
                        {move || {
                            last_check
                                .get()
                                .map(|at| {
                                    view! {
                                        ", last at "
                                        <time data-testid="last-check">{at}</time>
                                    }
                                })
                        }}
                    </dd>
                </div>
            </dl>

            <ErrorAlert message=error testid="error" />

            <SessionTimeline />
        </section>
    }
}

/// Local time of day as `HH:MM:SS`.
fn clock_time() -> String {
    let now = js_sys::Date::new_0();
    format!(
        "{:02}:{:02}:{:02}",
        now.get_hours(),
        now.get_minutes(),
        now.get_seconds()
    )
}
