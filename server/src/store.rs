//! Persistence: one SQL implementation over sqlx's `Any` driver, so the same queries run
//! on embedded SQLite (the default) and on PostgreSQL (several instances). Queries use
//! only SQL both understand; the two schemas differ only where the dialects do.

use std::{
    path::{Path, PathBuf},
    str::FromStr,
};

use sqlx::{
    AnyPool, FromRow,
    any::{AnyConnectOptions, AnyPoolOptions},
    migrate::Migrator,
};

use wire::EndReason;

use crate::{
    error::Result,
    revoked::{Kind, Revocation},
};

mod oauth;
mod rotations;
pub use oauth::{ClientRow, CodeRow};

static SQLITE: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES: Migrator = sqlx::migrate!("./migrations/postgres");

/// Handle to the database; cheap to clone.
#[derive(Clone)]
pub struct Store {
    /// Reads.
    pool: AnyPool,
    /// Writes. On SQLite one connection: writers queue here, in order, instead of
    /// contending for the database lock (whose busy handler sleeps for milliseconds);
    /// readers go on beside it (WAL). On PostgreSQL the same pool as reads.
    writer: AnyPool,
    /// The task that writes refresh-token rotations, several in one transaction.
    rotations: rotations::Rotations,
    /// The URL, on PostgreSQL only: the cluster listener opens its own connection.
    postgres_url: Option<String>,
}

impl std::fmt::Debug for Store {
    // The URL may carry a password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("postgres", &self.postgres_url.is_some())
            .finish()
    }
}

/// A signing key as stored: `secret` is sealed (see [`crate::secrets`]).
#[derive(Clone, Debug, FromRow)]
pub struct KeyRow {
    pub kid: String,
    pub secret: String,
    pub created_at: i64,
    pub activates_at: i64,
}

#[derive(Clone, Debug, FromRow)]
pub struct UserRow {
    pub id: String,
    pub username: String,
    pub password_hash: String,
    /// Space-separated role names.
    pub roles: String,
    pub created_at: i64,
}

impl UserRow {
    pub fn role_list(&self) -> Vec<String> {
        self.roles.split_whitespace().map(str::to_owned).collect()
    }
}

#[derive(Clone, Debug, FromRow)]
pub struct SessionRow {
    pub id: String,
    pub user_id: String,
    pub remember_me: i64,
    pub user_agent: String,
    pub ip: String,
    pub created_at: i64,
    pub last_used_at: i64,
    pub idle_expires_at: i64,
    pub absolute_expires_at: i64,
    pub ended_at: Option<i64>,
    pub end_reason: Option<String>,
    /// `browser`, `native` or `oauth` (`engine::SessionKind`): how its refresh token travels.
    pub kind: String,
    /// The OAuth client of an `oauth` session.
    pub client_id: Option<String>,
    /// The scope granted to that client, space-separated.
    pub scope: Option<String>,
}

#[derive(Clone, Debug, FromRow)]
pub struct RefreshRow {
    pub hash: String,
    pub session_id: String,
    pub created_at: i64,
    pub used_at: Option<i64>,
    pub successor: Option<String>,
}

/// An audit event before it is written.
#[derive(Clone, Debug, Default)]
pub struct NewAuditEvent<'a> {
    pub event: &'a str,
    pub user_id: Option<&'a str>,
    pub username: Option<&'a str>,
    pub session_id: Option<&'a str>,
    pub ip: Option<&'a str>,
    pub user_agent: Option<&'a str>,
    pub detail: Option<&'a str>,
}

impl<'a> NewAuditEvent<'a> {
    /// An event seen from `ip` with `user_agent`; the builders add what else is known.
    pub fn new(event: &'a str, ip: &'a str, user_agent: &'a str) -> Self {
        Self {
            event,
            ip: Some(ip),
            user_agent: Some(user_agent),
            ..Default::default()
        }
    }

    pub fn user(self, id: &'a str) -> Self {
        Self {
            user_id: Some(id),
            ..self
        }
    }

    pub fn username(self, name: &'a str) -> Self {
        Self {
            username: Some(name),
            ..self
        }
    }

    pub fn session(self, id: &'a str) -> Self {
        Self {
            session_id: Some(id),
            ..self
        }
    }

    pub fn detail(self, detail: &'a str) -> Self {
        Self {
            detail: Some(detail),
            ..self
        }
    }
}

#[derive(Clone, Debug, FromRow)]
pub struct AuditRow {
    pub id: i64,
    pub at: i64,
    pub event: String,
    pub user_id: Option<String>,
    pub username: Option<String>,
    pub session_id: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub detail: Option<String>,
}

