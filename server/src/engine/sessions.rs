//! What a user sees of their sessions: status for the countdown, the device list, the
//! password change, and the audit log for admins.

use wire::text::device_name;
use wire::{AuditEvent, EndReason, SessionStatus, SessionSummary};

use super::{AuthUser, Client, Engine, Holder, event, session_info};
use crate::{
    audit,
    error::{Error, Result},
    password,
    rate_limit::Limit,
};

impl Engine {
    /// The cookie's session, without rotating anything.
    pub async fn session_status(
        &self,
        refresh: Option<&str>,
        client: &Client,
    ) -> Result<SessionStatus> {
        let (_, session) = self.lookup(refresh, Holder::Cookie).await?;
        self.ensure_live(&session, client).await?;
        Ok(SessionStatus {
            session: session_info(&session),
            server_time: self.now(),
        })
    }

    pub async fn sessions(&self, auth: &AuthUser) -> Result<Vec<SessionSummary>> {
        let rows = self.store.live_sessions(&auth.user_id, self.now()).await?;
        let mut list = rows
            .into_iter()
            .map(|s| SessionSummary {
                current: s.id == auth.session_id,
                device_name: device_name(&s.user_agent),
                device: s.user_agent,
                ip: s.ip,
                created_at: s.created_at,
                last_used_at: s.last_used_at,
                idle_expires_at: s.idle_expires_at,
                absolute_expires_at: s.absolute_expires_at,
                id: s.id,
            })
            .collect::<Vec<_>>();
        // The order every client shows: this device, then the store's (most recently used).
        list.sort_by_key(|s| !s.current);
        Ok(list)
    }

    /// Changes the password after checking the current one; every other session ends.
    pub async fn change_password(
        &self,
        auth: &AuthUser,
        current: String,
        new: String,
        client: &Client,
    ) -> Result<()> {
        // Each attempt costs a hash: bounded per user and per address, like sign-ins.
        self.limit(Limit::PasswordPerUser, &auth.user_id, client)
            .await?;
        self.limit(Limit::LoginPerIp, &client.ip, client).await?;
        password::check_strength(&new, &auth.username)?;
        let user = self
            .store
            .user_by_id(&auth.user_id)
            .await?
            .ok_or(Error::TokenInvalid)?;
        if !self
            .hasher
            .verify(current, user.password_hash.clone())
            .await?
        {
            return Err(Error::InvalidCredentials);
        }
        self.store
            .set_password_hash(&user.id, &self.hasher.hash(new).await?)
            .await?;
        self.audit(
            event(audit::PASSWORD_CHANGED, client)
                .user(&user.id)
                .username(&user.username)
                .session(&auth.session_id),
        )
        .await;
        self.end_all(
            &auth.user_id,
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
                device_name: r.user_agent.as_deref().map(device_name),
                user_agent: r.user_agent,
                detail: r.detail,
            })
            .collect())
    }
}
