//! Light/dark theme: follows `prefers-color-scheme` (also when the system changes while
//! the page is open) until the user picks one.
//!
//! The choice is stored in localStorage (it is a preference, not a secret) and applied as
//! `data-theme` on `<html>`, which the stylesheet lets override the media query.

use leptos::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;

const STORAGE_KEY: &str = "theme";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Theme {
    Light,
    Dark,
}

impl Theme {
    fn as_str(self) -> &'static str {
        match self {
            Self::Light => "light",
            Self::Dark => "dark",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "light" => Some(Self::Light),
            "dark" => Some(Self::Dark),
            _ => None,
        }
    }

    fn other(self) -> Self {
        match self {
            Self::Light => Self::Dark,
            Self::Dark => Self::Light,
        }
    }
}

fn storage() -> Option<web_sys::Storage> {
    // Access can throw (privacy settings, sandboxed frames): treat that as "no storage".
    window().local_storage().ok().flatten()
}

fn stored() -> Option<Theme> {
    storage()?
        .get_item(STORAGE_KEY)
        .ok()
        .flatten()
        .as_deref()
        .and_then(Theme::parse)
}

fn dark_query() -> Option<web_sys::MediaQueryList> {
    window()
        .match_media("(prefers-color-scheme: dark)")
        .ok()
        .flatten()
}

fn system() -> Theme {
    if dark_query().is_some_and(|query| query.matches()) {
        Theme::Dark
    } else {
        Theme::Light
    }
}

fn apply(theme: Option<Theme>) {
    if let Some(root) = document().document_element() {
        let _ = match theme {
            Some(theme) => root.set_attribute("data-theme", theme.as_str()),
            None => root.remove_attribute("data-theme"),
        };
    }
}

/// A button that switches between light and dark, starting from the stored choice or
/// the system's.
#[component]
pub fn ThemeToggle() -> impl IntoView {
    let chosen = stored();
    apply(chosen);
    let theme = RwSignal::new(chosen.unwrap_or_else(system));

    // The system switched (say, at dusk): the button must show what the page shows, or
    // its next click would "switch" to the theme already on screen.
    if let Some(query) = dark_query() {
        let on_change = Closure::<dyn Fn()>::new(move || {
            if stored().is_none() {
                theme.try_set(system());
            }
        });
        let _ =
            query.add_event_listener_with_callback("change", on_change.as_ref().unchecked_ref());
        let handler = StoredValue::new_local(Some((query, on_change)));
        on_cleanup(move || {
            handler.update_value(|h| {
                if let Some((query, on_change)) = h.take() {
                    let _ = query.remove_event_listener_with_callback(
                        "change",
                        on_change.as_ref().unchecked_ref(),
                    );
                }
            });
        });
    }

    let toggle = move |_| {
        let next = theme.get_untracked().other();
        theme.set(next);
        apply(Some(next));
        if let Some(storage) = storage() {
            let _ = storage.set_item(STORAGE_KEY, next.as_str());
        }
    };

    view! {
        <button
            type="button"
            class="theme-toggle"
            data-testid="theme-toggle"
            aria-pressed=move || (theme.get() == Theme::Dark).to_string()
            title="Dark mode"
            on:click=toggle
        >
            <span aria-hidden="true">{move || if theme.get() == Theme::Dark { "☾" } else { "☀" }}</span>
            <span class="visually-hidden">"Dark mode"</span>
        </button>
    }
}
