//! Persistence: one SQL implementation over sqlx's `Any` driver, so the same queries run
//! on embedded SQLite (the default) and on PostgreSQL (several instances). Queries use
//! only SQL both understand; the two schemas differ only where the dialects do.

use std::str::FromStr;

use sqlx::{
    AnyPool, FromRow,
    any::{AnyConnectOptions, AnyPoolOptions},
    migrate::Migrator,
};

use crate::error::Result;

mod oauth;
pub use oauth::{ClientRow, CodeRow};

static SQLITE: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES: Migrator = sqlx::migrate!("./migrations/postgres");

/// Handle to the database; cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
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

/// Outcome of trying to rotate a refresh token.
#[derive(Debug, PartialEq, Eq)]
pub enum Rotation {
    /// This request rotated it.
    Rotated,
    /// Another request rotated it first; read the row again.
    AlreadyUsed,
}

impl Store {
    /// Connects, enables WAL on SQLite, and applies the migrations.
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        sqlx::any::install_default_drivers();
        let sqlite = url.starts_with("sqlite:");
        if sqlite {
            ensure_sqlite_dir(url)?;
        }
        let options = AnyConnectOptions::from_str(url)?;
        let pool = AnyPoolOptions::new()
            // Each connection to `sqlite::memory:` would be a database of its own.
            .max_connections(match () {
                _ if url.contains(":memory:") => 1,
                _ if sqlite => 8,
                _ => 16,
            })
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if sqlite {
                        // WAL lets readers run beside the one writer; NORMAL sync is
                        // durable across a process crash, which is what we guard against.
                        sqlx::query("PRAGMA journal_mode = WAL")
                            .execute(&mut *conn)
                            .await?;
                        sqlx::query("PRAGMA synchronous = NORMAL")
                            .execute(&mut *conn)
                            .await?;
                        sqlx::query("PRAGMA foreign_keys = ON")
                            .execute(&mut *conn)
                            .await?;
                        sqlx::query("PRAGMA busy_timeout = 5000")
                            .execute(&mut *conn)
                            .await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await?;
        let migrator = if sqlite { &SQLITE } else { &POSTGRES };
        migrator.run(&pool).await?;
        Ok(Self { pool })
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
        .execute(&self.pool)
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

    pub async fn set_password_hash(&self, user_id: &str, hash: &str) -> Result<()> {
        sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
            .bind(hash)
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    // --- sessions and refresh tokens ---

    /// Creates a session together with its first refresh token.
    pub async fn insert_session(&self, s: &SessionRow, first_token_hash: &str) -> Result<()> {
        let mut tx = self.pool.begin().await?;
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

    /// Live sessions of a user, newest first.
    pub async fn live_sessions(&self, user_id: &str, now: i64) -> Result<Vec<SessionRow>> {
        Ok(sqlx::query_as(
            "SELECT * FROM sessions WHERE user_id = $1 AND ended_at IS NULL \
             AND idle_expires_at > $2 AND absolute_expires_at > $2 ORDER BY created_at DESC, id",
        )
        .bind(user_id)
        .bind(now)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Ends a session; `false` if it had already ended.
    pub async fn end_session(&self, id: &str, reason: &str, now: i64) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE sessions SET ended_at = $1, end_reason = $2 WHERE id = $3 AND ended_at IS NULL",
        )
        .bind(now)
        .bind(reason)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Ends every live session of a user except `keep`; returns the ended ids.
    pub async fn end_user_sessions(
        &self,
        user_id: &str,
        keep: Option<&str>,
        reason: &str,
        now: i64,
    ) -> Result<Vec<String>> {
        let ids: Vec<(String,)> = sqlx::query_as(
            "UPDATE sessions SET ended_at = $1, end_reason = $2 \
             WHERE user_id = $3 AND ended_at IS NULL AND id <> $4 RETURNING id",
        )
        .bind(now)
        .bind(reason)
        .bind(user_id)
        .bind(keep.unwrap_or(""))
        .fetch_all(&self.pool)
        .await?;
        Ok(ids.into_iter().map(|(id,)| id).collect())
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
    /// the conditional update is the serialisation point on both databases.
    pub async fn rotate(
        &self,
        hash: &str,
        successor: &str,
        session_id: &str,
        now: i64,
        idle_expires_at: i64,
    ) -> Result<Rotation> {
        let mut tx = self.pool.begin().await?;
        // Writing first takes SQLite's write lock at once (waiting on busy_timeout)
        // instead of failing a read-then-write upgrade.
        sqlx::query(
            "INSERT INTO refresh_tokens (hash, session_id, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (hash) DO NOTHING",
        )
        .bind(successor)
        .bind(session_id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let marked = sqlx::query(
            "UPDATE refresh_tokens SET used_at = $1, successor = $2 WHERE hash = $3 AND used_at IS NULL",
        )
        .bind(now)
        .bind(successor)
        .bind(hash)
        .execute(&mut *tx)
        .await?;
        if marked.rows_affected() != 1 {
            tx.rollback().await?;
            return Ok(Rotation::AlreadyUsed);
        }
        sqlx::query("UPDATE sessions SET last_used_at = $1, idle_expires_at = $2 WHERE id = $3")
            .bind(now)
            .bind(idle_expires_at)
            .bind(session_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Rotation::Rotated)
    }

    // --- denylist ---

    pub async fn deny(&self, jti: &str, expires_at: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO denylist (jti, expires_at) VALUES ($1, $2) ON CONFLICT (jti) DO NOTHING",
        )
        .bind(jti)
        .bind(expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn is_denied(&self, jti: &str) -> Result<bool> {
        let row: Option<(i64,)> = sqlx::query_as("SELECT expires_at FROM denylist WHERE jti = $1")
            .bind(jti)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.is_some())
    }

    // --- audit ---

    pub async fn audit(&self, e: &NewAuditEvent<'_>, now: i64) -> Result<()> {
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
        .execute(&self.pool)
        .await?;
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

    /// Signing keys, oldest first.
    pub async fn signing_keys(&self) -> Result<Vec<(String, String, i64)>> {
        Ok(sqlx::query_as(
            "SELECT kid, secret, created_at FROM signing_keys ORDER BY created_at, kid",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn insert_signing_key(&self, kid: &str, secret: &str, now: i64) -> Result<()> {
        sqlx::query("INSERT INTO signing_keys (kid, secret, created_at) VALUES ($1, $2, $3)")
            .bind(kid)
            .bind(secret)
            .bind(now)
            .execute(&self.pool)
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
        .execute(&self.pool)
        .await?;
        let (value,): (String,) = sqlx::query_as("SELECT value FROM secrets WHERE name = $1")
            .bind(name)
            .fetch_one(&self.pool)
            .await?;
        Ok(value)
    }

    // --- housekeeping ---

    /// Deletes what can no longer matter: expired denylist entries, and sessions (with
    /// their tokens) that ended or expired more than `keep` seconds ago.
    pub async fn prune(&self, now: i64, keep: i64) -> Result<u64> {
        let denied = sqlx::query("DELETE FROM denylist WHERE expires_at < $1")
            .bind(now)
            .execute(&self.pool)
            .await?;
        let cutoff = now - keep;
        let tokens = sqlx::query(
            "DELETE FROM refresh_tokens WHERE session_id IN (SELECT id FROM sessions \
             WHERE ended_at < $1 OR idle_expires_at < $1 OR absolute_expires_at < $1)",
        )
        .bind(cutoff)
        .execute(&self.pool)
        .await?;
        let sessions = sqlx::query(
            "DELETE FROM sessions WHERE ended_at < $1 OR idle_expires_at < $1 OR absolute_expires_at < $1",
        )
        .bind(cutoff)
        .execute(&self.pool)
        .await?;
        Ok(denied.rows_affected() + tokens.rows_affected() + sessions.rows_affected())
    }
}

impl Store {
    /// Deletes signing keys older than the newest key created at or before `cutoff`:
    /// once a key has signed for longer than a token lives, no live token needs the
    /// keys before it.
    pub async fn prune_keys(&self, cutoff: i64) -> Result<u64> {
        let done = sqlx::query(
            "DELETE FROM signing_keys WHERE created_at < \
             (SELECT MAX(created_at) FROM signing_keys WHERE created_at <= $1)",
        )
        .bind(cutoff)
        .execute(&self.pool)
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

/// SQLite creates the file (`mode=rwc`) but not its directory.
fn ensure_sqlite_dir(url: &str) -> anyhow::Result<()> {
    let path = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:")
        .split('?')
        .next()
        .unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        return Ok(());
    }
    if let Some(dir) = std::path::Path::new(path)
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
    {
        std::fs::create_dir_all(dir)?;
    }
    Ok(())
}