/// A refresh token, its session and its user, read together.
#[derive(Clone, Debug)]
pub struct RefreshContext {
    pub token: RefreshRow,
    pub session: SessionRow,
    pub user: UserRow,
}

impl<'r> FromRow<'r, sqlx::any::AnyRow> for RefreshContext {
    fn from_row(row: &'r sqlx::any::AnyRow) -> sqlx::Result<Self> {
        use sqlx::Row;
        let session_id: String = row.try_get("session_id")?;
        let user_id: String = row.try_get("user_id")?;
        Ok(Self {
            token: RefreshRow {
                hash: row.try_get("hash")?,
                session_id: session_id.clone(),
                created_at: row.try_get("t_created_at")?,
                used_at: row.try_get("used_at")?,
                successor: row.try_get("successor")?,
            },
            session: SessionRow {
                id: session_id,
                user_id: user_id.clone(),
                remember_me: row.try_get("remember_me")?,
                user_agent: row.try_get("user_agent")?,
                ip: row.try_get("ip")?,
                created_at: row.try_get("s_created_at")?,
                last_used_at: row.try_get("last_used_at")?,
                idle_expires_at: row.try_get("idle_expires_at")?,
                absolute_expires_at: row.try_get("absolute_expires_at")?,
                ended_at: row.try_get("ended_at")?,
                end_reason: row.try_get("end_reason")?,
                kind: row.try_get("kind")?,
                client_id: row.try_get("client_id")?,
                scope: row.try_get("scope")?,
            },
            user: UserRow {
                id: user_id,
                username: row.try_get("username")?,
                password_hash: row.try_get("password_hash")?,
                roles: row.try_get("roles")?,
                created_at: row.try_get("u_created_at")?,
            },
        })
    }
}

/// Outcome of trying to rotate a refresh token.
#[derive(Debug, PartialEq, Eq)]
pub enum Rotation {
    /// This request rotated it.
    Rotated,
    /// Another request rotated it first; read the row again.
    AlreadyUsed,
}

impl Store {
    /// Connects, enables WAL on SQLite, and applies the migrations. A SQLite database
    /// and its folder are created owner-only (and an existing file is made so).
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        Self::connect_with(url, None).await
    }

    /// As [`Store::connect`], with at most `max_connections` (default: 8 readers and one
    /// writer on SQLite, 16 on PostgreSQL).
    pub async fn connect_with(url: &str, max_connections: Option<u32>) -> anyhow::Result<Self> {
        sqlx::any::install_default_drivers();
        let sqlite = url.starts_with("sqlite:");
        if let Some(path) = sqlite_path(url) {
            prepare_sqlite_file(&path)?;
        }
        // Each connection to `sqlite::memory:` is a database of its own: one for all.
        let memory = url.contains(":memory:");
        let max = match () {
            _ if memory => 1,
            _ => max_connections
                .unwrap_or(if sqlite { 8 } else { 16 })
                .max(1),
        };
        let settings: &[&str] = if sqlite { &SQLITE_PRAGMAS } else { &[] };
        let pool = pool_of(url, max, settings).await?;
        let writer = if sqlite && !memory {
            pool_of(url, 1, settings).await?
        } else {
            pool.clone()
        };
        let migrator = if sqlite { &SQLITE } else { &POSTGRES };
        migrator.run(&writer).await?;
        if let Some(path) = sqlite_path(url) {
            // WAL and shared-memory files appear with the first write; SQLite gives them
            // the database file's mode, which is owner-only by now. Checked, not assumed.
            restrict_sqlite_files(&path)?;
        }
        // Every rotation of this instance waits behind the batch in flight: on
        // PostgreSQL that batch has a connection of its own, whose lock waits are
        // bounded, so a transaction left open on one token (a stuck instance, a
        // console) fails that token's refresh instead of stalling everyone's.
        // Connected at the first rotation: a function's cold start waits for none.
        let rotation_writer = if sqlite {
            writer.clone()
        } else {
            pool_options(url, 1, &[POSTGRES_ROTATION_LOCK_TIMEOUT])
                .connect_lazy_with(AnyConnectOptions::from_str(url)?)
        };
        Ok(Self {
            rotations: rotations::Rotations::start(
                rotation_writer,
                !sqlite,
                (sqlite && !memory).then(|| pool.clone()),
            ),
            pool,
            writer,
            postgres_url: (!sqlite).then(|| url.to_owned()),
        })
    }
}

