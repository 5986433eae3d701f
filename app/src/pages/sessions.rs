//! `/sessions`: where the user is signed in. Revoke another device, or log out
//! everywhere (this device included).

use std::cell::Cell;
use std::rc::Rc;

use leptos::prelude::*;
use leptos::task::spawn_local;
use wire::{ErrorCode, SessionSummary};

use crate::LOGIN_PATH;
use crate::components::ErrorAlert;
use crate::components::local_time::LocalTime;
use crate::router::navigate;
use leptos_token_session::{ApiError, use_session};

const SESSIONS: &str = "/api/auth/sessions";

type Revoke = StoredValue<Box<dyn Fn(String)>, LocalStorage>;

#[component]
pub fn Sessions() -> impl IntoView {
    let session = use_session();

    let sessions = RwSignal::new(None::<Vec<SessionSummary>>);
    let error = RwSignal::new(None::<String>);
    // The id being revoked: one at a time, and its button says so.
    let revoking = RwSignal::new(None::<String>);
    let ending_all = RwSignal::new(false);

    // Only the newest load may write the list: an older, slower answer must not
    // bring back a session that was revoked meanwhile.
    let latest = Rc::new(Cell::new(0u32));
    let load = {
        move || {
            let seq = latest.get().wrapping_add(1);
            latest.set(seq);
            let latest = latest.clone();
            spawn_local(async move {
                let result = session.get::<Vec<SessionSummary>>(SESSIONS).await;
                if latest.get() != seq {
                    return;
                }
                match result {
                    // In the server's order: this device, then the most recently used.
                    Ok(list) => {
                        sessions.try_set(Some(list));
                    }
                    // The guard takes a signed-out user to the login page.
                    Err(ApiError::SignedOut) => {}
                    Err(err) => {
                        error.try_set(Some(format!("Could not load your sessions: {err}")));
                    }
                }
            });
        }
    };
    load();

    // Rows are rendered by `<For>`, whose children must be `Send`; the manager is not
    // (single-threaded WASM), so the handler lives in a local `StoredValue`.
    let revoke: Revoke = StoredValue::new_local(Box::new({
        let load = load.clone();
        move |id: String| {
            if revoking.get_untracked().is_some() {
                return;
            }
            revoking.set(Some(id.clone()));
            error.set(None);
            let load = load.clone();
            spawn_local(async move {
                match session.delete(&format!("{SESSIONS}/{id}")).await {
                    // Already ended elsewhere: the reload shows it gone.
                    Ok(())
                    | Err(ApiError::Http {
                        code: ErrorCode::NotFound,
                        ..
                    }) => {}
                    Err(ApiError::SignedOut) => return,
                    Err(err) => {
                        error.try_set(Some(format!("Could not revoke that session: {err}")));
                    }
                }
                revoking.try_set(None);
                load();
            });
        }
    }));

    let on_logout_everywhere = move |_| {
        if ending_all.get_untracked() {
            return;
        }
        ending_all.set(true);
        error.set(None);
        spawn_local(async move {
            match session.logout_everywhere().await {
                Ok(()) => navigate(LOGIN_PATH),
                Err(ApiError::SignedOut) => {}
                Err(err) => {
                    error.try_set(Some(format!("Could not log out everywhere: {err}")));
                    ending_all.try_set(false);
                }
            }
        });
    };

    let rows = move || sessions.get().unwrap_or_default();

    view! {
        <section class="card" aria-labelledby="sessions-title">
            <h1 id="sessions-title">"Sessions"</h1>
            <p class="muted">
                "Everywhere you are signed in. Revoking a session signs that device out "
                "at once: its access stops working on its next request."
            </p>

            <ErrorAlert message=error testid="error" />

            <Show
                when=move || sessions.with(Option::is_some)
                fallback=|| {
                    view! {
                        <p class="muted" role="status">
                            "Loading your sessions…"
                        </p>
                    }
                }
            >
                <div class="table-wrap">
                    <table class="data-table" data-testid="sessions">
                        <caption class="visually-hidden">"Your sessions"</caption>
                        <thead>
                            <tr>
                                <th scope="col">"Device"</th>
                                <th scope="col">"IP address"</th>
                                <th scope="col">"Signed in"</th>
                                <th scope="col">"Last used"</th>
                                <th scope="col">
                                    <span class="visually-hidden">"Actions"</span>
                                </th>
                            </tr>
                        </thead>
                        <tbody>
                            <For
                                each=rows
                                key=|s| (s.id.clone(), s.last_used_at)
                                children=move |session| session_row(session, revoking, revoke)
                            />
                        </tbody>
                    </table>
                </div>
            </Show>

            <div class="danger-zone">
                <div>
                    <h2>"Sign out every device"</h2>
                    <p class="muted">"Ends every session, this one included."</p>
                </div>
                <button
                    type="button"
                    class="danger"
                    disabled=move || ending_all.get()
                    aria-busy=move || ending_all.get().to_string()
                    on:click=on_logout_everywhere
                >
                    "Log out everywhere"
                </button>
            </div>
        </section>
    }
}

fn session_row(
    session: SessionSummary,
    revoking: RwSignal<Option<String>>,
    revoke: Revoke,
) -> impl IntoView {
    let device = if session.device_name.is_empty() {
        session.device.clone()
    } else {
        session.device_name
    };
    let action = (!session.current).then(|| {
        let id = session.id.clone();
        let busy = {
            let id = id.clone();
            move || revoking.with(|r| r.as_deref() == Some(id.as_str()))
        };
        let label = format!("Revoke the session on {device}");
        view! {
            <button
                type="button"
                class="secondary small"
                data-testid="revoke"
                aria-label=label
                disabled=move || revoking.with(Option::is_some)
                on:click=move |_| revoke.with_value(|revoke| revoke(id.clone()))
            >
                {move || if busy() { "Revoking…" } else { "Revoke" }}
            </button>
        }
    });
    view! {
        <tr data-testid="session-row" class:current=session.current>
            <td data-label="Device">
                <span class="device" title=session.device.clone()>
                    {device}
                </span>
                {session
                    .current
                    .then(|| {
                        view! {
                            <span class="badge" data-testid="this-device">
                                "This device"
                            </span>
                        }
                    })}
            </td>
            <td data-label="IP address" class="mono">
                {session.ip}
            </td>
            <td data-label="Signed in">
                <LocalTime unix_secs=session.created_at />
            </td>
            <td data-label="Last used">
                <LocalTime unix_secs=session.last_used_at relative=true />
            </td>
            <td class="actions">{action}</td>
        </tr>
    }
}
