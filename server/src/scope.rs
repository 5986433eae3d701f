//! Scopes: what a third-party client's access token may do. A route names the scope it
//! needs with [`RequireScope`]; first-party tokens (the SPA, native apps signed in with
//! a password) pass every scope, client tokens only those they were granted. Routes
//! guarded by plain `AuthUser` refuse client tokens altogether.

use std::marker::PhantomData;

use axum::{extract::FromRequestParts, http::request::Parts};

use crate::{AppState, engine::AuthUser, error::Error, extract::any_bearer};

/// A scope name, for [`RequireScope`].
pub trait Scope: Send + Sync + 'static {
    const NAME: &'static str;
}

/// `profile:read`: the signed-in user's profile.
#[derive(Debug)]
pub struct ProfileRead;

impl Scope for ProfileRead {
    const NAME: &'static str = wire::oauth::SCOPE_PROFILE_READ;
}

/// `sessions:manage`: the user's sessions, listed and ended.
#[derive(Debug)]
pub struct SessionsManage;

impl Scope for SessionsManage {
    const NAME: &'static str = wire::oauth::SCOPE_SESSIONS_MANAGE;
}

/// An [`AuthUser`] whose token may do `S`; 403 `insufficient_scope` (with
/// `WWW-Authenticate: Bearer error="insufficient_scope", scope="..."`) otherwise.
///
/// ```ignore
/// async fn me(RequireScope(user, _): RequireScope<ProfileRead>) -> String { user.user_id }
/// ```
#[derive(Debug)]
pub struct RequireScope<S: Scope>(pub AuthUser, pub PhantomData<S>);

impl<S: Scope> FromRequestParts<AppState> for RequireScope<S> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Error> {
        let user = any_bearer(parts, state).await?;
        if user.may(S::NAME) {
            Ok(Self(user, PhantomData))
        } else {
            Err(Error::InsufficientScope(Some(S::NAME)))
        }
    }
}
