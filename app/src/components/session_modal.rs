//! "Stay signed in?": a modal dialog shortly before the session ends (the idle or the
//! absolute end, whichever comes first; the session crate decides when,
//! [`leptos_token_session::Session::warning`]).
//!
//! - Idle end near: [Stay signed in] (or any activity in any tab) refreshes, reporting
//!   activity, which slides the idle end on the server;
//!   the new token is handed to every tab, so the dialog closes in all of them.
//!   [Log out] logs out (every tab).
//! - Absolute end near: nothing can extend it, so the dialog says so and offers
//!   [Sign in again] (log out, then the login page) or [Not now].
//!
//! Accessible: `role="dialog"`, `aria-modal="true"`, labelled and described; focus moves
//! to the first button and Tab / Shift+Tab cycle inside; the page behind is `inert`;
//! Escape means "Stay signed in" (or "Not now"); focus returns where it was on close. A
//! polite live region announces the remaining time in coarse steps
//! ([`crate::display::announce_remaining`]), so a screen reader is not talked over every second.

use leptos::ev::KeyboardEvent;
use leptos::html;
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_token_session::{ApiError, SessionWarning, use_session};
use wasm_bindgen::JsCast;
use web_sys::{Element, HtmlElement};

use crate::LOGIN_PATH;
use crate::components::ErrorAlert;
use crate::display::{announce_remaining, format_countdown};
use crate::router::navigate;

/// Attribute on the dialog's root: pointer and key events inside it are answers to the
/// dialog, not activity on the page.
pub const MODAL_MARKER: &str = "data-session-modal";
/// [`MODAL_MARKER`] as a selector.
pub const MODAL_SELECTOR: &str = "[data-session-modal]";

