//! The OAuth 2.0 authorization server, for third-party and native apps (RFC 6749 with
//! RFC 7636 PKCE, RFC 8252 for native apps, the RFC 9700 / OAuth 2.1 rules):
//!
//! - public clients only, registered with their redirect URIs; a redirect URI matches
//!   exactly, except that a loopback one (`http://127.0.0.1`, `[::1]`, `localhost`)
//!   matches on any port;
//! - the authorization code grant only, with a PKCE `S256` challenge (`plain` refused),
//!   and `refresh_token`; no implicit, no password grant;
//! - a code is single-use, lives [`CODE_TTL`] seconds and is bound to its client,
//!   redirect URI and challenge; a failed exchange spends it, and a second exchange
//!   ends the session the first one created;
//! - the session a code grants is an ordinary session of kind `oauth` for that client:
//!   refreshing it goes through the same rotation, grace period and reuse detection.
//!
//! Errors at the token and revocation endpoints are [`OAuthError`]s (RFC 6749 §5.2);
//! the consent page's errors are ordinary [`Error`]s, since our SPA reads them.

use std::fmt;

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use url::Url;
use wire::{
    EndReason,
    oauth::{
        AuthorizationParams, AuthorizePrompt, AuthorizeRequest, AuthorizeResponse, DEFAULT_SCOPE,
        OAuthErrorCode, OAuthTokenResponse, SCOPES,
    },
};

use super::{AuthUser, Client, Engine, Holder, Issued, SessionKind, event, new_id};
use crate::{
    audit,
    error::{Error, Result},
    rate_limit::Limit,
    refresh_token,
    store::{ClientRow, CodeRow, SessionRow},
};

/// Seconds an authorization code lives: the client exchanges it right after the redirect.
pub const CODE_TTL: i64 = 60;

/// Hosts whose `http` redirect URIs match on any port (RFC 8252 §7.3).
const LOOPBACK_HOSTS: [&str; 3] = ["127.0.0.1", "[::1]", "localhost"];

/// The form of `POST /api/oauth/token` (RFC 6749 §4.1.3 and §6). Every field is
/// optional here so that a missing one is an RFC `invalid_request`, not a parse error.
#[derive(Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct TokenForm {
    pub grant_type: Option<String>,
    pub client_id: Option<String>,
    pub code: Option<String>,
    pub redirect_uri: Option<String>,
    pub code_verifier: Option<String>,
    pub refresh_token: Option<String>,
    pub scope: Option<String>,
}

impl fmt::Debug for TokenForm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenForm")
            .field("grant_type", &self.grant_type)
            .field("client_id", &self.client_id)
            .field("redirect_uri", &self.redirect_uri)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

/// The form of `POST /api/oauth/revoke` (RFC 7009 §2.1).
#[derive(Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct RevokeForm {
    pub token: Option<String>,
    /// Only a hint (RFC 7009 §2.1): both kinds of token are tried whatever it says.
    pub token_type_hint: Option<String>,
    pub client_id: Option<String>,
}

impl fmt::Debug for RevokeForm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RevokeForm")
            .field("token_type_hint", &self.token_type_hint)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// Why the token or revocation endpoint refused: mapped once to status and RFC 6749
/// §5.2 body by the HTTP layer (`oauth.rs`).
#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    /// 400 (401 for `invalid_client`): an RFC error code and a sentence for developers.
    #[error("{description}")]
    Refused {
        code: OAuthErrorCode,
        description: String,
    },
    /// 429 `temporarily_unavailable` with `Retry-After`: the same limits as sign-in and refresh.
    #[error("Too many requests. Try again in {retry_after} s.")]
    RateLimited { retry_after: u64 },
    /// 500 `server_error`: details are logged, never sent.
    #[error(transparent)]
    Internal(Error),
}

impl OAuthError {
    fn refused(code: OAuthErrorCode, description: impl Into<String>) -> Self {
        Self::Refused {
            code,
            description: description.into(),
        }
    }

    fn invalid_request(description: impl Into<String>) -> Self {
        Self::refused(OAuthErrorCode::InvalidRequest, description)
    }

