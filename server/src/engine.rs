//! The session engine: every rule about logins, sessions and tokens, independent of
//! HTTP. Handlers translate requests into calls here; time comes from the injected
//! [`Clock`], so tests move it instead of sleeping.

use std::sync::Arc;

use api::{
    AccessClaims, AuditEvent, EndReason, LoginRequest, SessionInfo, SessionStatus, SessionSummary,
    TokenResponse, User,
};

use crate::{
    audit,
    clock::Clock,
    config::{BindingPolicy, Config},
    error::{Error, Result},
    keys::{Keys, Verified},
    password,
    rate_limit::{Limit, Limits},
    refresh_token,
    store::{NewAuditEvent, RefreshRow, Rotation, SessionRow, Store, UserRow},
};

/// Who is asking, as far as the network tells: kept with sessions and audit events.
#[derive(Clone, Debug, Default)]
pub struct Client {
    pub ip: String,
    pub user_agent: String,
}

/// A caller authenticated by a valid access token.
#[derive(Clone, Debug)]
pub struct AuthUser {
    pub user_id: String,
    pub session_id: String,
    pub roles: Vec<String>,
    pub permissions: Vec<String>,
    pub jti: String,
    pub expires_at: i64,
}

impl AuthUser {
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }
}

/// A freshly issued (or, within the grace period, re-issued) token pair.
#[derive(Clone, Debug)]
pub struct Issued {
    pub body: TokenResponse,
    /// Goes into the HttpOnly cookie, never into a body.
    pub refresh_token: String,
    /// `Some(seconds)` for a persistent cookie ("Remember me"), `None` for a session cookie.
    pub cookie_max_age: Option<i64>,
}

/// Everything a request needs: config, store, keys, clock.
pub struct Engine {
    pub config: Config,
    pub store: Store,
    pub keys: Keys,
    pub clock: Arc<dyn Clock>,
    pub limits: Limits,
    refresh_key: Vec<u8>,
    /// Verified against for unknown usernames, so timing does not tell who exists.
    dummy_hash: String,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// Permissions that come with each role.
pub fn permissions_for(roles: &[String]) -> Vec<String> {
    let mut perms: Vec<String> = vec!["profile:read".into(), "sessions:manage".into()];
    if roles.iter().any(|r| r == "admin") {
        perms.push("audit:read".into());
    }
    perms
}

fn user_view(user: &UserRow) -> User {
    let roles = user.role_list();
    User {
        id: user.id.clone(),
        username: user.username.clone(),
        permissions: permissions_for(&roles),
        roles,
    }
}

fn session_info(s: &SessionRow) -> SessionInfo {
    SessionInfo {
        id: s.id.clone(),
        idle_expires_at: s.idle_expires_at,
        absolute_expires_at: s.absolute_expires_at,
    }
}

/// An audit event about `client`'s request.
fn event<'a>(name: &'a str, client: &'a Client) -> NewAuditEvent<'a> {
    NewAuditEvent::new(name, &client.ip, &client.user_agent)
}

fn new_id() -> String {
    refresh_token::generate()[..22].to_owned()
}

/// Letters, digits, `.`, `_`, `-`; 1 to 64 characters.
pub fn check_username(name: &str) -> Result<()> {
    let ok = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(Error::BadRequest(
            "A username has 1 to 64 letters, digits, '.', '_' or '-'.".into(),
        ))
    }
}

impl Engine {
    /// Loads keys and secrets from the store (creating them on a new database).
    pub async fn new(config: Config, store: Store, clock: Arc<dyn Clock>) -> Result<Self> {
        let keys = Keys::load(&store, clock.now()).await?;
        let refresh_key = store
            .secret_or_insert("refresh_hmac_key", &refresh_token::generate())
            .await?
            .into_bytes();
        let dummy_hash = password::hash(refresh_token::generate()).await?;
        Ok(Self {
            limits: Limits::new(&config),
            config,
            store,
            keys,
            clock,
            refresh_key,
            dummy_hash,
        })
    }