#[component]
pub fn SessionModal() -> impl IntoView {
    let session = use_session();

    // "Not now" on the absolute-end notice holds for that end (a new login has another).
    let dismissed = RwSignal::new(None::<i64>);
    let warning = Memo::new(move |_| {
        let warning = session.warning()?;
        let absolute = session.info().map(|i| i.absolute_expires_at);
        if warning == SessionWarning::MustSignInAgain && dismissed.get() == absolute {
            return None;
        }
        Some(warning)
    });
    let remaining_ms = move || session.remaining_ms().unwrap_or(0.0);
    let countdown = move || format_countdown(remaining_ms());
    let announcement = Memo::new(move |_| announce_remaining(remaining_ms()));

    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);

    let stay = move || {
        if busy.get_untracked() {
            return;
        }
        busy.set(true);
        error.set(None);
        spawn_local(async move {
            match session.stay_signed_in().await {
                // The session is over after all: the guard shows the login page.
                Ok(()) | Err(ApiError::SignedOut) => {}
                Err(err) if err.is_unauthorized() => {}
                Err(err) => {
                    error.try_set(Some(format!("Could not extend your session: {err}")));
                }
            }
            busy.try_set(false);
        });
    };
    let sign_out = move || {
        if busy.get_untracked() {
            return;
        }
        busy.set(true);
        spawn_local(async move {
            session.logout().await;
            navigate(LOGIN_PATH);
            busy.try_set(false);
        });
    };
    let dismiss = move || {
        let absolute = untrack(|| session.info().map(|i| i.absolute_expires_at));
        dismissed.set(absolute);
    };

    // Focus: into the dialog when it opens (or its offer changes), back where it was when
    // it closes; the page behind is inert meanwhile.
    let first = NodeRef::<html::Button>::new();
    let last = NodeRef::<html::Button>::new();
    let opener = StoredValue::new_local(None::<HtmlElement>);
    Effect::new(move |previous: Option<Option<SessionWarning>>| {
        let current = warning.get();
        let was_open = previous.flatten().is_some();
        match (was_open, current.is_some()) {
            (false, true) => {
                opener.set_value(
                    document()
                        .active_element()
                        .and_then(|el| el.dyn_into::<HtmlElement>().ok()),
                );
                set_background_inert(true);
                focus_soon(first);
            }
            (true, true) if previous.flatten() != current => focus_soon(first),
            (true, false) => {
                set_background_inert(false);
                if let Some(el) = opener.get_value() {
                    let _ = el.focus();
                }
                opener.set_value(None);
            }
            _ => {}
        }
        current
    });
    on_cleanup(|| set_background_inert(false));

    let on_keydown = move |ev: KeyboardEvent| match ev.key().as_str() {
        "Escape" => {
            ev.prevent_default();
            match warning.get_untracked() {
                Some(SessionWarning::StaySignedIn) => stay(),
                Some(SessionWarning::MustSignInAgain) => dismiss(),
                None => {}
            }
        }
        "Tab" => {
            let (Some(first), Some(last)) = (first.get_untracked(), last.get_untracked()) else {
                return;
            };
            let active = document().active_element();
            let is = |el: &Element| active.as_ref() == Some(el);
            let outside = active
                .as_ref()
                .and_then(|a| a.closest(MODAL_SELECTOR).ok().flatten())
                .is_none();
            if ev.shift_key() && (outside || is(&first)) {
                ev.prevent_default();
                let _ = last.focus();
            } else if !ev.shift_key() && (outside || is(&last)) {
                ev.prevent_default();
                let _ = first.focus();
            }
        }
        _ => {}
    };

    view! {
        <Show when=move || warning.get().is_some()>
            <div class="modal-backdrop" data-session-modal="">
                <div
                    class="modal"
                    role="dialog"
                    aria-modal="true"
                    aria-labelledby="session-modal-title"
                    aria-describedby="session-modal-text"
                    data-testid="session-modal"
                    on:keydown=on_keydown
                >
                    {move || {
                            match warning.get() {
                                Some(SessionWarning::MustSignInAgain) => {
                                    view! {
                                        <h2 id="session-modal-title">"Your session is ending"</h2>
                                        <p id="session-modal-text">
                                            "This session has reached its maximum length and ends in "
                                            <strong data-testid="session-modal-countdown">
                                                {countdown}
                                            </strong>
                                            ". Staying is not possible: sign in again to continue."
                                        </p>
                                        <div class="modal-actions">
                                            <button
                                                type="button"
                                                class="primary"
                                                node_ref=first
                                                disabled=move || busy.get()
                                                on:click=move |_| sign_out()
                                            >
                                                "Sign in again"
                                            </button>
                                            <button
                                                type="button"
                                                class="secondary"
                                                node_ref=last
                                                on:click=move |_| dismiss()
                                            >
                                                "Not now"
                                            </button>
                                        </div>
                                    }
                                        .into_any()
                                }
                                _ => {
                                    view! {
                                        <h2 id="session-modal-title">"Stay signed in?"</h2>
                                        <p id="session-modal-text">
                                            "You will be signed out for inactivity in "
                                            <strong data-testid="session-modal-countdown">
                                                {countdown}
                                            </strong> "."
                                        </p>
                                        <div class="modal-actions">
                                            <button
                                                type="button"
                                                class="primary"
                                                node_ref=first
                                                disabled=move || busy.get()
                                                aria-busy=move || busy.get().to_string()
                                                on:click=move |_| stay()
                                            >
                                                "Stay signed in"
                                            </button>
                                            <button
                                                type="button"
                                                class="secondary"
                                                node_ref=last
                                                on:click=move |_| sign_out()
                                            >
                                                "Log out"
                                            </button>
                                        </div>
                                    }
                                        .into_any()
                                }
                            }
                    }}
                    <ErrorAlert message=error />
                    <p
                        class="visually-hidden"
                        role="status"
                        aria-live="polite"
                        aria-atomic="true"
                        data-testid="session-modal-live"
                    >
                        {move || announcement.get()}
                    </p>
                </div>
            </div>
        </Show>
    }
}

/// Focuses a button once it is in the document (after this render).
fn focus_soon(button: NodeRef<html::Button>) {
    request_animation_frame(move || {
        if let Some(button) = button.get_untracked() {
            let _ = button.focus();
        }
    });
}

/// Makes the page behind the dialog unreachable by pointer, keyboard and screen reader.
fn set_background_inert(inert: bool) {
    for selector in ["#main", ".site-header"] {
        if let Ok(Some(el)) = document().query_selector(selector) {
            let _ = if inert {
                el.set_attribute("inert", "")
            } else {
                el.remove_attribute("inert")
            };
        }
    }
}
