//! Light/dark theme: follows `prefers-color-scheme` until the user picks one.
//!
//! The choice is stored in localStorage (it is a preference, not a secret) and applied as
//! `data-theme` on `<html>`, which the stylesheet lets override the media query.

use leptos::prelude::*;

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

fn system() -> Theme {
    let dark = window()
        .match_media("(prefers-color-scheme: dark)")
        .ok()
        .flatten()
        .is_some_and(|query| query.matches());
    if dark { Theme::Dark } else { Theme::Light }
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
