//! The session engine: every rule about logins, sessions and tokens, independent of
//! HTTP. Handlers translate requests into calls here; time comes from the injected
//! [`Clock`], so tests move it instead of sleeping.

mod login;
mod native;
mod oauth;
mod revocation;
mod rotation;
mod sessions;
mod users;

use std::sync::Arc;

use wire::{SessionInfo, TokenResponse, User};

pub use native::{Holder, SessionKind};
pub use oauth::{OAuthError, RevokeForm, TokenForm};

use crate::{
    clock::Clock,
    config::Config,
    error::{Error, Result},
    keys::Keys,
    password,
    rate_limit::Limits,
    refresh_token,
    store::{NewAuditEvent, SessionRow, Store, UserRow},
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
    /// The OAuth client the token was issued to; `None` for first-party tokens.
    pub client_id: Option<String>,
    /// The scopes granted to that client; `None` for first-party tokens.
    pub scope: Option<Vec<String>>,
}

impl AuthUser {
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }

    /// Whether the token may be used for `scope`: first-party tokens may do anything
    /// their permissions allow, a client's token only what its scope names.
    pub fn may(&self, scope: &str) -> bool {
        self.scope
            .as_ref()
            .is_none_or(|granted| granted.iter().any(|s| s == scope))
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
        let codes = self.store.prune_codes(now - 24 * 3600).await?;
        self.keys.reload(&self.store).await?;
        self.limits.shrink();
        Ok(rows + keys + codes)
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
