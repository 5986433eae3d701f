//! A picture of the session: the access token's life (issued, next refresh, expiry) on a
//! bar, the idle and absolute ends, and the recent refreshes (which tab, when, whether
//! they reported activity), updating every second. What people look at to trust that
//! "silent" refresh is really happening.

use leptos::prelude::*;
use leptos_token_session::{RefreshBy, use_session};

use crate::display::{format_countdown, local_date_time};

#[component]
pub fn SessionTimeline() -> impl IntoView {
    let session = use_session();
    // Positions on the token's bar, in percent of its lifetime.
    let bar = move || {
        let times = session.token_times()?;
        let now = session.server_now_ms();
        let span = (times.expires_ms - times.issued_ms).max(1.0);
        // Whole per-mille, formatted as integers: float formatting costs 10 KB of WASM.
        let permille = |t: f64| ((t - times.issued_ms) / span * 1_000.0).clamp(0.0, 1_000.0) as u32;
        let pct = |t: f64| permille(t);
        Some((pct(now), times.refresh_ms.map(pct)))
    };
    let in_ = move |at: Option<f64>| {
        at.map(|t| format_countdown(t - session.server_now_ms()))
            .unwrap_or_default()
    };
    let clock = move |server_ms: f64| local_date_time(session.to_local_ms(server_ms)).0;

    view! {
        <section class="timeline" aria-labelledby="timeline-title" data-testid="timeline">
            <h2 id="timeline-title">"Your session, live"</h2>
            {move || {
                bar()
                    .map(|(now, refresh)| {
                        view! {
                            <div
                                class="token-bar"
                                role="img"
                                aria-label="Access token lifetime: issued, next refresh, expiry"
                            >
                                <div class="token-bar-used" style=format!("width: {}.{}%", now / 10, now % 10)></div>
                                {refresh
                                    .map(|at| {
                                        view! {
                                            <div
                                                class="token-bar-refresh"
                                                style=format!("left: {}.{}%", at / 10, at % 10)
                                            ></div>
                                        }
                                    })}
                            </div>
                        }
                    })
            }}
            <dl class="facts timeline-facts">
                <div>
                    <dt>"Token issued"</dt>
                    <dd data-testid="token-issued">
                        {move || session.token_times().map(|t| clock(t.issued_ms))}
                    </dd>
                </div>
                <div>
                    <dt>"Next refresh"</dt>
                    <dd data-testid="next-refresh">
                        {move || match session.token_times() {
                            Some(t) if t.refresh_ms.is_some() => format!("in {}", in_(t.refresh_ms)),
                            Some(_) => "none: the token lasts to the session's end".to_owned(),
                            None => String::new(),
                        }}
                    </dd>
                </div>
                <div>
                    <dt>"Token expires"</dt>
                    <dd data-testid="token-expires">
                        {move || session.token_times().map(|t| format!("in {}", in_(Some(t.expires_ms))))}
                    </dd>
                </div>
                <div>
                    <dt>"Idle end"</dt>
                    <dd data-testid="idle-end">
                        {move || {
                            session.info().map(|i| format!("in {}", in_(Some(i.idle_expires_at as f64 * 1_000.0))))
                        }}
                    </dd>
                </div>
                <div>
                    <dt>"Absolute end"</dt>
                    <dd data-testid="absolute-end">
                        {move || session.info().map(|i| clock(i.absolute_expires_at as f64 * 1_000.0))}
                    </dd>
                </div>
            </dl>
            <h3>"Recent refreshes"</h3>
            <ol class="refresh-list" data-testid="refreshes">
                {move || {
                    session
                        .recent_refreshes()
                        .into_iter()
                        .map(|r| {
                            let by = match r.by {
                                RefreshBy::ThisTab => "this tab".to_owned(),
                                RefreshBy::OtherTab(id) => format!("tab {id}"),
                            };
                            let kind = if r.active { "active" } else { "scheduled, idle" };
                            view! {
                                <li>
                                    <time>{clock(r.at_ms)}</time>
                                    " — "
                                    {by}
                                    " ("
                                    {kind}
                                    ")"
                                </li>
                            }
                        })
                        .collect_view()
                }}
            </ol>
        </section>
    }
}
