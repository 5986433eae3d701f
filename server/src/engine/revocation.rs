//! Ending sessions and checking access tokens: logout, revoke, log out everywhere,
//! removing a user, and the bearer check, which must see every ended session at once.
//!
//! Every end is written to the database together with its revocation, applied to this
//! instance's memory and announced to the others ([`crate::cluster`]), so an ended
//! session's access tokens stop working everywhere within a second instead of at `exp`.

use std::sync::Arc;

use jwt_compact::UntrustedToken;
use wire::EndReason;

use super::{AuthUser, Client, Engine, Holder, event};
use crate::{
    audit,
    cluster::Event,
    error::{Error, Result},
    keys::Verified,
    revoked::{Kind, Revocation},
    store::SessionRow,
};

impl Engine {
    /// Ends the refresh token's session (cookie or, for native apps, body: `holder`) and
    /// the bearer token's; both are optional and logout always succeeds, so a half-dead
    /// client can always sign out.
    pub async fn logout(
        &self,
        refresh: Option<&str>,
        holder: Holder<'_>,
        bearer: Option<&AuthUser>,
        client: &Client,
    ) -> Result<()> {
        if let Some(auth) = bearer {
            self.revoke_token(auth).await?;
            if let Some(session) = self.store.session(&auth.session_id).await? {
                self.end_session(&session, EndReason::LoggedOut, client)
                    .await?;
            }
        }
        if refresh.is_some()
            && let Ok((_, session)) = self.lookup(refresh, holder).await
        {
            self.end_session(&session, EndReason::LoggedOut, client)
                .await?;
        }
        Ok(())
    }

    // --- bearer tokens ---

    /// Verifies an access token (or finds it verified before, see
    /// [`crate::verified`]) and checks it against every revocation, in memory: no
    /// database round trip.
    pub async fn authenticate(&self, token: &str) -> Result<AuthUser> {
        let leeway = self.config.leeway.as_secs() as i64;
        let verified = match self.verified.get(token, self.now(), leeway) {
            Some(verified) => verified,
            None => {
                let verified = Arc::new(match self.verify(token) {
                    // Signed by a key another instance just added? Reload once, look again.
                    Err(Error::TokenInvalid) if self.signed_by_unknown_key(token) => {
                        self.keys.reload(&self.store, &self.secrets).await?;
                        self.verify(token)?
                    }
                    other => other?,
                });
                self.verified.insert(token, verified.clone());
                verified
            }
        };
        let Verified { claims, expires_at } = &*verified;
        if let Some(reason) = self.revoked.covers(&claims.sub, &claims.sid, &claims.jti) {
            return Err(Error::TokenRevoked(reason));
        }
        Ok(AuthUser {
            user_id: claims.sub.clone(),
            username: claims.preferred_username.clone(),
            session_id: claims.sid.clone(),
            roles: claims.roles.clone(),
            permissions: claims.perms.clone(),
            jti: claims.jti.clone(),
            expires_at: *expires_at,
            client_id: claims.client_id.clone(),
            scope: claims
                .scope
                .as_ref()
                .map(|s| s.split_whitespace().map(str::to_owned).collect()),
        })
    }

    fn verify(&self, token: &str) -> Result<Verified> {
        self.keys.verify(
            token,
            self.clock.as_ref(),
            self.config.leeway,
            &self.config.issuer,
            &self.config.audience,
        )
    }

    fn signed_by_unknown_key(&self, token: &str) -> bool {
        let kid = UntrustedToken::new(token)
            .ok()
            .and_then(|t| t.header().key_id.clone());
        kid.is_some_and(|kid| !self.keys.knows(&kid)) && self.may_reload_keys()
    }

    /// Revokes one access token (its `jti`) until it expires.
    pub(super) async fn revoke_token(&self, auth: &AuthUser) -> Result<()> {
        let revocation = Revocation {
            kind: Kind::Token,
            id: auth.jti.clone(),
            reason: EndReason::LoggedOut,
            expires_at: auth.expires_at,
        };
        self.store.revoke(&revocation, self.now()).await?;
        self.announce(Event::Revoked(revocation)).await
    }

    /// Ends `session` for `reason`: its refresh token stops at once (the database says
    /// so), its access tokens too (revoked in memory, everywhere).
    pub(super) async fn end_session(
        &self,
        session: &SessionRow,
        reason: EndReason,
        client: &Client,
    ) -> Result<()> {
        let until = self.revoke_until();
        if self
            .store
            .end_session(&session.id, reason, self.now(), until)
            .await?
        {
            self.announce(Event::Revoked(Revocation {
                kind: Kind::Session,
                id: session.id.clone(),
                reason,
                expires_at: until,
            }))
            .await?;
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

    /// Revokes one of the caller's own sessions; another user's is "not found".
    pub async fn revoke_session(&self, auth: &AuthUser, id: &str, client: &Client) -> Result<()> {
        let session = self
            .store
            .session(id)
            .await?
            .filter(|s| s.user_id == auth.user_id && s.ended_at.is_none())
            .ok_or(Error::NotFound)?;
        self.end_session(&session, EndReason::RevokedByUser, client)
            .await
    }

    /// Ends every session of the caller, the current one included.
    pub async fn logout_all(&self, auth: &AuthUser, client: &Client) -> Result<()> {
        self.end_all(&auth.user_id, None, EndReason::LoggedOut, client)
            .await
    }

    /// Ends every session of `user_id` but `keep`.
    pub(super) async fn end_all(
        &self,
        user_id: &str,
        keep: Option<&str>,
        reason: EndReason,
        client: &Client,
    ) -> Result<()> {
        let until = self.revoke_until();
        let ended = self
            .store
            .end_user_sessions(user_id, keep, reason, self.now(), until)
            .await?;
        for id in ended {
            self.announce(Event::Revoked(Revocation {
                kind: Kind::Session,
                id: id.clone(),
                reason,
                expires_at: until,
            }))
            .await?;
            self.audit(
                event(audit::event_for(reason), client)
                    .user(user_id)
                    .session(&id)
                    .detail(reason.as_str()),
            )
            .await;
        }
        Ok(())
    }

    /// Removes a user: every session ends, every access token stops, the row goes.
    /// `false` if there is no such user.
    pub async fn remove_user(&self, username: &str) -> Result<bool> {
        let Some(user) = self.store.user_by_name(username).await? else {
            return Ok(false);
        };
        let client = Client {
            ip: "local".into(),
            user_agent: "server user remove".into(),
        };
        self.end_all(&user.id, None, EndReason::AdminRevoked, &client)
            .await?;
        let revocation = Revocation {
            kind: Kind::User,
            id: user.id.clone(),
            reason: EndReason::AdminRevoked,
            expires_at: self.revoke_until(),
        };
        self.store.revoke(&revocation, self.now()).await?;
        self.announce(Event::Revoked(revocation)).await?;
        self.store.delete_user(&user.id).await?;
        self.audit(
            event(audit::USER_REMOVED, &client)
                .user(&user.id)
                .username(&user.username),
        )
        .await;
        Ok(true)
    }
}
