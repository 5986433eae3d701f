//! `/oauth/authorize`: the OAuth authorization endpoint, as a page. An app sends the
//! user here with its request in the query; once signed in (the guard goes to the login
//! page and back), the page asks the server what the request is, shows "<app> wants to
//! access your account" with Allow / Deny, and sends the browser where the server says:
//! back to the app with a code, or with an error. A request without a registered app
//! and return address is explained here and goes nowhere.
//!
//! It needs only the session crate's [`use_session`] (bearer calls with refresh) and the
//! wire types.

use leptos::prelude::*;
use leptos::task::spawn_local;
use wire::oauth::{
    AUTHORIZE_API, AuthorizationParams, AuthorizePrompt, AuthorizeRequest, AuthorizeResponse,
    describe_scope,
};

use crate::components::ErrorAlert;
use crate::router::query_param;
use leptos_token_session::{ApiError, RequireSession, use_session};

#[component]
pub fn Authorize() -> impl IntoView {
    view! {
        <RequireSession>
            <Consent />
        </RequireSession>
    }
}

/// What the server said about the request.
#[derive(Clone, Debug, PartialEq)]
struct Ask {
    client_name: String,
    scopes: Vec<String>,
}

#[component]
fn Consent() -> impl IntoView {
    let session = use_session();
    let ask = RwSignal::new(None::<Ask>);
    let error = RwSignal::new(None::<String>);
    // Set once the user answered: the buttons are done, the browser is on its way.
    let leaving = RwSignal::new(false);

    // The request exactly as the app sent it; the server checks every parameter.
    let params = AuthorizationParams {
        client_id: query_param("client_id"),
        redirect_uri: query_param("redirect_uri"),
        response_type: query_param("response_type"),
        state: query_param("state"),
        code_challenge: query_param("code_challenge"),
        code_challenge_method: query_param("code_challenge_method"),
        scope: query_param("scope"),
    };
    let shown = |err: ApiError| Some(format!("This sign-in request cannot go ahead. {err}"));

    let raw_query = web_sys::window()
        .and_then(|w| w.location().search().ok())
        .unwrap_or_default();
    spawn_local({
        async move {
            let path = format!("{AUTHORIZE_API}{raw_query}");
            match session.get::<AuthorizePrompt>(&path).await {
                Ok(AuthorizePrompt::Consent {
                    client_name,
                    scopes,
                }) => {
                    ask.try_set(Some(Ask {
                        client_name,
                        scopes,
                    }));
                }
                Ok(AuthorizePrompt::Redirect { redirect_to }) => {
                    leaving.try_set(true);
                    go_to(&redirect_to);
                }
                Err(ApiError::SignedOut) => {}
                Err(err) => {
                    error.try_set(shown(err));
                }
            }
        }
    });

    // Shown inside a reactive closure, whose views must be `Send`; the handler captures
    // non-`Send` state (single-threaded WASM), so it lives in a local `StoredValue`.
    let answer = StoredValue::new_local(move |approve: bool| {
        if leaving.get_untracked() {
            return;
        }
        leaving.set(true);
        error.set(None);
        let request = AuthorizeRequest {
            params: params.clone(),
            approve,
        };
        spawn_local(async move {
            match session
                .post::<_, AuthorizeResponse>(AUTHORIZE_API, &request)
                .await
            {
                Ok(answer) => go_to(&answer.redirect_to),
                Err(ApiError::SignedOut) => {}
                Err(err) => {
                    error.try_set(shown(err));
                    leaving.try_set(false);
                }
            }
        });
    });

    let consent = move || {
        ask.get().map(|ask| {
            let scopes = ask
                .scopes
                .iter()
                .map(|s| view! { <li>{describe_scope(s)}</li> })
                .collect_view();
            view! {
                <p data-testid="consent">
                    <strong>{ask.client_name.clone()}</strong>
                    " wants to access your account."
                </p>
                <p class="muted">"If you allow it, it will be able to:"</p>
                <ul data-testid="scopes">{scopes}</ul>
                <div class="modal-actions">
                    <button
                        type="button"
                        class="primary"
                        disabled=move || leaving.get()
                        on:click=move |_| answer.with_value(|answer| answer(true))
                    >
                        "Allow"
                    </button>
                    <button
                        type="button"
                        class="secondary"
                        disabled=move || leaving.get()
                        on:click=move |_| answer.with_value(|answer| answer(false))
                    >
                        "Deny"
                    </button>
                </div>
            }
        })
    };

    view! {
        <section class="card narrow" aria-labelledby="authorize-title">
            <h1 id="authorize-title">"Allow access?"</h1>
            <ErrorAlert message=error testid="authorize-error" />
            {move || {
                (ask.with(Option::is_none) && error.with(Option::is_none))
                    .then(|| {
                        view! {
                            <p class="muted" role="status">
                                "Checking the request…"
                            </p>
                        }
                    })
            }}
            {consent}
            {move || {
                leaving
                    .get()
                    .then(|| {
                        view! {
                            <p class="muted" role="status" data-testid="leaving">
                                "Returning you to the app…"
                            </p>
                        }
                    })
            }}
        </section>
    }
}

/// Leaves the SPA for the app's redirect URI (an `http://127.0.0.1:<port>` listener, a
/// custom scheme, a web app). `replace`, so Back does not return to a spent request.
fn go_to(url: &str) {
    if let Some(window) = web_sys::window()
        && let Err(err) = window.location().replace(url)
    {
        leptos::logging::warn!("could not return to the app: {err:?}");
    }
}
