//! `/login`: username, password, "Remember me"; returns the user to `next` afterwards.

use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos::task::spawn_local;
use wire::{ErrorCode, LoginClient, LoginRequest};

use crate::components::ErrorAlert;
use crate::router::{query_param, replace};
use leptos_token_session::{ApiError, use_session};
use leptos_token_session::{Status, safe_next};

#[component]
pub fn Login() -> impl IntoView {
    let session = use_session();

    let username = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let remember_me = RwSignal::new(false);
    let submitting = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);

    // Signed in (just now, or already when arriving here): go where the user was going.
    Effect::new(move |_| {
        if session.status() == Status::SignedIn {
            let next = query_param("next");
            replace(safe_next(next.as_deref()));
        }
    });

    let on_submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        if submitting.get_untracked() {
            return;
        }
        submitting.set(true);
        error.set(None);
        let request = LoginRequest {
            username: username.get_untracked().trim().to_owned(),
            password: password.get_untracked(),
            remember_me: remember_me.get_untracked(),
            client: LoginClient::Browser,
        };
        spawn_local(async move {
            let result = session.login(&request).await;
            // The password has done its job; do not keep it in memory any longer.
            password.try_set(String::new());
            if let Err(err) = result {
                error.try_set(Some(login_error_message(&err)));
            }
            submitting.try_set(false);
        });
    };

    view! {
        <section class="card narrow" aria-labelledby="login-title">
            <h1 id="login-title">"Sign in"</h1>
            {move || {
                session
                    .notice()
                    .map(|notice| {
                        view! {
                            <p class="notice" role="status" data-testid="notice">
                                {notice}
                            </p>
                        }
                    })
            }}
            <form class="stack" on:submit=on_submit>
                <div class="field">
                    <label for="username">"Username"</label>
                    <input
                        id="username"
                        name="username"
                        type="text"
                        autocomplete="username"
                        autocapitalize="none"
                        spellcheck="false"
                        required
                        bind:value=username
                    />
                </div>
                <div class="field">
                    <label for="password">"Password"</label>
                    <input
                        id="password"
                        name="password"
                        type="password"
                        autocomplete="current-password"
                        required
                        bind:value=password
                    />
                </div>
                <div class="field checkbox">
                    <input id="remember-me" name="remember_me" type="checkbox" bind:checked=remember_me />
                    <label for="remember-me">"Remember me"</label>
                </div>
                <ErrorAlert message=error testid="login-error" />
                <button
                    type="submit"
                    class="primary"
                    disabled=move || submitting.get()
                    aria-busy=move || submitting.get().to_string()
                >
                    "Sign in"
                </button>
            </form>
        </section>
    }
}

/// A sentence for a failed sign-in; never echoes what the user typed.
fn login_error_message(err: &ApiError) -> String {
    match err {
        ApiError::Http {
            code: ErrorCode::InvalidCredentials,
            ..
        } => "Wrong username or password.".into(),
        ApiError::Http {
            code: ErrorCode::RateLimited,
            retry_after,
            ..
        } => match retry_after {
            Some(secs) => {
                format!("Too many sign-in attempts. Please try again in {secs} seconds.")
            }
            None => "Too many sign-in attempts. Please try again in a moment.".into(),
        },
        ApiError::Http { status, .. } if *status >= 500 => {
            "The server could not sign you in right now. Please try again.".into()
        }
        ApiError::Http { message, .. } if !message.is_empty() => message.clone(),
        other => other.to_string(),
    }
}
