//! `/`: the protected page. Proves the token works by asking the server every 2 s, and
//! shows when the session ends.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::use_navigate;
use wire::User;

use crate::api::ApiError;
use crate::components::ErrorAlert;
use crate::hooks::use_interval;
use crate::navigation::LOGIN_PATH;
use crate::schedule::format_countdown;
use crate::session::use_auth;
use crate::token::use_tokens;

const ME: &str = "/api/me";
const VERIFY_EVERY: Duration = Duration::from_secs(2);

#[component]
pub fn Dashboard() -> impl IntoView {
    let auth = use_auth();
    let tokens = use_tokens();
    let navigate = use_navigate();

    let checks = RwSignal::new(0u32);
    let last_check = RwSignal::new(None::<String>);
    let permissions = RwSignal::new(Vec::<String>::new());
    let error = RwSignal::new(None::<String>);
    let logging_out = RwSignal::new(false);

    // `GET /api/me` through the token manager, which refreshes and retries as needed.
    // One check at a time: a slow answer must not pile up requests behind it.
    let busy = Rc::new(Cell::new(false));
    let verify = {
        let tokens = tokens.clone();
        move || {
            if busy.replace(true) {
                return;
            }
            let (tokens, busy) = (tokens.clone(), busy.clone());
            spawn_local(async move {
                match tokens.get::<User>(ME).await {
                    Ok(user) => {
                        checks.try_update(|n| *n += 1);
                        last_check.try_set(Some(clock_time()));
                        permissions.try_set(user.permissions);
                        error.try_set(None);
                    }
                    // Signed out meanwhile (logout, or the session ended): the guard
                    // takes the user to the login page, which says why.
                    Err(ApiError::SignedOut) => {}
                    Err(err) => {
                        error.try_set(Some(format!("Could not verify your session: {err}")));
                    }
                }
                busy.set(false);
            });
        }
    };
    verify();
    use_interval(VERIFY_EVERY, verify);

    let now = RwSignal::new(js_sys::Date::now());
    use_interval(Duration::from_secs(1), move || now.set(js_sys::Date::now()));
    let countdown = move || {
        auth.session_end_local_ms()
            .map(|end| format_countdown(end - now.get()))
    };

    let username = move || auth.user.with(|u| u.as_ref().map(|u| u.username.clone()));
    let roles = move || {
        auth.user
            .with(|u| u.as_ref().map(|u| u.roles.clone()).unwrap_or_default())
    };

    let on_logout = move |_| {
        if logging_out.get_untracked() {
            return;
        }
        logging_out.set(true);
        let (tokens, navigate) = (tokens.clone(), navigate.clone());
        spawn_local(async move {
            tokens.logout().await;
            navigate(LOGIN_PATH, Default::default());
        });
    };

    view! {
        <section class="card" aria-labelledby="dashboard-title">
            <div class="card-head">
                <h1 id="dashboard-title">
                    "Welcome, " <span data-testid="username">{username}</span>
                </h1>
                <button
                    type="button"
                    class="secondary"
                    data-testid="logout"
                    disabled=move || logging_out.get()
                    on:click=on_logout
                >
                    "Log out"
                </button>
            </div>

            {move || {
                countdown()
                    .map(|left| {
                        view! {
                            <p class="countdown" data-testid="countdown">
                                "Session expires in " <strong>{left}</strong>
                            </p>
                        }
                    })
            }}

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
                        "Verified with the server " <span data-testid="me-checks">{move || checks.get()}</span>
                        " times"
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
