//! Extractors that guard routes: [`AuthUser`] (a valid, not logged-out access token),
//! [`RequireRole`] (and a role), and [`Client`] (IP and User-Agent).
//!
//! An invalid token is an error, never "anonymous": a route that takes `AuthUser`
//! cannot run without one.

use std::{marker::PhantomData, net::SocketAddr};

use axum::{
    extract::{ConnectInfo, FromRequestParts},
    http::{HeaderMap, header, request::Parts},
};

use crate::{
    AppState,
    engine::{AuthUser, Client},
    error::Error,
};

/// The bearer token of a request, if it has a well-formed `Authorization` header.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

/// The caller of any valid bearer token, a third-party client's included: what
/// [`crate::scope::RequireScope`] checks the scope of.
pub(crate) async fn any_bearer(parts: &mut Parts, state: &AppState) -> Result<AuthUser, Error> {
    if let Some(user) = parts.extensions.get::<AuthUser>() {
        return Ok(user.clone());
    }
    let token = bearer(&parts.headers)
        .ok_or(Error::TokenMissing)?
        .to_owned();
    let user = match state.authenticate(&token).await {
        Err(Error::TokenExpired) if state.config.backend_refresh => {
            crate::backend_refresh::renew(parts, state, &token).await?
        }
        other => other?,
    };
    parts.extensions.insert(user.clone());
    Ok(user)
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = Error;

    /// First-party tokens only: a third-party client's token opens just the routes that
    /// name a scope it was granted (`RequireScope`).
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Error> {
        let user = any_bearer(parts, state).await?;
        if user.client_id.is_some() {
            return Err(Error::InsufficientScope(None));
        }
        Ok(user)
    }
}

/// A role name, for [`RequireRole`].
pub trait Role: Send + Sync + 'static {
    const NAME: &'static str;
}

/// The `admin` role.
#[derive(Debug)]
pub struct Admin;

impl Role for Admin {
    const NAME: &'static str = "admin";
}

/// An [`AuthUser`] who has role `R`; 403 `forbidden` otherwise.
///
/// ```ignore
/// async fn audit(_: RequireRole<Admin>) -> &'static str { "for admins" }
/// ```
#[derive(Debug)]
pub struct RequireRole<R: Role>(pub AuthUser, PhantomData<R>);

impl<R: Role> FromRequestParts<AppState> for RequireRole<R> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Error> {
        let user = AuthUser::from_request_parts(parts, state).await?;
        if user.has_role(R::NAME) {
            Ok(Self(user, PhantomData))
        } else {
            Err(Error::Forbidden)
        }
    }
}

impl FromRequestParts<AppState> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip());
        let forwarded: Vec<&str> = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        let ip = peer.map_or_else(
            || "unknown".to_owned(),
            |peer| {
                crate::client_ip::client_ip(
                    peer,
                    &forwarded,
                    &state.config.trusted_proxies,
                    state.config.proxy_hops(),
                )
                .to_string()
            },
        );
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("unknown")
            .chars()
            .take(512)
            .collect();
        Ok(Client { ip, user_agent })
    }
}