    fn invalid_grant(description: impl Into<String>) -> Self {
        Self::refused(OAuthErrorCode::InvalidGrant, description)
    }

    pub fn code(&self) -> OAuthErrorCode {
        match self {
            Self::Refused { code, .. } => *code,
            Self::RateLimited { .. } => OAuthErrorCode::TemporarilyUnavailable,
            Self::Internal(_) => OAuthErrorCode::ServerError,
        }
    }
}

/// The engine's refusals, as the token endpoint states them: whatever is wrong with a
/// refresh token (unknown, expired, reused, its session ended) is `invalid_grant`.
impl From<Error> for OAuthError {
    fn from(error: Error) -> Self {
        match error {
            Error::RateLimited { retry_after } => Self::RateLimited { retry_after },
            Error::Database(_) | Error::Internal(_) => Self::Internal(error),
            Error::BadRequest(message) => Self::invalid_request(message),
            other => Self::invalid_grant(other.to_string()),
        }
    }
}

/// An authorization request that passed every check.
struct Valid {
    client: ClientRow,
    redirect_uri: String,
    state: Option<String>,
    challenge: String,
    /// Canonical: known scopes, in [`SCOPES`] order, space-separated.
    scope: String,
}

impl Engine {
    // --- clients ---

    /// Registers a public client; `BadRequest` for an empty name or a redirect URI that
    /// is not https, loopback http or a reverse-domain private-use scheme.
    pub async fn register_client(&self, name: &str, redirect_uris: &[String]) -> Result<ClientRow> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
            return Err(Error::BadRequest(
                "A client name has 1 to 100 printable characters.".into(),
            ));
        }
        if redirect_uris.is_empty() {
            return Err(Error::BadRequest(
                "A client needs at least one redirect URI.".into(),
            ));
        }
        for uri in redirect_uris {
            check_redirect_uri(uri)?;
        }
        let row = ClientRow {
            id: new_id(),
            name: name.to_owned(),
            redirect_uris: redirect_uris.join(" "),
            created_at: self.now(),
        };
        self.store.insert_client(&row).await?;
        self.audit(event(audit::OAUTH_CLIENT_ADDED, &Client::default()).detail(&row.id))
            .await;
        Ok(row)
    }

    pub async fn clients(&self) -> Result<Vec<ClientRow>> {
        self.store.clients().await
    }

    /// Removes a client and ends every session it holds; returns how many ended.
    pub async fn remove_client(&self, id: &str) -> Result<usize> {
        if self.store.client(id).await?.is_none() {
            return Err(Error::NotFound);
        }
        let cli = Client::default();
        // Each through `end_session`: its access tokens stop at once, everywhere.
        let sessions = self.store.client_sessions(id).await?;
        for session in &sessions {
            self.end_session(session, EndReason::AdminRevoked, &cli)
                .await?;
        }
        self.store.delete_client(id).await?;
        self.audit(event(audit::OAUTH_CLIENT_REMOVED, &cli).detail(id))
            .await;
        Ok(sessions.len())
    }

    // --- the authorization endpoint (the SPA's consent page) ---

    /// What the consent page shows for `params`. `issuer` is this server's URL (RFC 9207).
    pub async fn authorization_prompt(
        &self,
        params: &AuthorizationParams,
        issuer: &str,
    ) -> Result<AuthorizePrompt> {
        Ok(match self.check_request(params, issuer).await? {
            Ok(valid) => AuthorizePrompt::Consent {
                client_name: valid.client.name,
                scopes: valid.scope.split(' ').map(str::to_owned).collect(),
            },
            Err(redirect_to) => AuthorizePrompt::Redirect { redirect_to },
        })
    }

    /// The user's answer: a code for the client (Allow) or `access_denied` (Deny), as the
    /// URL to send the browser to.
    pub async fn authorize(
        &self,
        auth: &AuthUser,
        request: &AuthorizeRequest,
        issuer: &str,
        client: &Client,
    ) -> Result<AuthorizeResponse> {
        let valid = match self.check_request(&request.params, issuer).await? {
            Ok(valid) => valid,
            Err(redirect_to) => return Ok(AuthorizeResponse { redirect_to }),
        };
        let audited = |name| {
            event(name, client)
                .user(&auth.user_id)
                .session(&auth.session_id)
                .detail(&valid.client.id)
        };
        if !request.approve {
            self.audit(audited(audit::OAUTH_CONSENT_DENIED)).await;
            let redirect_to = error_redirect(
                &valid.redirect_uri,
                OAuthErrorCode::AccessDenied,
                "The user did not allow access.",
                valid.state.as_deref(),
                issuer,
            )?;
            return Ok(AuthorizeResponse { redirect_to });
        }
        let code = refresh_token::generate();
        let now = self.now();
        self.store
            .insert_code(&CodeRow {
                hash: refresh_token::hash(&code),
                client_id: valid.client.id.clone(),
                user_id: auth.user_id.clone(),
                redirect_uri: valid.redirect_uri.clone(),
                code_challenge: valid.challenge.clone(),
                scope: valid.scope.clone(),
                created_at: now,
                expires_at: now + CODE_TTL,
                used_at: None,
                session_id: None,
            })
            .await?;
        self.audit(audited(audit::OAUTH_CONSENT_GRANTED)).await;
        let mut params = vec![("code", code.as_str())];
        if let Some(state) = valid.state.as_deref() {
            params.push(("state", state));
        }
        params.push(("iss", issuer));
        Ok(AuthorizeResponse {
            redirect_to: redirect_with(&valid.redirect_uri, &params)?,
        })
    }

    /// Checks an authorization request. `Err(Error)`: no known client and redirect URI,
    /// so the error is the page's to show (RFC 6749 §4.1.2.1 forbids redirecting);
    /// `Ok(Err(url))`: any other fault, reported to the client at its redirect URI.
    async fn check_request(
        &self,
        p: &AuthorizationParams,
        issuer: &str,
    ) -> Result<Result<Valid, String>> {
        let bad = |message: &str| Error::BadRequest(message.to_owned());
        let client_id = p
            .client_id
            .as_deref()
            .ok_or_else(|| bad("The request does not say which app is asking (no client_id)."))?;
        let client =
            self.store.client(client_id).await?.ok_or_else(|| {
                bad("The app that sent you here is not registered with this server.")
            })?;
        let redirect_uri = p
            .redirect_uri
            .as_deref()
            .ok_or_else(|| bad("The request does not say where to return to (no redirect_uri)."))?;
        if !client
            .redirect_uri_list()
            .any(|registered| redirect_matches(registered, redirect_uri))
        {
            return Err(bad(
                "The address this request would return to is not one the app registered.",
            ));
        }
        let state = p.state.as_deref();
        let fail = |code, description: &str| {
            error_redirect(redirect_uri, code, description, state, issuer).map(Err)
        };
        match p.response_type.as_deref() {
            Some("code") => {}
            None => return fail(OAuthErrorCode::InvalidRequest, "response_type is missing."),
            Some(_) => {
                return fail(
                    OAuthErrorCode::UnsupportedResponseType,
                    "Only response_type=code is supported.",
                );
            }
        }
        let Some(challenge) = p.code_challenge.as_deref() else {
            return fail(
                OAuthErrorCode::InvalidRequest,
                "PKCE is required: code_challenge is missing.",
            );
        };
        if p.code_challenge_method.as_deref() != Some("S256") {
            // Absent means `plain` (RFC 7636 §4.3), which OAuth 2.1 no longer allows.
            return fail(
                OAuthErrorCode::InvalidRequest,
                "code_challenge_method must be S256; plain is not supported.",
            );
        }
        // An S256 challenge is the base64url SHA-256 of the verifier: 43 characters.
        if !refresh_token::looks_valid(challenge) {
            return fail(
                OAuthErrorCode::InvalidRequest,
                "code_challenge is not a base64url SHA-256 (43 characters).",
            );
        }
        let Some(scope) = canonical_scope(p.scope.as_deref()) else {
            return fail(
                OAuthErrorCode::InvalidScope,
                &format!("Unknown scope; this server offers: {}.", SCOPES.join(" ")),
            );
        };
        Ok(Ok(Valid {
            redirect_uri: redirect_uri.to_owned(),
            state: p.state.clone(),
            challenge: challenge.to_owned(),
            scope,
            client,
        }))
    }

    // --- the token endpoint ---

    /// `POST /api/oauth/token`: the `authorization_code` and `refresh_token` grants.
    pub async fn token(
        &self,
        form: &TokenForm,
        client: &Client,
    ) -> Result<OAuthTokenResponse, OAuthError> {
        let grant_type = form
            .grant_type
            .as_deref()
            .ok_or_else(|| OAuthError::invalid_request("grant_type is missing."))?;
        if !matches!(grant_type, "authorization_code" | "refresh_token") {
            return Err(OAuthError::refused(
                OAuthErrorCode::UnsupportedGrantType,
                "Only the authorization_code and refresh_token grants are supported.",
            ));
        }
        let app = self.known_client(form.client_id.as_deref()).await?;
        if grant_type == "authorization_code" {
            self.exchange_code(form, &app, client).await
        } else {
            self.refresh_grant(form, &app, client).await
        }
    }

    /// A public client identifies itself by `client_id` alone (RFC 6749 §3.2.1).
    async fn known_client(&self, id: Option<&str>) -> Result<ClientRow, OAuthError> {
        let unknown = || {
            OAuthError::refused(
                OAuthErrorCode::InvalidClient,
                "client_id is missing or not registered.",
            )
        };
        let id = id.ok_or_else(unknown)?;
        self.store.client(id).await?.ok_or_else(unknown)
    }

    async fn exchange_code(
        &self,
        form: &TokenForm,
        app: &ClientRow,
        client: &Client,
    ) -> Result<OAuthTokenResponse, OAuthError> {
        // An exchange opens a session, as a sign-in does: it counts against the same limit.
        self.limit(Limit::LoginPerIp, &client.ip, client).await?;
        let required = |value: &Option<String>, name: &str| {
            value
                .clone()
                .ok_or_else(|| OAuthError::invalid_request(format!("{name} is missing.")))
        };
        let code = required(&form.code, "code")?;
        let redirect_uri = required(&form.redirect_uri, "redirect_uri")?;
        let verifier = required(&form.code_verifier, "code_verifier")?;
        let hash = refresh_token::hash(&code);
        let Some(row) = self.store.code(&hash).await? else {
            return Err(OAuthError::invalid_grant("The code is not valid."));
        };
        if row.used_at.is_some() {
            return Err(self.code_reused(&row, client).await);
        }
        let now = self.now();
        let problem = if row.client_id != app.id {
            Some("The code was issued to another client.")
        } else if row.redirect_uri != redirect_uri {
            Some("redirect_uri differs from the one in the authorization request.")
        } else if now >= row.expires_at {
            Some("The code has expired.")
        } else if !verifier_matches(&verifier, &row.code_challenge) {
            Some("code_verifier does not match the code_challenge.")
        } else {
            None
        };
        if let Some(problem) = problem {
            // A code is good for one attempt: whoever presents it wrongly may be guessing.
            self.store.burn_code(&hash, now).await?;
            self.audit(
                event(audit::OAUTH_CODE_REJECTED, client)
                    .user(&row.user_id)
                    .detail(problem),
            )
            .await;
            return Err(OAuthError::invalid_grant(problem));
        }
        let user = self
            .store
            .user_by_id(&row.user_id)
            .await?
            .ok_or_else(|| OAuthError::invalid_grant("The user no longer exists."))?;
        let absolute = self.config.absolute_ttl.as_secs() as i64;
        let session = SessionRow {
            id: new_id(),
            user_id: user.id.clone(),
            // Apps keep their grant for the long lifetime, as "Remember me" does.
            remember_me: 1,
            user_agent: client.user_agent.clone(),
            ip: client.ip.clone(),
            created_at: now,
            last_used_at: now,
            idle_expires_at: (now + self.config.idle_ttl.as_secs() as i64).min(now + absolute),
            absolute_expires_at: now + absolute,
            ended_at: None,
            end_reason: None,
            kind: SessionKind::OAuth.as_str().into(),
            client_id: Some(app.id.clone()),
            scope: Some(row.scope.clone()),
        };
        let token = refresh_token::generate();
        let redeemed = self
            .store
            .redeem_code(&hash, now, &session, &refresh_token::hash(&token))
            .await?;
        if !redeemed {
            // A concurrent exchange of the same code won: this one is the second use.
            let row = self.store.code(&hash).await?.unwrap_or(row);
            return Err(self.code_reused(&row, client).await);
        }
        self.audit(
            event(audit::OAUTH_CODE_EXCHANGED, client)
                .user(&user.id)
                .username(&user.username)
                .session(&session.id)
                .detail(&app.id),
        )
        .await;
        let issued = self.issue(&user, &session, token, now)?;
        Ok(token_response(issued, &row.scope))
    }

    /// A spent code came back (RFC 6749 §4.1.2): whatever it granted is revoked.
    async fn code_reused(&self, row: &CodeRow, client: &Client) -> OAuthError {
        let mut event = event(audit::OAUTH_CODE_REUSED, client)
            .user(&row.user_id)
            .detail(&row.client_id);
        if let Some(session_id) = row.session_id.as_deref() {
            event = event.session(session_id);
        }
        self.audit(event).await;
        if let Some(session_id) = row.session_id.as_deref() {
            let ended = match self.store.session(session_id).await {
                Ok(Some(session)) => {
                    self.end_session(&session, EndReason::ReuseDetected, client)
                        .await
                }
                Ok(None) => Ok(()),
                Err(e) => Err(e),
            };
            if let Err(e) = ended {
                return e.into();
            }
        }
        OAuthError::invalid_grant("The code was already used; what it granted has been revoked.")
    }

    async fn refresh_grant(
        &self,
        form: &TokenForm,
        app: &ClientRow,
        client: &Client,
    ) -> Result<OAuthTokenResponse, OAuthError> {
        let token = form
            .refresh_token
            .as_deref()
            .ok_or_else(|| OAuthError::invalid_request("refresh_token is missing."))?;
        let holder = Holder::Client(&app.id);
        let (_, session) = self.lookup(Some(token), holder).await?;
        let granted = session.scope.clone().unwrap_or_default();
        // A refresh may ask for less than was granted, never more (RFC 6749 §6). The
        // session keeps its scope either way; the response says which it is.
        if let Some(asked) = form.scope.as_deref() {
            let within = asked
                .split_whitespace()
                .all(|s| granted.split(' ').any(|g| g == s));
            if !within {
                return Err(OAuthError::refused(
                    OAuthErrorCode::InvalidScope,
                    "A refresh cannot add scopes to the grant.",
                ));
            }
        }
        // The one rotation path: grace period, reuse detection, limits, audit.
        let issued = self.refresh(Some(token), holder, true, client).await?;
        Ok(token_response(issued, &granted))
    }

    // --- the revocation endpoint ---

    /// `POST /api/oauth/revoke` (RFC 7009): a refresh token ends its whole session; an
    /// access token goes on the denylist. A token this server does not know, or that is
    /// already dead, is no error.
    pub async fn revoke(&self, form: &RevokeForm, client: &Client) -> Result<(), OAuthError> {
        let token = form
            .token
            .as_deref()
            .ok_or_else(|| OAuthError::invalid_request("token is missing."))?;
        let app = self.known_client(form.client_id.as_deref()).await?;
        let not_yours = || OAuthError::invalid_grant("The token was not issued to this client.");
        if refresh_token::looks_valid(token) {
            let Some(row) = self
                .store
                .refresh_token(&refresh_token::hash(token))
                .await?
            else {
                return Ok(());
            };
            if let Some(session) = self.store.session(&row.session_id).await? {
                if !Holder::Client(&app.id).accepts(&session) {
                    return Err(not_yours());
                }
                self.end_session(&session, EndReason::LoggedOut, client)
                    .await?;
            }
            return Ok(());
        }
        match self.authenticate(token).await {
            Ok(user) if user.client_id.as_deref() == Some(app.id.as_str()) => {
                self.revoke_token(&user).await?;
                Ok(())
            }
            Ok(_) => Err(not_yours()),
            Err(e @ (Error::Database(_) | Error::Internal(_))) => Err(e.into()),
            // Malformed, expired or already revoked: nothing left to do.
            Err(_) => Ok(()),
        }
    }
}

