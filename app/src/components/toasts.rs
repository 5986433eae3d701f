//! Toasts: short notes about session events, in a polite live region so screen readers
//! announce them without interrupting. Each one goes away after a few seconds or when
//! dismissed.

use std::time::Duration;

use gloo_timers::callback::Timeout;
use leptos::prelude::*;
use leptos_token_session::{SessionEvent, use_session};

/// How long a toast stays.
const SHOW_FOR: Duration = Duration::from_secs(8);
/// At most this many at once; the oldest goes first.
const MAX_TOASTS: usize = 4;

/// What a toast says about an event.
pub fn toast_text(event: SessionEvent) -> &'static str {
    match event {
        SessionEvent::RefreshedAfterSleep => {
            "Welcome back: your session was refreshed after sleep."
        }
        SessionEvent::Reconnecting => "Connection lost. Reconnecting…",
        SessionEvent::BackOnline => "Back online.",
        SessionEvent::SignedOutInAnotherTab => "You signed out in another tab.",
        SessionEvent::SignedInInAnotherTab => "You signed in in another tab.",
        SessionEvent::Ended(reason) => reason.explain(),
        SessionEvent::EndedUnknown => "Your session ended.",
        SessionEvent::AbsoluteEndNear => {
            "Your session reaches its maximum length soon: sign in again to continue."
        }
        SessionEvent::LogoutPending => {
            "Signed out on this device. The server will be told as soon as it can be reached."
        }
    }
}

#[component]
pub fn Toasts() -> impl IntoView {
    let session = use_session();
    let toasts = RwSignal::new(Vec::<(u32, &'static str)>::new());
    let dismiss = move |id: u32| toasts.update(|list| list.retain(|(n, _)| *n != id));

    Effect::new(move |_| {
        let Some((id, event)) = session.last_event() else {
            return;
        };
        toasts.update(|list| {
            list.push((id, toast_text(event)));
            if list.len() > MAX_TOASTS {
                list.remove(0);
            }
        });
        Timeout::new(SHOW_FOR.as_millis() as u32, move || {
            toasts.try_update(|list| list.retain(|(n, _)| *n != id));
        })
        .forget();
    });

    view! {
        <div class="toasts" role="status" aria-live="polite" data-testid="toasts">
            <For each=move || toasts.get() key=|(id, _)| *id let:toast>
                <div class="toast" data-testid="toast">
                    <span>{toast.1}</span>
                    <button
                        type="button"
                        class="toast-close"
                        aria-label="Dismiss"
                        on:click=move |_| dismiss(toast.0)
                    >
                        "×"
                    </button>
                </div>
            </For>
        </div>
    }
}
