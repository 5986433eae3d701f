//! Kinds of client, and the rule that keeps each on its own path: a session remembers
//! whether its refresh token lives in a browser cookie, in a first-party native app
//! (which gets it in the JSON body) or with a registered OAuth client (which presents
//! it at the token endpoint), and a refresh token is accepted only the way its kind
//! sends it. A cookie's token pasted into a body, or a native token sent as a cookie,
//! is `refresh_invalid`: nothing a legitimate client does.

use wire::{LoginClient, NativeTokenResponse};

use super::Issued;
use crate::store::SessionRow;

/// What a session belongs to; stored as [`SessionKind::as_str`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionKind {
    Browser,
    Native,
    OAuth,
}

impl SessionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Browser => "browser",
            Self::Native => "native",
            Self::OAuth => "oauth",
        }
    }
}

impl From<LoginClient> for SessionKind {
    fn from(client: LoginClient) -> Self {
        match client {
            LoginClient::Browser => Self::Browser,
            LoginClient::Native => Self::Native,
        }
    }
}

/// How a refresh token reached us.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Holder<'a> {
    /// The HttpOnly cookie: browser sessions only.
    Cookie,
    /// A JSON body on `/api/auth/*`: first-party native sessions only.
    Body,
    /// The OAuth token (or revocation) endpoint, for this `client_id`: only the
    /// sessions of that client.
    Client(&'a str),
}

impl Holder<'_> {
    /// Whether a token of `session` may arrive this way.
    pub fn accepts(self, session: &SessionRow) -> bool {
        match self {
            Self::Cookie => session.kind == SessionKind::Browser.as_str(),
            Self::Body => session.kind == SessionKind::Native.as_str(),
            Self::Client(id) => {
                session.kind == SessionKind::OAuth.as_str()
                    && session.client_id.as_deref() == Some(id)
            }
        }
    }
}

impl Issued {
    /// The body a native app gets: the token body and the refresh token beside it.
    pub fn native(self) -> NativeTokenResponse {
        NativeTokenResponse {
            refresh_expires_at: self.body.session.idle_expires_at,
            tokens: self.body,
            refresh_token: self.refresh_token,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(kind: SessionKind, client_id: Option<&str>) -> SessionRow {
        SessionRow {
            id: "s".into(),
            user_id: "u".into(),
            remember_me: 0,
            user_agent: String::new(),
            ip: String::new(),
            created_at: 0,
            last_used_at: 0,
            idle_expires_at: 0,
            absolute_expires_at: 0,
            ended_at: None,
            end_reason: None,
            kind: kind.as_str().into(),
            client_id: client_id.map(Into::into),
            scope: None,
        }
    }

    #[test]
    fn each_kind_of_token_is_accepted_only_on_its_own_path() {
        let browser = session(SessionKind::Browser, None);
        let native = session(SessionKind::Native, None);
        let oauth = session(SessionKind::OAuth, Some("app"));
        assert!(Holder::Cookie.accepts(&browser));
        assert!(Holder::Body.accepts(&native));
        assert!(Holder::Client("app").accepts(&oauth));
        for (holder, session) in [
            (Holder::Body, &browser),
            (Holder::Cookie, &native),
            (Holder::Cookie, &oauth),
            (Holder::Body, &oauth),
            (Holder::Client("other"), &oauth),
            (Holder::Client("app"), &native),
        ] {
            assert!(
                !holder.accepts(session),
                "{holder:?} took a {}",
                session.kind
            );
        }
    }
}