/// Set on every SQLite connection.
const SQLITE_PRAGMAS: [&str; 6] = [
    // WAL lets readers run beside the one writer; NORMAL sync is durable across a
    // process crash, which is what we guard against.
    "PRAGMA journal_mode = WAL",
    "PRAGMA synchronous = NORMAL",
    "PRAGMA foreign_keys = ON",
    "PRAGMA busy_timeout = 5000",
    // The store's writer task checkpoints every second, off the write path, and lets
    // the log restart (store/rotations.rs). A commit checkpoints only past this many
    // pages (SQLite's default: 1 000, and each commit past it pays for one): a bound,
    // should that task ever stop.
    "PRAGMA wal_autocheckpoint = 50000",
    // A log that grew under a burst is cut back once it restarts.
    "PRAGMA journal_size_limit = 67108864",
];

/// Set on the PostgreSQL connection that writes rotations: a batch waits at most this
/// long for each lock (another instance's batch holds a token's row for milliseconds),
/// then is written again one rotation at a time, so only the locked token's refresh
/// fails. Not on the other connections: migrations wait for each other's advisory lock.
const POSTGRES_ROTATION_LOCK_TIMEOUT: &str = "SET lock_timeout = '2s'";

/// A pooled connection idle for longer than this is pinged before it is used.
const IDLE_PING_AFTER: std::time::Duration = std::time::Duration::from_secs(10);

/// A pool of at most `max` connections to `url`, each set up with `settings` (SQLite's
/// pragmas, say).
async fn pool_of(
    url: &str,
    max: u32,
    settings: &'static [&'static str],
) -> anyhow::Result<AnyPool> {
    let options = AnyConnectOptions::from_str(url)?;
    Ok(pool_options(url, max, settings)
        .connect_with(options)
        .await?)
}

fn pool_options(url: &str, max: u32, settings: &'static [&'static str]) -> AnyPoolOptions {
    let mut pool = AnyPoolOptions::new()
        .max_connections(max)
        // No ping before every query (on SQLite a hand-off to the connection's worker
        // thread and back, on PostgreSQL a round trip; a refresh makes two queries):
        // only before one that sat idle, which a database restart, a failover or a
        // proxy (or a serverless instance's freeze) may have cut.
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for > IDLE_PING_AFTER {
                    sqlx::Connection::ping(conn).await?;
                }
                Ok(true)
            })
        });
    if url.contains(":memory:") {
        // The one connection is the database: it must never be closed for idling.
        pool = pool.idle_timeout(None).max_lifetime(None);
    }
    pool.after_connect(move |conn, _meta| {
        Box::pin(async move {
            for setting in settings {
                sqlx::query(setting).execute(&mut *conn).await?;
            }
            Ok(())
        })
    })
}

impl Store {
    /// The database URL when it is PostgreSQL (for `LISTEN`), `None` on SQLite.
    pub fn postgres_url(&self) -> Option<&str> {
        self.postgres_url.as_deref()
    }

    /// `NOTIFY channel, payload` on PostgreSQL; nothing on SQLite (one instance).
    pub async fn notify(&self, channel: &str, payload: &str) -> Result<()> {
        if self.postgres_url.is_some() {
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(channel)
                .bind(payload)
                .execute(&self.writer)
                .await?;
        }
        Ok(())
    }

    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    // --- users ---

    pub async fn count_users(&self) -> Result<i64> {
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM users")
            .fetch_one(&self.pool)
            .await?;
        Ok(n)
    }

    /// Returns `false` when the username is taken.
    pub async fn insert_user(&self, user: &UserRow) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO users (id, username, password_hash, roles, created_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (username) DO NOTHING",
        )
        .bind(&user.id)
        .bind(&user.username)
        .bind(&user.password_hash)
        .bind(&user.roles)
        .bind(user.created_at)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn user_by_name(&self, username: &str) -> Result<Option<UserRow>> {
        Ok(sqlx::query_as("SELECT * FROM users WHERE username = $1")
            .bind(username)
            .fetch_optional(&self.pool)
            .await?)
    }