fn token_response(issued: Issued, scope: &str) -> OAuthTokenResponse {
    OAuthTokenResponse {
        access_token: issued.body.access_token,
        token_type: issued.body.token_type,
        expires_in: issued.body.expires_in,
        refresh_token: issued.refresh_token,
        scope: scope.to_owned(),
    }
}

/// Registered redirect URIs: https, http on a loopback host (RFC 8252 §7.3), or a
/// private-use scheme named after a domain (`com.example.app:/cb`, RFC 8252 §7.1); never
/// a fragment (RFC 6749 §3.1.2) or user info.
fn check_redirect_uri(uri: &str) -> Result<()> {
    let bad = |why: &str| Err(Error::BadRequest(format!("Redirect URI {uri:?}: {why}")));
    let Ok(url) = Url::parse(uri) else {
        return bad("not an absolute URI.");
    };
    if uri.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return bad("contains whitespace.");
    }
    if url.fragment().is_some() {
        return bad("a redirect URI has no fragment.");
    }
    if !url.username().is_empty() || url.password().is_some() {
        return bad("a redirect URI has no user name or password.");
    }
    match url.scheme() {
        "https" => Ok(()),
        "http" if loopback_key(uri).is_some() => Ok(()),
        "http" => bad("plain http is only for loopback addresses (127.0.0.1, [::1], localhost)."),
        scheme if scheme.contains('.') => Ok(()),
        _ => bad(
            "use https, http on a loopback address, or a reverse-domain scheme like com.example.app:/callback.",
        ),
    }
}

