//! Guard for protected routes.

use leptos::prelude::*;
use leptos_router::NavigateOptions;
use leptos_router::hooks::{use_location, use_navigate};

use crate::navigation::{LOGIN_PATH, login_url};
use crate::session::{AuthStatus, use_auth};

/// Shows `children` only to a signed-in user; anyone else is sent to the login page,
/// which brings them back here afterwards.
#[component]
pub fn RequireAuth(children: ChildrenFn) -> impl IntoView {
    let auth = use_auth();
    let location = use_location();
    let navigate = use_navigate();

    Effect::new(move |_| {
        if auth.status.get() != AuthStatus::SignedOut {
            return;
        }
        let path = location.pathname.get_untracked();
        // A deliberate logout already navigated to the login page: nothing to return to.
        if path == LOGIN_PATH {
            return;
        }
        // The router keeps the query without its `?` and the fragment with its `#`.
        let search = location.search.get_untracked();
        let query = if search.is_empty() {
            String::new()
        } else {
            format!("?{search}")
        };
        let here = format!("{path}{query}{}", location.hash.get_untracked());
        navigate(
            &login_url(&here),
            NavigateOptions {
                replace: true,
                ..Default::default()
            },
        );
    });

    view! {
        <Show when=move || auth.status.get() == AuthStatus::SignedIn>
            {children()}
        </Show>
    }
}
