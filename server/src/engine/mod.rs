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

use std::sync::{
    Arc,
    atomic::{AtomicI64, Ordering},
};

use wire::{SessionInfo, TokenResponse, User};

pub use native::{Holder, SessionKind};
pub use oauth::{OAuthError, RevokeForm, TokenForm};

use crate::{
    clock::Clock,
    config::Config,
    error::{Error, Result},
    keys::Keys,
    password::Hasher,
    rate_limit::{Limits, Refusals},
    refresh_token,
    revoked::Revoked,
    secrets::Kek,
    store::{NewAuditEvent, SessionRow, Store, UserRow},
    verified::VerifiedTokens,
};

/// Name (and sealing label) of the refresh-token HMAC key in the `secrets` table.
const REFRESH_KEY: &str = "refresh_hmac_key";

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
    pub username: String,
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
    /// A new device token for the device cookie, after a sign-in from a browser that
    /// had none (see [`Engine::login`]).
    pub device: Option<String>,
}

/// Everything a request needs: config, store, keys, clock, and the state mirrored in
/// memory (revocations, key ring, rate limits).
pub struct Engine {
    pub config: Config,
    pub store: Store,
    pub keys: Keys,
    pub clock: Arc<dyn Clock>,
    pub limits: Limits,
    /// Refusals counted for the audit log.
    pub refusals: Refusals,
    /// The bounded password-hashing pool.
    pub hasher: Hasher,
    /// Every revocation a bearer token is checked against (see [`crate::revoked`]).
    pub revoked: Revoked,
    /// Access tokens whose signature was checked here already (see [`crate::verified`]).
    pub verified: VerifiedTokens,
    /// The key-encryption key of the stored secrets.
    pub(crate) secrets: Kek,
    refresh_key: Vec<u8>,
    /// Verified against for unknown usernames, so timing does not tell who exists.
    dummy_hash: String,
    /// When a token with an unknown `kid` last made us reload the key ring (ms).
    last_key_reload_ms: AtomicI64,
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
    /// Loads keys and secrets from the store (creating them on a new database, and
    /// encrypting any stored in plain text), and the revocations to mirror.
    pub async fn new(
        config: Config,
        store: Store,
        secrets: Kek,
        clock: Arc<dyn Clock>,
    ) -> Result<Self> {
        let keys = Keys::load(&store, &secrets, clock.now()).await?;
        let refresh_key = refresh_key(&store, &secrets).await?;
        let hasher = Hasher::new(config.hash_concurrency(), config.hash_queue);
        let dummy_hash = hasher.hash(refresh_token::generate()).await?;
        let limits = match &config.redis_url {
            Some(url) => Limits::with_redis(&config, url, &config.redis_prefix).await?,
            None => Limits::new(&config),
        };
        let revoked = Revoked::default();
        revoked.replace(store.live_revocations(clock.now()).await?);
        Ok(Self {
            limits,
            refusals: Refusals::new(std::time::Duration::from_secs(60)),
            hasher,
            config,
            store,
            keys,
            clock,
            revoked,
            verified: VerifiedTokens::new(16_384),
            secrets,
            refresh_key,
            dummy_hash,
            last_key_reload_ms: AtomicI64::new(0),
        })
    }

    /// Background housekeeping: deletes expired rows, old audit events and keys no live
    /// token needs.
    pub async fn prune(&self) -> Result<u64> {
        let now = self.now();
        let audit_before = now - self.config.audit_retention.as_secs() as i64;
        // Ended sessions stay a day, for the audit trail's sake.
        let rows = self.store.prune(now, 24 * 3600, audit_before).await?;
        // A key that stopped signing at T signed tokens that live until T + access TTL.
        let key_life = (self.config.access_ttl + self.config.leeway).as_secs() as i64 + 60;
        let keys = self.store.prune_keys(now - key_life).await?;
        if keys > 0 {
            self.announce(crate::cluster::Event::Keys).await?;
        }
        let codes = self.store.prune_codes(now - 24 * 3600).await?;
        self.revoked.purge(now);
        self.verified.purge(now);
        self.limits.shrink(self.clock.now_ms());
        for refused in self.refusals.drain(self.clock.now_ms()) {
            let detail = format!(
                "{} refused {} more times",
                refused.limit.as_str(),
                refused.count
            );
            let summary = NewAuditEvent {
                event: crate::audit::RATE_LIMITED_REPEATEDLY,
                detail: Some(&detail),
                ..Default::default()
            };
            self.audit(summary).await;
        }
        Ok(rows + keys + codes)
    }

    /// Adds a signing key that signs `activate_in` from now and tells every instance to
    /// load it at once; returns its `kid` and activation time.
    pub async fn rotate_keys(&self, activate_in: std::time::Duration) -> Result<(String, i64)> {
        let now = self.now();
        let activates_at = now + activate_in.as_secs() as i64;
        let kid = crate::keys::add_key(&self.store, &self.secrets, now, activates_at).await?;
        self.announce(crate::cluster::Event::Keys).await?;
        Ok((kid, activates_at))
    }

    /// Whether a token signed with an unknown `kid` may make us reload the key ring: at
    /// most once a second, so forged `kid`s cannot turn into database load.
    fn may_reload_keys(&self) -> bool {
        let now = self.clock.now_ms();
        let last = self.last_key_reload_ms.load(Ordering::Relaxed);
        now - last >= 1000
            && self
                .last_key_reload_ms
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
    }

    /// When a revocation made now must last: until every token it covers has expired.
    fn revoke_until(&self) -> i64 {
        self.now() + (self.config.access_ttl + self.config.leeway).as_secs() as i64 + 1
    }

    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    async fn audit(&self, event: NewAuditEvent<'_>) {
        crate::metrics::record_audit(event.event);
        // An audit failure must not turn a successful logout into an error, but it
        // must be seen.
        if let Err(e) = self.store.audit(&event, self.now()).await {
            tracing::error!(error = ?e, event = event.event, "audit write failed");
        }
    }
}

/// The refresh-token HMAC key: created sealed on a new database; a plaintext key from
/// before encryption is sealed in place.
async fn refresh_key(store: &Store, secrets: &Kek) -> Result<Vec<u8>> {
    let candidate = secrets.seal(REFRESH_KEY, refresh_token::generate().as_bytes());
    let stored = store.secret_or_insert(REFRESH_KEY, &candidate).await?;
    if Kek::is_sealed(&stored) {
        return Ok(secrets.open(REFRESH_KEY, &stored)?);
    }
    let sealed = secrets.seal(REFRESH_KEY, stored.as_bytes());
    store.replace_secret(REFRESH_KEY, &stored, &sealed).await?;
    tracing::info!("encrypted the refresh-token key stored in plain text");
    Ok(stored.into_bytes())
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