/// For a loopback `http` URI, the URI without its port: what must match (RFC 8252 §7.3:
/// the app picks a free port when it listens).
fn loopback_key(uri: &str) -> Option<String> {
    let rest = uri.strip_prefix("http://")?;
    LOOPBACK_HOSTS.into_iter().find_map(|host| {
        let after = rest.strip_prefix(host)?;
        let after = match after.strip_prefix(':') {
            Some(port) => {
                let path = port.trim_start_matches(|c: char| c.is_ascii_digit());
                (path.len() < port.len()).then_some(path)?
            }
            None => after,
        };
        (after.is_empty() || after.starts_with('/') || after.starts_with('?'))
            .then(|| format!("http://{host}{after}"))
    })
}

/// Exact string match (RFC 9700 §4.1.3), but any port on loopback.
fn redirect_matches(registered: &str, requested: &str) -> bool {
    registered == requested
        || loopback_key(registered).is_some_and(|key| loopback_key(requested) == Some(key))
}

/// Known scopes in canonical order; [`DEFAULT_SCOPE`] for none; `None` if any is unknown.
fn canonical_scope(asked: Option<&str>) -> Option<String> {
    let asked: Vec<&str> = asked.unwrap_or_default().split_whitespace().collect();
    if asked.is_empty() {
        return Some(DEFAULT_SCOPE.to_owned());
    }
    if asked.iter().any(|s| !SCOPES.contains(s)) {
        return None;
    }
    let granted: Vec<&str> = SCOPES.into_iter().filter(|s| asked.contains(s)).collect();
    Some(granted.join(" "))
}