    /// Background housekeeping: deletes expired rows and keys no live token needs,
    /// and picks up keys other instances (or `server keys rotate`) added.
    pub async fn prune(&self) -> Result<u64> {
        let now = self.now();
        // Ended sessions stay a day, for the audit trail's sake.
        let rows = self.store.prune(now, 24 * 3600).await?;
        // A retired key may still sign until every instance reloads (each minute).
        let key_life = (self.config.access_ttl + self.config.leeway).as_secs() as i64 + 120;
        let keys = self.store.prune_keys(now - key_life).await?;
        self.keys.reload(&self.store).await?;
        self.limits.shrink();
        Ok(rows + keys)
    }

    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    async fn audit(&self, event: NewAuditEvent<'_>) {
        // An audit failure must not turn a successful logout into an error, but it
        // must be seen.
        if let Err(e) = self.store.audit(&event, self.now()).await {
            tracing::error!(error = ?e, event = event.event, "audit write failed");
        }
    }

    // --- users ---

    /// Creates a user; `BadRequest` for a bad name, weak password or taken name.
    pub async fn create_user(&self, username: &str, pass: &str, roles: &[String]) -> Result<User> {
        check_username(username)?;
        password::check_strength(pass)?;
        if roles.is_empty() || roles.iter().any(|r| check_username(r).is_err()) {
            return Err(Error::BadRequest(
                "Roles are names like 'admin' or 'user'.".into(),
            ));
        }
        let row = UserRow {
            id: new_id(),
            username: username.to_owned(),
            password_hash: password::hash(pass.to_owned()).await?,
            roles: roles.join(" "),
            created_at: self.now(),
        };
        if !self.store.insert_user(&row).await? {
            return Err(Error::BadRequest(format!(
                "The username '{username}' is taken."
            )));
        }
        Ok(user_view(&row))
    }

    pub async fn user(&self, auth: &AuthUser) -> Result<User> {
        let user = self
            .store
            .user_by_id(&auth.user_id)
            .await?
            .ok_or(Error::TokenInvalid)?;
        Ok(user_view(&user))
    }

    // --- login, refresh, logout ---

    /// Takes one request from `limit`'s bucket for `key`; a refusal is audited.
    async fn limit(&self, limit: Limit, key: &str, client: &Client) -> Result<()> {
        let Err((limit, error)) = self.limits.take(limit, key) else {
            return Ok(());
        };
        self.audit(event(audit::RATE_LIMITED, client).detail(limit.as_str()))
            .await;
        Err(error)
    }

    pub async fn login(&self, req: LoginRequest, client: &Client) -> Result<Issued> {
        self.limit(Limit::LoginPerIp, &client.ip, client).await?;
        self.limit(Limit::LoginPerUser, &req.username.to_lowercase(), client)
            .await?;
        let user = self.store.user_by_name(&req.username).await?;
        let hash = user
            .as_ref()
            .map_or(self.dummy_hash.clone(), |u| u.password_hash.clone());
        let matches = password::verify(req.password, hash).await?;
        let Some(user) = user.filter(|_| matches) else {
            self.audit(event(audit::LOGIN_FAILED, client).username(&req.username))
                .await;
            return Err(Error::InvalidCredentials);
        };

        let now = self.now();
        let absolute = if req.remember_me {
            self.config.absolute_ttl
        } else {
            self.config.absolute_ttl_short
        }
        .as_secs() as i64;
        let session = SessionRow {
            id: new_id(),
            user_id: user.id.clone(),
            remember_me: req.remember_me.into(),
            user_agent: client.user_agent.clone(),
            ip: client.ip.clone(),
            created_at: now,
            last_used_at: now,
            idle_expires_at: (now + self.config.idle_ttl.as_secs() as i64).min(now + absolute),
            absolute_expires_at: now + absolute,
            ended_at: None,
            end_reason: None,
        };
        let token = refresh_token::generate();
        self.store
            .insert_session(&session, &refresh_token::hash(&token))
            .await?;
        self.audit(
            event(audit::LOGIN_SUCCEEDED, client)
                .user(&user.id)
                .username(&user.username)
                .session(&session.id),
        )
        .await;
        self.issue(&user, &session, token, now)
    }