    pub async fn user_by_id(&self, id: &str) -> Result<Option<UserRow>> {
        Ok(sqlx::query_as("SELECT * FROM users WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// Deletes a user; sessions and tokens go with it (`ON DELETE CASCADE`).
    pub async fn delete_user(&self, id: &str) -> Result<()> {
        sqlx::query("DELETE FROM users WHERE id = $1")
            .bind(id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    pub async fn set_password_hash(&self, user_id: &str, hash: &str) -> Result<()> {
        sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
            .bind(hash)
            .bind(user_id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    // --- sessions and refresh tokens ---

    /// Creates a session together with its first refresh token.
    pub async fn insert_session(&self, s: &SessionRow, first_token_hash: &str) -> Result<()> {
        let mut tx = self.writer.begin().await?;
        insert_session_in(&mut tx, s, first_token_hash).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn session(&self, id: &str) -> Result<Option<SessionRow>> {
        Ok(sqlx::query_as("SELECT * FROM sessions WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// How many sessions, of all users, are neither ended nor expired (a metric).
    pub async fn count_live_sessions(&self, now: i64) -> Result<i64> {
        let (n,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM sessions WHERE ended_at IS NULL \
             AND idle_expires_at > $1 AND absolute_expires_at > $1",
        )
        .bind(now)
        .fetch_one(&self.pool)
        .await?;
        Ok(n)
    }

    /// Closes every connection: later queries fail (a test of an unreachable database).
    pub async fn close(&self) {
        self.pool.close().await;
        self.writer.close().await;
        self.rotations.close().await;
    }

    /// Live sessions of a user, the most recently used first.
    pub async fn live_sessions(&self, user_id: &str, now: i64) -> Result<Vec<SessionRow>> {
        Ok(sqlx::query_as(
            "SELECT * FROM sessions WHERE user_id = $1 AND ended_at IS NULL \
             AND idle_expires_at > $2 AND absolute_expires_at > $2 ORDER BY last_used_at DESC, id",
        )
        .bind(user_id)
        .bind(now)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Ends a session and records its revocation (until `revoke_until`), together;
    /// `false` if it had already ended.
    pub async fn end_session(
        &self,
        id: &str,
        reason: EndReason,
        now: i64,
        revoke_until: i64,
    ) -> Result<bool> {
        let mut tx = self.writer.begin().await?;
        let done = sqlx::query(
            "UPDATE sessions SET ended_at = $1, end_reason = $2 WHERE id = $3 AND ended_at IS NULL",
        )
        .bind(now)
        .bind(reason.as_str())
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        let revocation = Revocation {
            kind: Kind::Session,
            id: id.to_owned(),
            reason,
            expires_at: revoke_until,
        };
        insert_revocation(&mut tx, &revocation, now).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Ends every live session of a user except `keep`, recording their revocations;
    /// returns the ended ids.
    pub async fn end_user_sessions(
        &self,
        user_id: &str,
        keep: Option<&str>,
        reason: EndReason,
        now: i64,
        revoke_until: i64,
    ) -> Result<Vec<String>> {
        let mut tx = self.writer.begin().await?;
        let ids: Vec<(String,)> = sqlx::query_as(
            "UPDATE sessions SET ended_at = $1, end_reason = $2 \
             WHERE user_id = $3 AND ended_at IS NULL AND id <> $4 RETURNING id",
        )
        .bind(now)
        .bind(reason.as_str())
        .bind(user_id)
        .bind(keep.unwrap_or(""))
        .fetch_all(&mut *tx)
        .await?;
        for (id,) in &ids {
            let revocation = Revocation {
                kind: Kind::Session,
                id: id.clone(),
                reason,
                expires_at: revoke_until,
            };
            insert_revocation(&mut tx, &revocation, now).await?;
        }
        tx.commit().await?;
        Ok(ids.into_iter().map(|(id,)| id).collect())
    }

    /// A refresh token with its session and user: everything a rotation reads, in one
    /// round trip.
    pub async fn refresh_context(&self, hash: &str) -> Result<Option<RefreshContext>> {
        Ok(sqlx::query_as(
            "SELECT t.hash, t.session_id, t.created_at AS t_created_at, t.used_at, t.successor, \
             s.user_id, s.remember_me, s.user_agent, s.ip, s.created_at AS s_created_at, \
             s.last_used_at, s.idle_expires_at, s.absolute_expires_at, s.ended_at, \
             s.end_reason, s.kind, s.client_id, s.scope, \
             u.username, u.password_hash, u.roles, u.created_at AS u_created_at \
             FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id \
             JOIN users u ON u.id = s.user_id WHERE t.hash = $1",
        )
        .bind(hash)
        .fetch_optional(&self.pool)
        .await?)
    }

    pub async fn refresh_token(&self, hash: &str) -> Result<Option<RefreshRow>> {
        Ok(
            sqlx::query_as("SELECT * FROM refresh_tokens WHERE hash = $1")
                .bind(hash)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// Marks `hash` used, links it to `successor` and slides the session's idle end,
    /// all or nothing. Of concurrent calls for one token exactly one gets `Rotated`:
    /// the conditional update is the serialisation point on both databases. Written
    /// together with the other rotations waiting at that moment (see [`rotations`]).
    pub async fn rotate(
        &self,
        hash: &str,
        successor: &str,
        session_id: &str,
        now: i64,
        idle_expires_at: i64,
    ) -> Result<Rotation> {
        self.rotations
            .rotate(rotations::Request {
                hash: hash.to_owned(),
                successor: successor.to_owned(),
                session_id: session_id.to_owned(),
                now,
                idle_expires_at,
            })
            .await
    }

    // --- revocations ---

    /// Records a revocation on its own (a logged-out token, a removed user).
    pub async fn revoke(&self, r: &Revocation, now: i64) -> Result<()> {
        let mut tx = self.writer.begin().await?;
        insert_revocation(&mut tx, r, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Every revocation that may still matter at `now`: what each instance mirrors.
    pub async fn live_revocations(&self, now: i64) -> Result<Vec<Revocation>> {
        let rows: Vec<(String, String, String, i64)> = sqlx::query_as(
            "SELECT kind, id, reason, expires_at FROM revocations WHERE expires_at >= $1",
        )
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .filter_map(|(kind, id, reason, expires_at)| {
                Some(Revocation {
                    kind: Kind::parse(&kind)?,
                    id,
                    reason: EndReason::parse(&reason).unwrap_or(EndReason::AdminRevoked),
                    expires_at,
                })
            })
            .collect())
    }

    // --- audit ---

    pub async fn audit(&self, e: &NewAuditEvent<'_>, now: i64) -> Result<()> {
        let mut tx = self.writer.begin().await?;
        insert_audit(&mut tx, e, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The most recent events, newest first.
    pub async fn recent_audit(&self, limit: i64) -> Result<Vec<AuditRow>> {
        // Events name the user by id; the name is filled in for the reader.
        Ok(sqlx::query_as(
            "SELECT a.id, a.at, a.event, a.user_id, COALESCE(a.username, u.username) AS username, \
             a.session_id, a.ip, a.user_agent, a.detail \
             FROM audit_events a LEFT JOIN users u ON u.id = a.user_id ORDER BY a.id DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    // --- keys and secrets ---

    /// Signing keys, in the order they sign: by activation, then creation.
    pub async fn signing_keys(&self) -> Result<Vec<KeyRow>> {
        Ok(sqlx::query_as(
            "SELECT kid, secret, created_at, activates_at FROM signing_keys \
             ORDER BY activates_at, created_at, kid",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn insert_signing_key(&self, key: &KeyRow) -> Result<()> {
        sqlx::query(
            "INSERT INTO signing_keys (kid, secret, created_at, activates_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(&key.kid)
        .bind(&key.secret)
        .bind(key.created_at)
        .bind(key.activates_at)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// Replaces a signing key's stored secret (encrypting a plaintext row in place).
    pub async fn set_signing_key_secret(&self, kid: &str, secret: &str) -> Result<()> {
        sqlx::query("UPDATE signing_keys SET secret = $1 WHERE kid = $2")
            .bind(secret)
            .bind(kid)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// Replaces the value of the secret `name` if it is still `old` (so two instances
    /// migrating at once cannot overwrite each other's result).
    pub async fn replace_secret(&self, name: &str, old: &str, new: &str) -> Result<()> {
        sqlx::query("UPDATE secrets SET value = $1 WHERE name = $2 AND value = $3")
            .bind(new)
            .bind(name)
            .bind(old)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// Returns the secret called `name`, storing `candidate` first if there is none.
    /// Several instances starting at once agree on whichever was stored first.
    pub async fn secret_or_insert(&self, name: &str, candidate: &str) -> Result<String> {
        sqlx::query(
            "INSERT INTO secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(candidate)
        .execute(&self.writer)
        .await?;
        let (value,): (String,) = sqlx::query_as("SELECT value FROM secrets WHERE name = $1")
            .bind(name)
            .fetch_one(&self.pool)
            .await?;
        Ok(value)
    }

    // --- housekeeping ---

    /// Deletes what can no longer matter: expired revocations, sessions (with their
    /// tokens) that ended or expired more than `keep` seconds ago, and audit events
    /// older than `audit_before`.
    pub async fn prune(&self, now: i64, keep: i64, audit_before: i64) -> Result<u64> {
        let revoked = sqlx::query("DELETE FROM revocations WHERE expires_at < $1")
            .bind(now)
            .execute(&self.writer)
            .await?;
        let audit = sqlx::query("DELETE FROM audit_events WHERE at < $1")
            .bind(audit_before)
            .execute(&self.writer)
            .await?;
        let cutoff = now - keep;
        let tokens = sqlx::query(
            "DELETE FROM refresh_tokens WHERE session_id IN (SELECT id FROM sessions \
             WHERE ended_at < $1 OR idle_expires_at < $1 OR absolute_expires_at < $1)",
        )
        .bind(cutoff)
        .execute(&self.writer)
        .await?;
        let sessions = sqlx::query(
            "DELETE FROM sessions WHERE ended_at < $1 OR idle_expires_at < $1 OR absolute_expires_at < $1",
        )
        .bind(cutoff)
        .execute(&self.writer)
        .await?;
        Ok(revoked.rows_affected()
            + audit.rows_affected()
            + tokens.rows_affected()
            + sessions.rows_affected())
    }
}

impl Store {
    /// Deletes the signing keys that stopped signing before `cutoff`: keys activated
    /// before the newest key activated at or before `cutoff`. Once a key has signed for
    /// longer than a token lives, no live token needs the keys before it.
    pub async fn prune_keys(&self, cutoff: i64) -> Result<u64> {
        let done = sqlx::query(
            "DELETE FROM signing_keys WHERE activates_at < \
             (SELECT MAX(activates_at) FROM signing_keys WHERE activates_at <= $1)",
        )
        .bind(cutoff)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected())
    }
}

/// Inserts a session and its first refresh token on `conn` (inside the caller's
/// transaction).
async fn insert_session_in(
    conn: &mut sqlx::AnyConnection,
    s: &SessionRow,
    first_token_hash: &str,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO sessions (id, user_id, remember_me, user_agent, ip, created_at, \
         last_used_at, idle_expires_at, absolute_expires_at, kind, client_id, scope) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(&s.id)
    .bind(&s.user_id)
    .bind(s.remember_me)
    .bind(&s.user_agent)
    .bind(&s.ip)
    .bind(s.created_at)
    .bind(s.last_used_at)
    .bind(s.idle_expires_at)
    .bind(s.absolute_expires_at)
    .bind(&s.kind)
    .bind(&s.client_id)
    .bind(&s.scope)
    .execute(&mut *conn)
    .await?;
    sqlx::query("INSERT INTO refresh_tokens (hash, session_id, created_at) VALUES ($1, $2, $3)")
        .bind(first_token_hash)
        .bind(&s.id)
        .bind(s.created_at)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

async fn insert_audit(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    e: &NewAuditEvent<'_>,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO audit_events (at, event, user_id, username, session_id, ip, user_agent, detail) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(now)
    .bind(e.event)
    .bind(e.user_id)
    .bind(e.username)
    .bind(e.session_id)
    .bind(e.ip)
    .bind(e.user_agent)
    .bind(e.detail)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn insert_revocation(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    r: &Revocation,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO revocations (kind, id, reason, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (kind, id) DO UPDATE SET expires_at = excluded.expires_at \
         WHERE revocations.expires_at < excluded.expires_at",
    )
    .bind(r.kind.as_str())
    .bind(&r.id)
    .bind(r.reason.as_str())
    .bind(now)
    .bind(r.expires_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The file of a SQLite URL (`sqlite://data/x.db?mode=rwc` → `data/x.db`); `None` for
/// other databases. `:memory:` comes back as is.
pub fn sqlite_path(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty()).then(|| PathBuf::from(path))
}

/// Creates `dir` (and its parents) readable by the owner only.
pub fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    if dir.exists() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)?;
    Ok(())
}

/// SQLite creates the file (`mode=rwc`) but not its folder, and with the process umask
/// (0644 as a rule): make both here, owner-only.
fn prepare_sqlite_file(path: &Path) -> anyhow::Result<()> {
    if path == Path::new(":memory:") {
        return Ok(());
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        create_private_dir(dir)?;
    }
    if !path.exists() {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(false);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        options.open(path)?;
    }
    restrict_sqlite_files(path)
}

/// Makes the database and its `-wal`/`-shm` files owner-only, wherever they came from.
fn restrict_sqlite_files(path: &Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for suffix in ["", "-wal", "-shm"] {
            let mut file = path.as_os_str().to_owned();
            file.push(suffix);
            let file = PathBuf::from(file);
            if file.exists() {
                std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))?;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(id: &str) -> SessionRow {
        SessionRow {
            id: id.into(),
            user_id: "u1".into(),
            remember_me: 0,
            user_agent: "ua".into(),
            ip: "127.0.0.1".into(),
            created_at: 0,
            last_used_at: 0,
            idle_expires_at: 100,
            absolute_expires_at: 1000,
            ended_at: None,
            end_reason: None,
            kind: "browser".into(),
            client_id: None,
            scope: None,
        }
    }

    /// A SQLite file with one user and sessions `s0`, `s1`, … whose tokens are `h0`, `h1`, …
    async fn sqlite_store(sessions: usize) -> (Store, PathBuf) {
        let file = std::env::temp_dir().join(format!(
            "jwt-refresh-store-{}.db",
            crate::refresh_token::generate()[..12].to_owned()
        ));
        let store = Store::connect(&format!("sqlite://{}?mode=rwc", file.display()))
            .await
            .unwrap();
        seed(&store, sessions).await;
        (store, file)
    }

    /// One user with `sessions` sessions, `s{i}` with first token `h{i}`.
    async fn seed(store: &Store, sessions: usize) {
        let user = UserRow {
            id: "u1".into(),
            username: "alice".into(),
            password_hash: "x".into(),
            roles: "user".into(),
            created_at: 0,
        };
        assert!(store.insert_user(&user).await.unwrap());
        for i in 0..sessions {
            let s = session(&format!("s{i}"));
            store.insert_session(&s, &format!("h{i}")).await.unwrap();
        }
    }

    /// A store on a new database of `TEST_POSTGRES_URL`'s server, with `sessions`
    /// sessions; `None` when no server is given (the SQLite pass).
    async fn postgres_store(sessions: usize) -> Option<(Store, String)> {
        use sqlx::{Connection, Executor};
        let admin = std::env::var("TEST_POSTGRES_URL").ok()?;
        let name = format!(
            "jwt_refresh_{}",
            crate::refresh_token::generate()[..16]
                .to_lowercase()
                .replace('-', "_")
        );
        let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
        conn.execute(format!(r#"CREATE DATABASE "{name}""#).as_str())
            .await
            .unwrap();
        let url = format!("{}/{name}", admin.rsplit_once('/').unwrap().0);
        let store = Store::connect(&url).await.unwrap();
        seed(&store, sessions).await;
        Some((store, url))
    }

    /// A lock timeout in a batch written again one by one: when the lock is a whole
    /// table's (a migration's ALTER, a LOCK TABLE), each write would wait its own
    /// timeout, the queue behind for all of them. After two in a row the rest fail.
    #[tokio::test]
    async fn a_locked_table_fails_a_postgres_batch_after_two_lock_timeouts() {
        use sqlx::{Connection, Executor};
        let Some((store, url)) = postgres_store(5).await else {
            return;
        };
        let mut console = sqlx::PgConnection::connect(&url).await.unwrap();
        console.execute("BEGIN").await.unwrap();
        // Reads go on (the refresh's lookup); writes wait.
        console
            .execute("LOCK TABLE refresh_tokens IN EXCLUSIVE MODE")
            .await
            .unwrap();
        let one = store.clone();
        let first = tokio::spawn(async move { one.rotate("h0", "h0'", "s0", 10, 300).await });
        // The other four queue behind the first's batch, and are written together next.
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        let rest: Vec<_> = (1..5)
            .map(|i| {
                let one = store.clone();
                tokio::spawn(async move {
                    let (hash, next) = (format!("h{i}"), format!("h{i}'"));
                    one.rotate(&hash, &next, &format!("s{i}"), 10, 300).await
                })
            })
            .collect();
        let timed_out = |outcome: &Result<Rotation>| {
            matches!(outcome, Err(crate::error::Error::Database(sqlx::Error::Database(db)))
                if db.code().as_deref() == Some("55P03"))
        };
        assert!(timed_out(&first.await.unwrap()));
        let mut outcomes = Vec::new();
        for call in rest {
            outcomes.push(call.await.unwrap());
        }
        let waited = outcomes.iter().filter(|o| timed_out(o)).count();
        let failed_at_once = outcomes
            .iter()
            .filter(|o| matches!(o, Err(crate::error::Error::Internal(_))))
            .count();
        assert_eq!((waited, failed_at_once), (2, 2), "{outcomes:?}");
        console.execute("ROLLBACK").await.unwrap();
        // Nothing was written: the tokens rotate once the lock is gone.
        let again = store.rotate("h4", "h4'", "s4", 20, 300).await.unwrap();
        assert_eq!(again, Rotation::Rotated);
    }

    #[tokio::test]
    async fn a_sqlite_rotation_marks_inserts_and_slides_together_once() {
        let (store, _) = sqlite_store(1).await;
        let first = store.rotate("h0", "h0'", "s0", 10, 300).await.unwrap();
        assert_eq!(first, Rotation::Rotated);
        let old = store.refresh_token("h0").await.unwrap().unwrap();
        assert_eq!(
            (old.used_at, old.successor.as_deref()),
            (Some(10), Some("h0'"))
        );
        let next = store.refresh_token("h0'").await.unwrap().unwrap();
        assert_eq!((next.session_id.as_str(), next.used_at), ("s0", None));
        let slid = store.session("s0").await.unwrap().unwrap();
        assert_eq!((slid.last_used_at, slid.idle_expires_at), (10, 300));

        // The same token again: nothing changes, the caller is told it lost.
        let again = store.rotate("h0", "h0'", "s0", 20, 900).await.unwrap();
        assert_eq!(again, Rotation::AlreadyUsed);
        let kept = store.session("s0").await.unwrap().unwrap();
        assert_eq!((kept.last_used_at, kept.idle_expires_at), (10, 300));
    }

    #[tokio::test]
    async fn a_sqlite_rotation_that_fails_half_way_leaves_nothing_behind() {
        let (store, _) = sqlite_store(1).await;
        // The successor's insert breaks the foreign key after the mark has run.
        assert!(
            store
                .rotate("h0", "h0'", "no-such-session", 10, 300)
                .await
                .is_err()
        );
        let old = store.refresh_token("h0").await.unwrap().unwrap();
        assert_eq!(
            (old.used_at, old.successor),
            (None, None),
            "the mark is undone"
        );
        assert!(store.refresh_token("h0'").await.unwrap().is_none());
        // No transaction was left open on the one writer connection.
        let retry = store.rotate("h0", "h0'", "s0", 11, 301).await.unwrap();
        assert_eq!(retry, Rotation::Rotated);
        let slid = store.session("s0").await.unwrap().unwrap();
        assert_eq!(slid.idle_expires_at, 301);
    }

    #[tokio::test]
    async fn rotations_written_together_keep_their_own_outcomes() {
        let (store, _) = sqlite_store(40).await;
        // 40 sessions at once, and ten more tries of s0's token among them; one of the
        // 40 fails (its session does not exist) and must fail alone.
        let mut calls = Vec::new();
        for i in 0..40 {
            let sid = if i == 7 {
                "gone".to_owned()
            } else {
                format!("s{i}")
            };
            let (one, hash, next) = (store.clone(), format!("h{i}"), format!("h{i}'"));
            calls.push(tokio::spawn(async move {
                one.rotate(&hash, &next, &sid, 10, 300).await
            }));
            if i % 4 == 0 {
                let again = store.clone();
                calls.push(tokio::spawn(async move {
                    again.rotate("h0", "h0'", "s0", 10, 300).await
                }));
            }
        }
        let mut outcomes = Vec::new();
        for call in calls {
            outcomes.push(call.await.unwrap());
        }
        let rotated = outcomes
            .iter()
            .filter(|o| matches!(o, Ok(Rotation::Rotated)))
            .count();
        let lost = outcomes
            .iter()
            .filter(|o| matches!(o, Ok(Rotation::AlreadyUsed)))
            .count();
        let failed = outcomes.iter().filter(|o| o.is_err()).count();
        assert_eq!((rotated, lost, failed), (39, 10, 1));
        for i in (0..40).filter(|i| *i != 7) {
            let next = store.refresh_token(&format!("h{i}'")).await.unwrap();
            assert!(next.is_some(), "h{i} has its successor");
            let s = store.session(&format!("s{i}")).await.unwrap().unwrap();
            assert_eq!(s.idle_expires_at, 300);
        }
        let failed = store.refresh_token("h7").await.unwrap().unwrap();
        assert_eq!(
            failed.used_at, None,
            "the failed one left its token as it was"
        );
    }

    #[tokio::test]
    async fn the_sqlite_log_is_checkpointed_in_the_background() {
        let (store, file) = sqlite_store(300).await;
        let before = std::fs::metadata(&file).unwrap().len();
        // No commit checkpoints (wal_autocheckpoint = 0): the rows are in the log, and
        // only the writer task's checkpoint brings them into the database file.
        for i in 0..300 {
            let (hash, next) = (format!("h{i}"), format!("h{i}'"));
            store
                .rotate(&hash, &next, &format!("s{i}"), 10, 300)
                .await
                .unwrap();
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while std::fs::metadata(&file).unwrap().len() <= before {
            assert!(
                std::time::Instant::now() < deadline,
                "no checkpoint within 5 s"
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
}
