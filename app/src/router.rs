//! Client-side routing for this app's handful of flat paths: the path as a signal, links
//! that change it without a page load, and navigation from code.
//!
//! In place of `leptos_router`, which cost about 40 KB of the 220 KB brotli first visit
//! for what the app used of it (docs/BENCHMARKS.md, section 9). The browser's location
//! is the one source of truth: [`navigate`] and [`replace`] change the history entry,
//! then dispatch `popstate`, the event the Back and Forward buttons fire
//! ([`leptos_token_session::go`], which the session guard uses too), so one listener
//! keeps the path signal current whoever moved.

use leptos::ev;
use leptos::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{HtmlAnchorElement, MouseEvent, UrlSearchParams};

/// The current path (`location.pathname`), provided by [`provide_router`].
#[derive(Clone, Copy)]
pub struct Path(Memo<String>);

impl Path {
    /// The path (reactive; changes only when the path does, not the query or hash).
    pub fn get(&self) -> String {
        self.0.get()
    }
}

/// Starts following the location and provides [`Path`] below: call once, at the root.
/// Clicks on links to a page of the app (`is_page`) anywhere on the page become
/// [`navigate`] calls; links to anything else on the origin (the API, a file) load.
pub fn provide_router(is_page: fn(&str) -> bool) -> Path {
    let current = RwSignal::new(pathname());
    let path = Path(Memo::new(move |_| current.get()));
    let popstate = window_event_listener(ev::popstate, move |_| current.set(pathname()));
    let click = window_event_listener(ev::click, move |ev| on_click(ev, is_page));
    on_cleanup(move || {
        popstate.remove();
        click.remove();
    });
    provide_context(path);
    path
}

fn use_path() -> Path {
    use_context::<Path>().expect("provide_router() is called at the root of the app")
}

/// Goes to `to` (a local path, with any query and hash) as a new history entry.
pub fn navigate(to: &str) {
    go(to, false);
}

/// Goes to `to` in place of the current history entry (a redirect: Back skips it).
pub fn replace(to: &str) {
    go(to, true);
}

fn go(to: &str, replace: bool) {
    leptos_token_session::go(to, replace);
    // A new page starts at its top, as a page load would.
    if !to.contains('#') {
        window().scroll_to_with_x_and_y(0.0, 0.0);
    }
}

/// A query parameter of the current URL (read when called: not reactive).
pub fn query_param(name: &str) -> Option<String> {
    let search = window().location().search().ok()?;
    UrlSearchParams::new_with_str(&search).ok()?.get(name)
}

/// The path, without the one trailing slash a typed or bookmarked address may have.
fn pathname() -> String {
    let path = window()
        .location()
        .pathname()
        .unwrap_or_else(|_| "/".into());
    normalize(&path).to_owned()
}

fn normalize(path: &str) -> &str {
    match path.strip_suffix('/') {
        Some(trimmed) if !trimmed.is_empty() => trimmed,
        _ => path,
    }
}

/// A plain left click on a link to a page of the app moves in place; anything else (a
/// modifier key for a new tab, `target`, `download`, `rel="external"`, another origin or
/// scheme, a path that is no page, a jump to an anchor of this page) is the browser's.
fn on_click(ev: MouseEvent, is_page: fn(&str) -> bool) {
    if ev.default_prevented()
        || ev.button() != 0
        || ev.meta_key()
        || ev.ctrl_key()
        || ev.shift_key()
        || ev.alt_key()
    {
        return;
    }
    let Some(link) = ev
        .target()
        .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
        .and_then(|el| el.closest("a[href]").ok().flatten())
        .and_then(|el| el.dyn_into::<HtmlAnchorElement>().ok())
    else {
        return;
    };
    let location = window().location();
    let (path, search, hash) = (link.pathname(), link.search(), link.hash());
    let here = |part: Result<String, _>, of_link: &str| part.is_ok_and(|p| p == of_link);
    let same_page = here(location.pathname(), &path) && here(location.search(), &search);
    if link.has_attribute("download")
        || !matches!(link.target().as_str(), "" | "_self")
        || link.rel().split_ascii_whitespace().any(|r| r == "external")
        || !here(location.origin(), &link.origin())
        || !here(location.protocol(), &link.protocol())
        || !is_page(normalize(&path))
        || (same_page && !hash.is_empty())
    {
        return;
    }
    ev.prevent_default();
    let to = format!("{path}{search}{hash}");
    // The page already shown: no second history entry for it (Back would seem stuck).
    if same_page {
        replace(&to)
    } else {
        navigate(&to)
    }
}

/// A link within the app, marked `aria-current="page"` while its page is shown.
#[component]
pub fn A(
    href: &'static str,
    #[prop(optional)] class: &'static str,
    children: Children,
) -> impl IntoView {
    let path = use_path();
    let current = move || (path.get() == href).then_some("page");
    view! {
        <a href=href class=(!class.is_empty()).then_some(class) aria-current=current>
            {children()}
        </a>
    }
}