    /// Builds the pair for `refresh` issued at `issued_at`. Deterministic in its inputs
    /// (the `jti` derives from the refresh token), so a re-issue within the grace period
    /// carries the same claims.
    fn issue(
        &self,
        user: &UserRow,
        session: &SessionRow,
        refresh: String,
        issued_at: i64,
    ) -> Result<Issued> {
        let now = self.now();
        let roles = user.role_list();
        let claims = AccessClaims {
            iss: self.config.issuer.clone(),
            aud: self.config.audience.clone(),
            sub: user.id.clone(),
            sid: session.id.clone(),
            jti: refresh_token::hash(&format!("jti:{refresh}"))[..32].to_owned(),
            perms: permissions_for(&roles),
            roles,
        };
        // An access token never outlives its session.
        let expires_at =
            (issued_at + self.config.access_ttl.as_secs() as i64).min(session.absolute_expires_at);
        let access_token = self.keys.sign(&claims, issued_at, expires_at)?;
        Ok(Issued {
            body: TokenResponse {
                access_token,
                token_type: "Bearer".into(),
                // `exp` has whole seconds and `now` is rounded down, so the token may
                // have up to a second less than `exp - now`: report what it surely has.
                expires_in: (expires_at - now - 1).max(0) as u64,
                expires_at,
                session: session_info(session),
                user: user_view(user),
            },
            refresh_token: refresh,
            cookie_max_age: (session.remember_me != 0).then(|| session.absolute_expires_at - now),
        })
    }

    /// Ends the session if its idle or absolute end has passed; errors if it is over.
    async fn ensure_live(&self, session: &SessionRow, client: &Client) -> Result<()> {
        if let Some(reason) = session.end_reason.as_deref() {
            let reason = EndReason::parse(reason).unwrap_or(EndReason::AdminRevoked);
            return Err(Error::SessionRevoked(reason));
        }
        let now = self.now();
        let expired = if now >= session.absolute_expires_at {
            Some(EndReason::AbsoluteTimeout)
        } else if now >= session.idle_expires_at {
            Some(EndReason::IdleTimeout)
        } else {
            None
        };
        if let Some(reason) = expired {
            self.end_session(session, reason, client).await?;
            return Err(Error::RefreshExpired(reason));
        }
        Ok(())
    }

    async fn end_session(
        &self,
        session: &SessionRow,
        reason: EndReason,
        client: &Client,
    ) -> Result<()> {
        if self
            .store
            .end_session(&session.id, reason.as_str(), self.now())
            .await?
        {
            self.audit(
                event(audit::event_for(reason), client)
                    .user(&session.user_id)
                    .session(&session.id)
                    .detail(reason.as_str()),
            )
            .await;
        }
        Ok(())
    }

    /// Finds the session a refresh token belongs to, if both exist.
    async fn lookup(&self, token: Option<&str>) -> Result<(RefreshRow, SessionRow)> {
        let token = token.ok_or(Error::RefreshMissing)?;
        if !refresh_token::looks_valid(token) {
            return Err(Error::RefreshInvalid);
        }
        let row = self
            .store
            .refresh_token(&refresh_token::hash(token))
            .await?
            .ok_or(Error::RefreshInvalid)?;
        let session = self
            .store
            .session(&row.session_id)
            .await?
            .ok_or(Error::RefreshInvalid)?;
        Ok((row, session))
    }

    /// Rotates the refresh token: see DESIGN.md, "Tokens".
    pub async fn refresh(&self, token: Option<&str>, client: &Client) -> Result<Issued> {
        self.rotate(token, None, client).await
    }

    /// Backend-managed mode: rotates only if the cookie belongs to session `sid`, the
    /// session of the expired access token that came with it.
    pub async fn refresh_session(
        &self,
        token: Option<&str>,
        sid: &str,
        client: &Client,
    ) -> Result<Issued> {
        self.rotate(token, Some(sid), client).await
    }