/// RFC 7636 §4.1 and §4.6: 43 to 128 unreserved characters whose base64url SHA-256 is
/// the challenge.
fn verifier_matches(verifier: &str, challenge: &str) -> bool {
    (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
        && URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())) == challenge
}

/// `redirect_uri` with `params` added to its query (any query it has is kept).
fn redirect_with(redirect_uri: &str, params: &[(&str, &str)]) -> Result<String> {
    let mut url = Url::parse(redirect_uri)
        .map_err(|e| anyhow::anyhow!("a matched redirect URI does not parse: {e}"))?;
    url.query_pairs_mut().extend_pairs(params);
    Ok(url.into())
}

/// An authorization error response (RFC 6749 §4.1.2.1), with `state` as it came.
fn error_redirect(
    redirect_uri: &str,
    code: OAuthErrorCode,
    description: &str,
    state: Option<&str>,
    issuer: &str,
) -> Result<String> {
    let mut params = vec![("error", code.as_str()), ("error_description", description)];
    if let Some(state) = state {
        params.push(("state", state));
    }
    params.push(("iss", issuer));
    redirect_with(redirect_uri, &params)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rfc_7636_example_verifier_matches_its_challenge() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(verifier_matches(verifier, challenge));
        assert!(!verifier_matches(&verifier.replace('d', "e"), challenge));
        // Too short, even if it hashed right.
        let short = "abc";
        let short_challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(short));
        assert!(!verifier_matches(short, &short_challenge));
    }

    #[test]
    fn loopback_redirects_match_on_any_port_and_nothing_else_bends() {
        let loopback = "http://127.0.0.1/callback";
        assert!(redirect_matches(
            loopback,
            "http://127.0.0.1:51234/callback"
        ));
        assert!(redirect_matches(loopback, "http://127.0.0.1/callback"));
        assert!(redirect_matches(
            "http://[::1]:8080/cb",
            "http://[::1]:9/cb"
        ));
        assert!(redirect_matches(
            "http://localhost/cb",
            "http://localhost:3/cb"
        ));
        for wrong in [
            "http://127.0.0.1:51234/callback/",
            "http://127.0.0.1:51234/other",
            "http://127.0.0.1:/callback",
            "http://127.0.0.1.evil.example/callback",
            "http://localhost@evil.example/callback",
            "http://[::1]:51234/callback",
            "https://127.0.0.1:51234/callback",
            "http://127.0.0.1:51234/callback#x",
        ] {
            assert!(!redirect_matches(loopback, wrong), "{wrong}");
        }
        let exact = "https://app.example/cb";
        assert!(redirect_matches(exact, exact));
        assert!(!redirect_matches(exact, "https://app.example:444/cb"));
        assert!(!redirect_matches(exact, "https://app.example/cb?x=1"));
        assert!(!redirect_matches(exact, "https://APP.example/cb"));
    }

    #[test]
    fn only_safe_redirect_uris_can_be_registered() {
        for ok in [
            "https://app.example/cb",
            "http://127.0.0.1/callback",
            "http://[::1]:8000/cb",
            "http://localhost/cb",
            "com.example.app:/oauth/callback",
        ] {
            assert!(check_redirect_uri(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://app.example/cb",
            "https://app.example/cb#frag",
            "javascript:alert(1)",
            "/relative",
            "https://user:pw@app.example/cb",
            "myapp:/cb",
        ] {
            assert!(check_redirect_uri(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn scopes_are_checked_and_put_in_order() {
        assert_eq!(canonical_scope(None).unwrap(), DEFAULT_SCOPE);
        assert_eq!(canonical_scope(Some("  ")).unwrap(), DEFAULT_SCOPE);
        assert_eq!(
            canonical_scope(Some("sessions:manage profile:read profile:read")).unwrap(),
            "profile:read sessions:manage"
        );
        assert_eq!(canonical_scope(Some("profile:read audit:read")), None);
    }

    #[test]
    fn redirects_keep_the_query_and_encode_state() {
        let url = redirect_with(
            "http://127.0.0.1:9/cb?app=1",
            &[("code", "c"), ("state", "a b&c")],
        )
        .unwrap();
        assert_eq!(url, "http://127.0.0.1:9/cb?app=1&code=c&state=a+b%26c");
    }
}
