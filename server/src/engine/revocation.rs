//! Ending sessions and checking access tokens: logout, revoke, log out everywhere, and the
//! bearer check that must see every ended session at once.

use wire::EndReason;

use super::{AuthUser, Client, Engine, Holder, event};
use crate::{
    audit,
    error::{Error, Result},
    keys::Verified,
    store::SessionRow,
};

impl Engine {
    /// Ends the refresh token's session (cookie or, for native apps, body: `holder`) and
    /// denylists the bearer token; both are optional and logout always succeeds, so a
    /// half-dead client can always sign out.
    pub async fn logout(
        &self,
        refresh: Option<&str>,
        holder: Holder<'_>,
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
            && let Ok((_, session)) = self.lookup(refresh, holder).await
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
            client_id: claims.client_id,
            scope: claims
                .scope
                .map(|s| s.split_whitespace().map(str::to_owned).collect()),
        })
    }

    pub(super) async fn end_session(
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

    pub(super) async fn end_all(
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
}