    async fn rotate(
        &self,
        token: Option<&str>,
        expected_sid: Option<&str>,
        client: &Client,
    ) -> Result<Issued> {
        self.limit(Limit::RefreshPerIp, &client.ip, client).await?;
        let (mut row, mut session) = self.lookup(token).await?;
        if expected_sid.is_some_and(|sid| sid != session.id) {
            return Err(Error::TokenInvalid);
        }
        self.limit(Limit::RefreshPerSession, &session.id, client)
            .await?;
        let token = token.unwrap_or_default();
        self.ensure_live(&session, client).await?;
        let user = self
            .store
            .user_by_id(&session.user_id)
            .await?
            .ok_or(Error::RefreshInvalid)?;
        self.check_binding(&session, client).await?;

        let next = refresh_token::successor(&self.refresh_key, token);
        let next_hash = refresh_token::hash(&next);
        if row.used_at.is_none() {
            let now = self.now();
            let idle_end =
                (now + self.config.idle_ttl.as_secs() as i64).min(session.absolute_expires_at);
            match self
                .store
                .rotate(&row.hash, &next_hash, &session.id, now, idle_end)
                .await?
            {
                Rotation::Rotated => {
                    session.idle_expires_at = idle_end;
                    session.last_used_at = now;
                    self.audit(
                        event(audit::REFRESH, client)
                            .user(&user.id)
                            .session(&session.id),
                    )
                    .await;
                    return self.issue(&user, &session, next, now);
                }
                // A concurrent request won; answer as it did.
                Rotation::AlreadyUsed => {
                    row = self
                        .store
                        .refresh_token(&row.hash)
                        .await?
                        .ok_or(Error::RefreshInvalid)?;
                    session = self
                        .store
                        .session(&session.id)
                        .await?
                        .ok_or(Error::RefreshInvalid)?;
                }
            }
        }

        let used_at = row.used_at.unwrap_or_default();
        let grace = self.config.refresh_grace.as_secs() as i64;
        if self.now() - used_at <= grace && row.successor.as_deref() == Some(next_hash.as_str()) {
            return self.issue(&user, &session, next, used_at);
        }
        self.end_session(&session, EndReason::ReuseDetected, client)
            .await?;
        Err(Error::RefreshReused)
    }

    /// Applies the User-Agent policy; an IP change is only logged (mobile networks
    /// change address all the time).
    async fn check_binding(&self, session: &SessionRow, client: &Client) -> Result<()> {
        if session.user_agent != client.user_agent {
            self.audit(
                event(audit::SESSION_UA_CHANGED, client)
                    .user(&session.user_id)
                    .session(&session.id),
            )
            .await;
            if self.config.ua_policy == BindingPolicy::Revoke {
                self.end_session(session, EndReason::WrongDevice, client)
                    .await?;
                return Err(Error::SessionRevoked(EndReason::WrongDevice));
            }
        }
        if session.ip != client.ip {
            self.audit(
                event(audit::SESSION_IP_CHANGED, client)
                    .user(&session.user_id)
                    .session(&session.id)
                    .detail(&session.ip),
            )
            .await;
        }
        Ok(())
    }

    /// Ends the cookie's session and denylists the bearer token; both are optional and
    /// logout always succeeds, so a half-dead client can always sign out.
    pub async fn logout(
        &self,
        refresh: Option<&str>,
        bearer: Option<&AuthUser>,
        client: &Client,
    ) -> Result<()> {
        if let Some(auth) = bearer {
            self.store.deny(&auth.jti, auth.expires_at).await?;
            if let Some(session) = self.store.session(&auth.session_id).await? {
                self.end_session(&session, EndReason::LoggedOut, client)
                    .await?;
            }
        }
        if refresh.is_some()
            && let Ok((_, session)) = self.lookup(refresh).await
        {
            self.end_session(&session, EndReason::LoggedOut, client)
                .await?;
        }
        Ok(())
    }

    // --- bearer tokens ---

    /// Verifies an access token and checks the denylist.
    pub async fn authenticate(&self, token: &str) -> Result<AuthUser> {
        let Verified { claims, expires_at } = self.keys.verify(
            token,
            self.clock.as_ref(),
            self.config.leeway,
            &self.config.issuer,
            &self.config.audience,
        )?;
        if self.store.is_denied(&claims.jti).await? {
            return Err(Error::TokenRevoked);
        }
        Ok(AuthUser {
            user_id: claims.sub,
            session_id: claims.sid,
            roles: claims.roles,
            permissions: claims.perms,
            jti: claims.jti,
            expires_at,
        })
    }

    // --- session management ---

