//! Small hooks that own a browser resource and release it with the component.

use std::time::Duration;

use gloo_timers::callback::Interval;
use leptos::prelude::*;

/// Calls `tick` every `period` while the calling component is mounted. The `gloo-timers`
/// interval is cleared when it is dropped, which the cleanup does.
pub fn use_interval(period: Duration, tick: impl Fn() + 'static) {
    let interval = Interval::new(period.as_millis() as u32, tick);
    let interval = StoredValue::new_local(Some(interval));
    on_cleanup(move || {
        interval.update_value(|i| {
            i.take();
        });
    });
}
