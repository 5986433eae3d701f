//! A server timestamp shown on the user's clock.

use leptos::prelude::*;
use leptos_token_session::use_session;

use crate::display::{local_date_time, time_ago};

/// `<time>` for a server Unix time: local `YYYY-MM-DD HH:MM:SS`, or "5 min ago" when
/// `relative` (with the exact time as a tooltip). Placed with the server clock offset,
/// so a client clock that is off does not move it.
#[component]
pub fn LocalTime(unix_secs: i64, #[prop(optional)] relative: bool) -> impl IntoView {
    let session = use_session();
    let local_ms = untrack(|| session.to_local_ms(unix_secs as f64 * 1_000.0));
    let (exact, iso) = local_date_time(local_ms);
    let (shown, title) = if relative {
        let elapsed_secs = ((js_sys::Date::now() - local_ms) / 1_000.0) as i64;
        (time_ago(elapsed_secs), Some(exact))
    } else {
        (exact, None)
    };
    view! {
        <time datetime=iso title=title>
            {shown}
        </time>
    }
}
