//! Password sign-in: rate limits, the password check, a new session and its first token pair.

use wire::{AccessClaims, LoginRequest, TokenResponse};

use super::{
    Client, Engine, Issued, SessionKind, event, new_id, permissions_for, session_info, user_view,
};
use crate::{
    audit,
    error::{Error, Result},
    rate_limit::Limit,
    refresh_token,
    store::{SessionRow, UserRow},
};

impl Engine {
    /// Takes one request from `limit`'s bucket for `key`. The first refusal of a window
    /// is audited at once, the rest as one summary (see [`crate::rate_limit::Refusals`]).
    pub(super) async fn limit(&self, limit: Limit, key: &str, client: &Client) -> Result<()> {
        let now_ms = self.clock.now_ms();
        let Err(error) = self.limits.take(limit, key, now_ms).await else {
            return Ok(());
        };
        crate::metrics::record_refusal(limit.as_str());
        if self.refusals.record(limit, key, now_ms) {
            self.audit(event(audit::RATE_LIMITED, client).detail(limit.as_str()))
                .await;
        }
        Err(error)
    }

    /// Signs in with a password. `device` is the device cookie, if the browser has one:
    /// a browser that signed in as this user before has its own budget, so guessing
    /// at the account from elsewhere does not lock its owner out (see
    /// [`crate::rate_limit`] for the whole policy).
    pub async fn login(
        &self,
        req: LoginRequest,
        device: Option<&str>,
        client: &Client,
    ) -> Result<Issued> {
        self.limit(Limit::LoginPerIp, &client.ip, client).await?;
        let name = req.username.to_lowercase();
        let user = self.store.user_by_name(&req.username).await?;
        let known_device = user.as_ref().and_then(|u| {
            refresh_token::device_id(&self.refresh_key, device?, &u.id).map(str::to_owned)
        });
        let budget = match &known_device {
            Some(id) => {
                self.limit(Limit::LoginPerDevice, id, client).await?;
                None
            }
            None => {
                self.limit(
                    Limit::LoginPerUserIp,
                    &format!("{name}|{}", client.ip),
                    client,
                )
                .await?;
                self.limit(Limit::LoginPerUser, &name, client).await?;
                Some(Limit::LoginPerUser)
            }
        };
        let hash = user
            .as_ref()
            .map_or(self.dummy_hash.clone(), |u| u.password_hash.clone());
        let matches = self.hasher.verify(req.password, hash).await?;
        let Some(user) = user.filter(|_| matches) else {
            self.audit(event(audit::LOGIN_FAILED, client).username(&req.username))
                .await;
            return Err(Error::InvalidCredentials);
        };
        // The budget counts failures: the owner's success gives its attempt back.
        if let Some(limit) = budget {
            self.limits.refund(limit, &name, self.clock.now_ms()).await;
        }

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
            kind: SessionKind::from(req.client).as_str().into(),
            client_id: None,
            scope: None,
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
        let mut issued = self.issue(&user, &session, token, now)?;
        if known_device.is_none() {
            issued.device = Some(refresh_token::device_token(&self.refresh_key, &user.id));
        }
        Ok(issued)
    }

    /// Builds the pair for `refresh` issued at `issued_at`. Deterministic in its inputs
    /// (the `jti` derives from the refresh token), so a re-issue within the grace period
    /// carries the same claims.
    pub(super) fn issue(
        &self,
        user: &UserRow,
        session: &SessionRow,
        refresh: String,
        issued_at: i64,
    ) -> Result<Issued> {
        let now = self.now();
        let roles = user.role_list();
        let mut perms = permissions_for(&roles);
        // A client's token carries only the permissions its scope names.
        if let Some(scope) = &session.scope {
            perms.retain(|p| scope.split_whitespace().any(|s| s == p));
        }
        let claims = AccessClaims {
            iss: self.config.issuer.clone(),
            aud: self.config.audience.clone(),
            sub: user.id.clone(),
            preferred_username: user.username.clone(),
            sid: session.id.clone(),
            jti: refresh_token::hash(&format!("jti:{refresh}"))[..32].to_owned(),
            perms,
            roles,
            client_id: session.client_id.clone(),
            scope: session.scope.clone(),
        };
        // An access token never outlives its session, idle end included: an idle session
        // must stop working at its end, not a token lifetime later.
        let expires_at = (issued_at + self.config.access_ttl.as_secs() as i64)
            .min(session.idle_expires_at)
            .min(session.absolute_expires_at);
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
                refresh_grace: self.config.refresh_grace.as_secs(),
            },
            refresh_token: refresh,
            device: None,
            cookie_max_age: (session.remember_me != 0).then(|| session.absolute_expires_at - now),
        })
    }
}
