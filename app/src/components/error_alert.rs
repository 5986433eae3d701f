//! The one way a page shows an error: a `role="alert"` paragraph, announced by screen
//! readers, present only while there is something to say.

use leptos::prelude::*;

#[component]
pub fn ErrorAlert(
    /// The sentence to show; `None` shows nothing.
    message: RwSignal<Option<String>>,
    /// `data-testid` for the browser tests.
    #[prop(optional)]
    testid: Option<&'static str>,
) -> impl IntoView {
    move || {
        message.get().map(|message| {
            view! {
                <p class="error" role="alert" data-testid=testid>
                    {message}
                </p>
            }
        })
    }
}
