//! Small hooks that own a browser resource and release it with the component.

use std::time::Duration;

use leptos::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::VisibilityState;

use crate::token::TokenManager;

/// Calls `tick` every `period` while the calling component is mounted.
pub fn use_interval(period: Duration, tick: impl Fn() + 'static) {
    if let Ok(handle) = set_interval_with_handle(tick, period) {
        on_cleanup(move || handle.clear());
    }
}

/// Asks the token manager to re-check freshness whenever the page may have been asleep:
/// it becomes visible again, gains focus, comes back online, or is restored from the
/// back/forward cache. Hidden tabs have their timers throttled and sleeping machines stop
/// them, so the proactive refresh timer alone cannot be trusted.
pub fn use_freshness_checks(tokens: &TokenManager) {
    // `visibilitychange` fires at the document and bubbles to the window.
    let handles = ["visibilitychange", "focus", "online", "pageshow"].map(|event| {
        let tokens = tokens.clone();
        window_event_listener_untyped(event, move |_| {
            if document().visibility_state() == VisibilityState::Visible {
                tokens.check();
            }
        })
    });
    on_cleanup(move || handles.into_iter().for_each(WindowListenerHandle::remove));
}

/// Reports pointer and key activity to the token manager, which tells the other tabs
/// (throttled) and refreshes if the idle end is near. Events inside the "Stay signed in?"
/// dialog are answers to it, not activity.
pub fn use_activity(tokens: &TokenManager) {
    let marker = format!("[{}]", crate::components::session_modal::MODAL_MARKER);
    let handles = ["pointerdown", "keydown"].map(|event| {
        let (tokens, marker) = (tokens.clone(), marker.clone());
        window_event_listener_untyped(event, move |ev| {
            let in_dialog = ev
                .target()
                .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
                .and_then(|el| el.closest(&marker).ok().flatten())
                .is_some();
            if !in_dialog {
                tokens.note_activity();
            }
        })
    });
    on_cleanup(move || handles.into_iter().for_each(WindowListenerHandle::remove));
}
