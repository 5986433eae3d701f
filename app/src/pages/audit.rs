//! `/admin/audit`: recent audit events, for the `admin` role. Anyone else is told so
//! and the API is not called (the server would refuse with 403 anyway).

use leptos::prelude::*;
use leptos::task::spawn_local;
use wire::{AuditEvent, ErrorCode};

use crate::components::ErrorAlert;
use crate::components::local_time::LocalTime;
use crate::display::short_id;
use leptos_token_session::{ApiError, use_session};
use wire::text::ellipsize;

const AUDIT: &str = "/api/admin/audit?limit=100";
pub const ADMIN_ROLE: &str = "admin";
const NOT_ADMIN: &str = "You need the admin role to see this.";

#[component]
pub fn Audit() -> impl IntoView {
    let session = use_session();
    let is_admin = move || {
        session
            .user()
            .is_some_and(|u| u.roles.iter().any(|r| r == ADMIN_ROLE))
    };

    view! {
        <section class="card" aria-labelledby="audit-title">
            <h1 id="audit-title">"Audit log"</h1>
            <Show
                when=is_admin
                fallback=|| {
                    view! {
                        <p class="notice" data-testid="not-admin">
                            {NOT_ADMIN}
                        </p>
                    }
                }
            >
                <AuditTable />
            </Show>
        </section>
    }
}

/// Mounted for admins only, so only admins ever call the API.
#[component]
fn AuditTable() -> impl IntoView {
    let session = use_session();
    let events = RwSignal::new(None::<Vec<AuditEvent>>);
    let error = RwSignal::new(None::<String>);
    let loading = RwSignal::new(false);

    let load = move || {
        if loading.get_untracked() {
            return;
        }
        loading.set(true);
        spawn_local(async move {
            match session.get::<Vec<AuditEvent>>(AUDIT).await {
                Ok(list) => {
                    events.try_set(Some(list));
                    error.try_set(None);
                }
                Err(ApiError::SignedOut) => {}
                Err(ApiError::Http {
                    code: ErrorCode::Forbidden,
                    ..
                }) => {
                    error.try_set(Some(NOT_ADMIN.into()));
                }
                Err(err) => {
                    error.try_set(Some(format!("Could not load the audit log: {err}")));
                }
            }
            loading.try_set(false);
        });
    };
    load();

    let rows = move || events.get().unwrap_or_default();

    view! {
        <div class="card-head">
            <p class="muted">"The newest 100 events, newest first. Times are local."</p>
            <button
                type="button"
                class="secondary small"
                disabled=move || loading.get()
                aria-busy=move || loading.get().to_string()
                on:click=move |_| load()
            >
                "Reload"
            </button>
        </div>
        <ErrorAlert message=error testid="error" />
        <Show
            when=move || events.with(Option::is_some)
            fallback=move || {
                view! {
                    <Show when=move || error.with(Option::is_none)>
                        <p class="muted" role="status">
                            "Loading the audit log…"
                        </p>
                    </Show>
                }
            }
        >
            <div class="table-wrap">
                <table class="data-table audit-table" data-testid="audit">
                    <caption class="visually-hidden">"Recent audit events"</caption>
                    <thead>
                        <tr>
                            <th scope="col">"Time"</th>
                            <th scope="col">"Event"</th>
                            <th scope="col">"User"</th>
                            <th scope="col">"Session"</th>
                            <th scope="col">"IP address"</th>
                            <th scope="col">"User agent"</th>
                            <th scope="col">"Detail"</th>
                        </tr>
                    </thead>
                    <tbody>
                        <For each=rows key=|e| e.id children=audit_row />
                    </tbody>
                </table>
            </div>
            <Show when=move || events.with(|e| e.as_ref().is_some_and(Vec::is_empty))>
                <p class="muted">"No events yet."</p>
            </Show>
        </Show>
    }
}

fn audit_row(event: AuditEvent) -> impl IntoView {
    const NONE: &str = "–";
    // Some events name only the user id (a refresh knows the session, not the name).
    let user = match (event.username, event.user_id) {
        (Some(name), _) => name.into_any(),
        (None, Some(id)) => view! {
            <span class="mono muted" title=format!("User id {id}")>
                {short_id(&id)}
            </span>
        }
        .into_any(),
        (None, None) => NONE.into_any(),
    };
    let session = event.session_id.map(|id| {
        view! {
            <span class="mono" title=id.clone()>
                {short_id(&id)}
            </span>
        }
    });
    let agent = event.user_agent.map(|ua| {
        let name = event.device_name.unwrap_or_else(|| ua.clone());
        view! { <span title=ua>{name}</span> }
    });
    let detail = event.detail.map(|d| {
        view! { <span title=d.clone()>{ellipsize(&d, 60)}</span> }
    });
    view! {
        <tr data-testid="audit-row">
            <td data-label="Time" class="nowrap">
                <LocalTime unix_secs=event.at />
            </td>
            <td data-label="Event">
                <code class="event">{event.event}</code>
            </td>
            <td data-label="User" data-testid="audit-username">
                {user}
            </td>
            <td data-label="Session">{session.map_or_else(|| NONE.into_any(), IntoAny::into_any)}</td>
            <td data-label="IP address" class="mono">
                {event.ip.unwrap_or_else(|| NONE.into())}
            </td>
            <td data-label="User agent">{agent.map_or_else(|| NONE.into_any(), IntoAny::into_any)}</td>
            <td data-label="Detail">{detail.map_or_else(|| NONE.into_any(), IntoAny::into_any)}</td>
        </tr>
    }
}
