//! `/password`: change the password. The server ends every other session; this one
//! stays signed in.

use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos::task::spawn_local;
use wire::{ChangePasswordRequest, ErrorCode};

use crate::components::ErrorAlert;
use leptos_token_session::{ApiError, use_session};

const PASSWORD: &str = "/api/auth/password";
/// The server's rule, checked here first so the user hears it before a round trip.
pub const MIN_PASSWORD_CHARS: usize = 12;

/// Why the new password cannot be sent, if it cannot.
pub fn check_new_password(new: &str, confirm: &str) -> Result<(), &'static str> {
    if new.chars().count() < MIN_PASSWORD_CHARS {
        Err("The new password must be at least 12 characters long.")
    } else if new != confirm {
        Err("The new password and its confirmation do not match.")
    } else {
        Ok(())
    }
}

#[component]
pub fn Password() -> impl IntoView {
    let session = use_session();

    let current = RwSignal::new(String::new());
    let new = RwSignal::new(String::new());
    let confirm = RwSignal::new(String::new());
    let submitting = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let changed = RwSignal::new(false);

    let on_submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        if submitting.get_untracked() {
            return;
        }
        changed.set(false);
        if let Err(problem) = check_new_password(&new.get_untracked(), &confirm.get_untracked()) {
            error.set(Some(problem.into()));
            return;
        }
        error.set(None);
        submitting.set(true);
        let request = ChangePasswordRequest {
            current_password: current.get_untracked(),
            new_password: new.get_untracked(),
        };
        spawn_local(async move {
            match session.post::<_, ()>(PASSWORD, &request).await {
                Ok(()) => {
                    // Done with them: passwords do not stay in memory or on screen.
                    for field in [current, new, confirm] {
                        field.try_set(String::new());
                    }
                    changed.try_set(true);
                }
                // The session ended meanwhile; the guard takes over.
                Err(ApiError::SignedOut) => {}
                Err(err) => {
                    error.try_set(Some(password_error_message(&err)));
                }
            }
            submitting.try_set(false);
        });
    };

    view! {
        <section class="card narrow" aria-labelledby="password-title">
            <h1 id="password-title">"Change password"</h1>
            <p class="muted">"Every other device you are signed in on will be signed out."</p>
            {move || {
                changed
                    .get()
                    .then(|| {
                        view! {
                            <p class="notice success" role="status" data-testid="password-changed">
                                "Password changed. Your other sessions were signed out."
                            </p>
                        }
                    })
            }}
            <form class="stack" on:submit=on_submit>
                <div class="field">
                    <label for="current-password">"Current password"</label>
                    <input
                        id="current-password"
                        name="current_password"
                        type="password"
                        autocomplete="current-password"
                        required
                        bind:value=current
                    />
                </div>
                <div class="field">
                    <label for="new-password">"New password"</label>
                    <input
                        id="new-password"
                        name="new_password"
                        type="password"
                        autocomplete="new-password"
                        aria-describedby="new-password-hint"
                        required
                        bind:value=new
                    />
                    <small id="new-password-hint" class="hint">
                        "At least 12 characters; a few unrelated words make a strong one."
                    </small>
                </div>
                <div class="field">
                    <label for="confirm-password">"Confirm new password"</label>
                    <input
                        id="confirm-password"
                        name="confirm_password"
                        type="password"
                        autocomplete="new-password"
                        required
                        bind:value=confirm
                    />
                </div>
                <ErrorAlert message=error testid="password-error" />
                <button
                    type="submit"
                    class="primary"
                    disabled=move || submitting.get()
                    aria-busy=move || submitting.get().to_string()
                >
                    "Change password"
                </button>
            </form>
        </section>
    }
}

/// A sentence for a refused change; never echoes a password.
fn password_error_message(err: &ApiError) -> String {
    match err {
        ApiError::Http {
            code: ErrorCode::InvalidCredentials,
            ..
        } => "Your current password is not correct.".into(),
        ApiError::Http {
            code: ErrorCode::RateLimited,
            ..
        } => "Too many attempts. Please try again in a moment.".into(),
        ApiError::Http { status, .. } if *status >= 500 => {
            "The server could not change your password right now. Please try again.".into()
        }
        ApiError::Http { message, .. } if !message.is_empty() => message.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_password_needs_twelve_characters_and_a_matching_confirmation() {
        assert!(check_new_password("short", "short").is_err());
        // Characters, not bytes: 11 characters in 22 bytes is still too short.
        assert!(check_new_password("ééééééééééé", "ééééééééééé").is_err());
        assert_eq!(
            check_new_password("long enough words", "long enough wordS"),
            Err("The new password and its confirmation do not match.")
        );
        assert_eq!(
            check_new_password("long enough words", "long enough words"),
            Ok(())
        );
    }
}