    /// The cookie's session, without rotating anything.
    pub async fn session_status(
        &self,
        refresh: Option<&str>,
        client: &Client,
    ) -> Result<SessionStatus> {
        let (_, session) = self.lookup(refresh).await?;
        self.ensure_live(&session, client).await?;
        Ok(SessionStatus {
            session: session_info(&session),
            server_time: self.now(),
        })
    }

    pub async fn sessions(&self, auth: &AuthUser) -> Result<Vec<SessionSummary>> {
        let rows = self.store.live_sessions(&auth.user_id, self.now()).await?;
        Ok(rows
            .into_iter()
            .map(|s| SessionSummary {
                current: s.id == auth.session_id,
                device: s.user_agent,
                ip: s.ip,
                created_at: s.created_at,
                last_used_at: s.last_used_at,
                idle_expires_at: s.idle_expires_at,
                absolute_expires_at: s.absolute_expires_at,
                id: s.id,
            })
            .collect())
    }

    /// Revokes one of the caller's own sessions; another user's is "not found".
    pub async fn revoke_session(&self, auth: &AuthUser, id: &str, client: &Client) -> Result<()> {
        let session = self
            .store
            .session(id)
            .await?
            .filter(|s| s.user_id == auth.user_id && s.ended_at.is_none())
            .ok_or(Error::NotFound)?;
        self.end_session(&session, EndReason::RevokedByUser, client)
            .await?;
        if session.id == auth.session_id {
            self.store.deny(&auth.jti, auth.expires_at).await?;
        }
        Ok(())
    }

    /// Ends every session of the caller, the current one included.
    pub async fn logout_all(&self, auth: &AuthUser, client: &Client) -> Result<()> {
        self.end_all(auth, None, EndReason::LoggedOut, client)
            .await?;
        self.store.deny(&auth.jti, auth.expires_at).await?;
        Ok(())
    }

    async fn end_all(
        &self,
        auth: &AuthUser,
        keep: Option<&str>,
        reason: EndReason,
        client: &Client,
    ) -> Result<()> {
        let ended = self
            .store
            .end_user_sessions(&auth.user_id, keep, reason.as_str(), self.now())
            .await?;
        for id in ended {
            self.audit(
                event(audit::event_for(reason), client)
                    .user(&auth.user_id)
                    .session(&id)
                    .detail(reason.as_str()),
            )
            .await;
        }
        Ok(())
    }

    /// Changes the password after checking the current one; every other session ends.
    pub async fn change_password(
        &self,
        auth: &AuthUser,
        current: String,
        new: String,
        client: &Client,
    ) -> Result<()> {
        password::check_strength(&new)?;
        let user = self
            .store
            .user_by_id(&auth.user_id)
            .await?
            .ok_or(Error::TokenInvalid)?;
        if !password::verify(current, user.password_hash.clone()).await? {
            return Err(Error::InvalidCredentials);
        }
        self.store
            .set_password_hash(&user.id, &password::hash(new).await?)
            .await?;
        self.audit(
            event(audit::PASSWORD_CHANGED, client)
                .user(&user.id)
                .username(&user.username)
                .session(&auth.session_id),
        )
        .await;
        self.end_all(
            auth,
            Some(&auth.session_id),
            EndReason::PasswordChanged,
            client,
        )
        .await
    }

    pub async fn audit_log(&self, limit: i64) -> Result<Vec<AuditEvent>> {
        let rows = self.store.recent_audit(limit.clamp(1, 1000)).await?;
        Ok(rows
            .into_iter()
            .map(|r| AuditEvent {
                id: r.id,
                at: r.at,
                event: r.event,
                user_id: r.user_id,
                username: r.username,
                session_id: r.session_id,
                ip: r.ip,
                user_agent: r.user_agent,
                detail: r.detail,
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_checked() {
        assert!(check_username("alice").is_ok());
        assert!(check_username("a.b-c_d9").is_ok());
        for bad in ["", "with space", "semi;colon", &"x".repeat(65)] {
            assert!(check_username(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn admins_get_audit_permission_and_users_do_not() {
        assert!(permissions_for(&["admin".into()]).contains(&"audit:read".to_owned()));
        assert!(!permissions_for(&["user".into()]).contains(&"audit:read".to_owned()));
    }
}
