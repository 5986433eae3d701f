//! A server timestamp shown on the user's clock.

use leptos::prelude::*;

use crate::display::{local_date_time, time_ago};
use crate::schedule;
use crate::session::use_auth;

/// `<time>` for a server Unix time: local `YYYY-MM-DD HH:MM:SS`, or "5 min ago" when
/// `relative` (with the exact time as a tooltip). Placed with the server clock offset,
/// so a client clock that is off does not move it.
#[component]
pub fn LocalTime(unix_secs: i64, #[prop(optional)] relative: bool) -> impl IntoView {
    let offset_ms = use_auth().clock_offset_ms.get_untracked();
    let local_ms = schedule::local_time_ms(unix_secs, offset_ms);
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
