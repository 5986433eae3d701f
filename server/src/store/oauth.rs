//! Persistence of OAuth clients and authorization codes (see `engine::oauth` for the
//! rules). Codes are stored by hash, like refresh tokens.

use sqlx::FromRow;

use super::{SessionRow, Store, insert_session_in};
use crate::error::Result;

/// A registered public client.
#[derive(Clone, Debug, FromRow)]
pub struct ClientRow {
    pub id: String,
    pub name: String,
    /// Space-separated.
    pub redirect_uris: String,
    pub created_at: i64,
}

impl ClientRow {
    pub fn redirect_uri_list(&self) -> impl Iterator<Item = &str> {
        self.redirect_uris.split_whitespace()
    }
}

/// An authorization code, by hash.
#[derive(Clone, Debug, FromRow)]
pub struct CodeRow {
    pub hash: String,
    pub client_id: String,
    pub user_id: String,
    /// Exactly as the authorization request sent it: the exchange must repeat it.
    pub redirect_uri: String,
    pub code_challenge: String,
    pub scope: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
    /// The session its exchange created.
    pub session_id: Option<String>,
}

impl Store {
    // --- clients ---

    pub async fn insert_client(&self, c: &ClientRow) -> Result<()> {
        sqlx::query(
            "INSERT INTO oauth_clients (id, name, redirect_uris, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(&c.id)
        .bind(&c.name)
        .bind(&c.redirect_uris)
        .bind(c.created_at)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    pub async fn client(&self, id: &str) -> Result<Option<ClientRow>> {
        Ok(sqlx::query_as("SELECT * FROM oauth_clients WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// Every client, oldest first.
    pub async fn clients(&self) -> Result<Vec<ClientRow>> {
        Ok(
            sqlx::query_as("SELECT * FROM oauth_clients ORDER BY created_at, id")
                .fetch_all(&self.pool)
                .await?,
        )
    }

    /// Deletes a client (and its codes); `false` if there was none.
    pub async fn delete_client(&self, id: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM oauth_clients WHERE id = $1")
            .bind(id)
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Every session of a client that has not ended.
    pub async fn client_sessions(&self, client_id: &str) -> Result<Vec<SessionRow>> {
        Ok(
            sqlx::query_as("SELECT * FROM sessions WHERE client_id = $1 AND ended_at IS NULL")
                .bind(client_id)
                .fetch_all(&self.pool)
                .await?,
        )
    }

    // --- authorization codes ---

    pub async fn insert_code(&self, c: &CodeRow) -> Result<()> {
        sqlx::query(
            "INSERT INTO oauth_codes (hash, client_id, user_id, redirect_uri, code_challenge, \
             scope, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&c.hash)
        .bind(&c.client_id)
        .bind(&c.user_id)
        .bind(&c.redirect_uri)
        .bind(&c.code_challenge)
        .bind(&c.scope)
        .bind(c.created_at)
        .bind(c.expires_at)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    pub async fn code(&self, hash: &str) -> Result<Option<CodeRow>> {
        Ok(sqlx::query_as("SELECT * FROM oauth_codes WHERE hash = $1")
            .bind(hash)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// Marks a code used without issuing anything (a failed exchange spends it).
    pub async fn burn_code(&self, hash: &str, now: i64) -> Result<()> {
        sqlx::query("UPDATE oauth_codes SET used_at = $1 WHERE hash = $2 AND used_at IS NULL")
            .bind(now)
            .bind(hash)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// Spends the code and creates the session it grants, all or nothing. `false` if
    /// the code was already spent: of concurrent exchanges exactly one wins, and the
    /// losers find the winner's session id on the row.
    pub async fn redeem_code(
        &self,
        hash: &str,
        now: i64,
        session: &SessionRow,
        first_token_hash: &str,
    ) -> Result<bool> {
        let mut tx = self.writer.begin().await?;
        let marked = sqlx::query(
            "UPDATE oauth_codes SET used_at = $1, session_id = $2 \
             WHERE hash = $3 AND used_at IS NULL",
        )
        .bind(now)
        .bind(&session.id)
        .bind(hash)
        .execute(&mut *tx)
        .await?;
        if marked.rows_affected() != 1 {
            tx.rollback().await?;
            return Ok(false);
        }
        insert_session_in(&mut tx, session, first_token_hash).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Deletes codes that expired before `cutoff`.
    pub async fn prune_codes(&self, cutoff: i64) -> Result<u64> {
        let done = sqlx::query("DELETE FROM oauth_codes WHERE expires_at < $1")
            .bind(cutoff)
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected())
    }
}
