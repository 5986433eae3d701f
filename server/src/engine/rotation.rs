//! Refresh-token rotation: the grace period, reuse detection, idle and absolute ends,
//! and the User-Agent binding. See DESIGN.md, "Tokens".

use wire::EndReason;

use super::{Client, Engine, Holder, Issued, event};
use crate::{
    audit,
    config::BindingPolicy,
    error::{Error, Result},
    rate_limit::Limit,
    refresh_token,
    store::{RefreshContext, RefreshRow, Rotation, SessionRow},
};

impl Engine {
    /// Ends the session if its idle or absolute end has passed; errors if it is over.
    pub(super) async fn ensure_live(&self, session: &SessionRow, client: &Client) -> Result<()> {
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

    /// Finds the session (and user) a refresh token belongs to, in one read, if they
    /// exist and the token came the way its kind of session sends it (`holder`).
    pub(super) async fn lookup(
        &self,
        token: Option<&str>,
        holder: Holder<'_>,
    ) -> Result<(RefreshRow, SessionRow)> {
        let found = self.lookup_context(token, holder).await?;
        Ok((found.token, found.session))
    }

    async fn lookup_context(
        &self,
        token: Option<&str>,
        holder: Holder<'_>,
    ) -> Result<RefreshContext> {
        let token = token.ok_or(Error::RefreshMissing)?;
        if !refresh_token::looks_valid(token) {
            return Err(Error::RefreshInvalid);
        }
        let found = self
            .store
            .refresh_context(&refresh_token::hash(token))
            .await?
            .ok_or(Error::RefreshInvalid)?;
        if !holder.accepts(&found.session) {
            return Err(Error::RefreshInvalid);
        }
        Ok(found)
    }

    /// Rotates the refresh token: see DESIGN.md, "Tokens". The idle end slides only when
    /// the client reports that the user was `active`. `holder` says how the token came
    /// (cookie, body, token endpoint): only its own kind of session is accepted.
    pub async fn refresh(
        &self,
        token: Option<&str>,
        holder: Holder<'_>,
        active: bool,
        client: &Client,
    ) -> Result<Issued> {
        self.rotate(token, holder, None, active, client).await
    }

    /// Backend-managed mode: rotates only if the cookie belongs to session `sid`, the
    /// session of the expired access token that came with it.
    pub async fn refresh_session(
        &self,
        token: Option<&str>,
        sid: &str,
        client: &Client,
    ) -> Result<Issued> {
        // A request to a bearer route is the user at work.
        self.rotate(token, Holder::Cookie, Some(sid), true, client)
            .await
    }

    async fn rotate(
        &self,
        token: Option<&str>,
        holder: Holder<'_>,
        expected_sid: Option<&str>,
        active: bool,
        client: &Client,
    ) -> Result<Issued> {
        self.limit(Limit::RefreshPerIp, &client.ip, client).await?;
        let RefreshContext {
            token: mut row,
            mut session,
            user,
        } = self.lookup_context(token, holder).await?;
        if expected_sid.is_some_and(|sid| sid != session.id) {
            return Err(Error::TokenInvalid);
        }
        self.limit(Limit::RefreshPerSession, &session.id, client)
            .await?;
        let token = token.unwrap_or_default();
        self.ensure_live(&session, client).await?;
        self.check_binding(&session, client).await?;

        let next = refresh_token::successor(&self.refresh_key, token);
        let next_hash = refresh_token::hash(&next);
        if row.used_at.is_none() {
            let now = self.now();
            let idle_end = if active {
                (now + self.config.idle_ttl.as_secs() as i64).min(session.absolute_expires_at)
            } else {
                session.idle_expires_at
            };
            // One short write transaction. A routine rotation is counted, not audited:
            // the token chain itself records it until it is pruned, and a row every few
            // minutes per active user would swamp the log (and cost a write each).
            match self
                .store
                .rotate(&row.hash, &next_hash, &session.id, now, idle_end)
                .await?
            {
                Rotation::Rotated => {
                    crate::metrics::record_refresh();
                    session.idle_expires_at = idle_end;
                    session.last_used_at = now;
                    return self.issue(&user, &session, next, now);
                }
                // A concurrent request won; answer as it did.
                Rotation::AlreadyUsed => {
                    let now_seen = self
                        .store
                        .refresh_context(&row.hash)
                        .await?
                        .ok_or(Error::RefreshInvalid)?;
                    row = now_seen.token;
                    session = now_seen.session;
                }
            }
        }

        let used_at = row.used_at.unwrap_or_default();
        let grace = self.config.refresh_grace.as_secs() as i64;
        if self.now() - used_at <= grace && row.successor.as_deref() == Some(next_hash.as_str()) {
            crate::metrics::record_grace_replay();
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
}
