//! Refresh-token rotations, combined. Every rotation is a small write transaction, and
//! on SQLite all writes go through one connection: one at a time, each paid for with
//! hand-offs to the connection's worker thread and a commit, refreshes queue behind
//! each other long before the CPU is busy. So one task per store takes every rotation
//! that is waiting (up to [`MAX_BATCH`]) and runs them together: one transaction, one
//! round trip, one commit. Under load a batch holds what arrived during the last one;
//! alone, a rotation is a batch of one.
//!
//! The same task checkpoints SQLite's write-ahead log, on a reader connection, off the
//! write path: left to SQLite, the commit that fills the log copies it into the
//! database and syncs the file there and then, and every refresh queued behind it waits.
//! Then the writer copies the few frames written meanwhile, so the log can restart.
//!
//! Each rotation keeps its own outcome: marked (and its successor inserted and the
//! session's idle end slid) only if its token was still unused, all or nothing for the
//! batch. A batch that fails on one row (a broken row, or on PostgreSQL a deadlock with
//! another instance's batch over the same two tokens in the other order, or a lock
//! held past the lock timeout) is run again one rotation at a time, so a bad one fails
//! alone.

use std::{collections::HashSet, panic::AssertUnwindSafe, time::Duration};

use futures::{FutureExt, TryStreamExt};
use sqlx::{AnyPool, Arguments, Executor, any::AnyArguments};
use tokio::sync::{mpsc, oneshot};

use super::Rotation;
use crate::error::{Error, Result};

/// At most this many rotations in one transaction (5 bound values each).
const MAX_BATCH: usize = 64;

/// How often the write-ahead log is checkpointed (SQLite files only).
const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);

/// One rotation's values: see [`super::Store::rotate`].
#[derive(Clone, Debug)]
pub struct Request {
    pub hash: String,
    pub successor: String,
    pub session_id: String,
    pub now: i64,
    pub idle_expires_at: i64,
}

struct Pending {
    request: Request,
    done: oneshot::Sender<Result<Rotation>>,
}

/// The handle the store keeps; the task ends when the last clone is dropped.
#[derive(Clone, Debug)]
pub struct Rotations {
    queue: mpsc::Sender<Pending>,
    writer: AnyPool,
}

impl Rotations {
    /// Starts the task that writes rotations through `writer` and, given a SQLite
    /// file's `readers`, checkpoints its log through them.
    pub fn start(writer: AnyPool, postgres: bool, readers: Option<AnyPool>) -> Self {
        let (queue, waiting) = mpsc::channel(4 * MAX_BATCH);
        tokio::spawn(run(writer.clone(), postgres, readers, waiting));
        Self { queue, writer }
    }

    /// Closes the writer's connections: later rotations fail.
    pub async fn close(&self) {
        self.writer.close().await;
    }

    /// Queues one rotation and waits for its outcome. The task owns the write, so a
    /// caller that goes away half-way (a client that hung up) cannot leave it half done.
    pub async fn rotate(&self, request: Request) -> Result<Rotation> {
        let (done, outcome) = oneshot::channel();
        self.queue
            .send(Pending { request, done })
            .await
            .map_err(|_| Error::Internal(anyhow::anyhow!("the rotation writer is gone")))?;
        outcome.await.map_err(|_| {
            Error::Internal(anyhow::anyhow!("the rotation writer dropped a request"))
        })?
    }
}

async fn run(
    writer: AnyPool,
    postgres: bool,
    readers: Option<AnyPool>,
    mut waiting: mpsc::Receiver<Pending>,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut checkpoint: Option<tokio::task::JoinHandle<i64>> = None;
    loop {
        let start_checkpoint = readers.is_some() && checkpoint.is_none();
        let checkpointed = async {
            match checkpoint.as_mut() {
                Some(running) => running.await.unwrap_or(0),
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            n = waiting.recv_many(&mut batch, MAX_BATCH) => {
                // Ends with the store: every sender is gone.
                if n == 0 {
                    break;
                }
            }
            _ = tick.tick(), if start_checkpoint => {
                let readers = readers.clone().expect("checked by the branch");
                checkpoint = Some(tokio::spawn(catch_up(readers)));
                continue;
            }
            frames = checkpointed => {
                checkpoint = None;
                // The log restarts from its beginning only at a write that finds every
                // frame copied; under steady writes there is always one written while
                // the checkpoint ran. The writer copies those few itself, between two
                // batches, so the next write restarts the log: it stays about a
                // second of writes long.
                if frames > 0 {
                    checkpoint_pass(&writer).await;
                }
                continue;
            }
        }
        // A caller that has gone (its client hung up, its request timed out) will
        // never hand the successor on: rotating for it would only turn its client's
        // retry with the same token into reuse once the grace period has passed.
        batch.retain(|p| !p.done.is_closed());
        // The same token twice in one statement would be ambiguous on PostgreSQL
        // (one UPDATE ... FROM row, two inputs): later copies go in a later round,
        // where they find the token used, as they would one after the other.
        while !batch.is_empty() {
            let mut seen = HashSet::new();
            let (mut round, later): (Vec<_>, Vec<_>) = batch
                .drain(..)
                .partition(|p: &Pending| seen.insert(p.request.hash.clone()));
            batch = later;
            // Rows locked in one order by every batch: two instances' batches over the
            // same tokens cannot wait for each other.
            round.sort_unstable_by(|a, b| a.request.hash.cmp(&b.request.hash));
            // A panic (in the driver, say) fails this round's callers, not the task
            // and every rotation after it.
            let written = AssertUnwindSafe(write_round(&writer, postgres, round));
            if written.catch_unwind().await.is_err() {
                tracing::error!("a rotation batch panicked; its requests failed");
            }
        }
    }
}

/// Checkpoints through `readers` until what is left to copy is a few frames (or a few
/// passes were made): the writer's own pass after it then costs next to nothing.
/// Returns how many frames the log holds.
async fn catch_up(readers: AnyPool) -> i64 {
    let mut frames = 0;
    for _ in 0..4 {
        let (log, copied) = checkpoint_pass(&readers).await;
        frames = log;
        if log - copied <= 64 {
            break;
        }
    }
    frames
}

/// Copies what the log holds into the database file, as far as no reader still needs
/// the old pages (`PASSIVE`: it never waits for a lock, and writers go on meanwhile);
/// returns how many frames the log holds and how many of them are copied.
async fn checkpoint_pass(through: &AnyPool) -> (i64, i64) {
    let done: sqlx::Result<(i64, i64, i64)> = sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)")
        .fetch_one(through)
        .await;
    match done {
        Ok((_busy, frames, copied)) => (frames, copied),
        Err(sqlx::Error::PoolClosed) => (0, 0),
        Err(e) => {
            tracing::warn!(error = %e, "checkpointing the SQLite log failed");
            (0, 0)
        }
    }
}

async fn write_round(writer: &AnyPool, postgres: bool, round: Vec<Pending>) {
    let requests: Vec<&Request> = round.iter().map(|p| &p.request).collect();
    match write(writer, postgres, &requests).await {
        Ok(rotated) => {
            for (pending, rotated) in round.into_iter().zip(rotated) {
                let _ = pending.done.send(Ok(if rotated {
                    Rotation::Rotated
                } else {
                    Rotation::AlreadyUsed
                }));
            }
        }
        Err(e) if round.len() > 1 && one_bad_row(&e) => {
            tracing::warn!(error = %e, size = round.len(), "a rotation batch failed; writing it one by one");
            // A lock timeout names no lock: one token's row (then the others go
            // through), or a whole table (a migration's ALTER, a LOCK TABLE), where
            // every write would wait its own timeout. Two in a row: the rest fail now.
            let mut timed_out_in_a_row = 0;
            for pending in round.into_iter().filter(|p| !p.done.is_closed()) {
                if timed_out_in_a_row >= 2 {
                    let failed = anyhow::anyhow!("the rotation batch failed: {e}");
                    let _ = pending.done.send(Err(Error::Internal(failed)));
                    continue;
                }
                let outcome = write(writer, postgres, &[&pending.request])
                    .await
                    .map(|rotated| match rotated.first() {
                        Some(true) => Rotation::Rotated,
                        _ => Rotation::AlreadyUsed,
                    });
                match &outcome {
                    Err(e) if is_lock_timeout(e) => timed_out_in_a_row += 1,
                    _ => timed_out_in_a_row = 0,
                }
                let _ = pending.done.send(outcome);
            }
        }
        // The database itself failed (gone, timed out, busy): every rotation of the
        // round would fail the same way, one after the other.
        Err(e) => {
            let reason = e.to_string();
            let mut round = round.into_iter();
            if let Some(first) = round.next() {
                let _ = first.done.send(Err(e));
            }
            for pending in round {
                let failed = anyhow::anyhow!("the rotation batch failed: {reason}");
                let _ = pending.done.send(Err(Error::Internal(failed)));
            }
        }
    }
}

/// Whether a failed batch may be one rotation's fault, so that the others would
/// succeed: a constraint it breaks, or on PostgreSQL a deadlock with another instance
/// (40P01) or a lock held past the writer's lock timeout (see [`is_lock_timeout`]).
fn one_bad_row(e: &Error) -> bool {
    let Error::Database(sqlx::Error::Database(db)) = e else {
        return false;
    };
    !matches!(db.kind(), sqlx::error::ErrorKind::Other)
        || db.code().as_deref() == Some("40P01")
        || is_lock_timeout(e)
}

/// PostgreSQL's `lock_not_available` (55P03): the writer's lock timeout passed.
fn is_lock_timeout(e: &Error) -> bool {
    matches!(e, Error::Database(sqlx::Error::Database(db)) if db.code().as_deref() == Some("55P03"))
}

/// Writes the rotations (whose hashes differ) in one transaction; says which of them
/// found their token unused and rotated it.
async fn write(writer: &AnyPool, postgres: bool, requests: &[&Request]) -> Result<Vec<bool>> {
    if postgres {
        write_postgres(writer, requests).await
    } else {
        write_sqlite(writer, requests).await
    }
}

/// PostgreSQL: one statement. The row lock on each token serialises this with any
/// other instance rotating the same token, which then finds it used.
async fn write_postgres(writer: &AnyPool, requests: &[&Request]) -> Result<Vec<bool>> {
    let values: Vec<String> = (0..requests.len())
        .map(|i| {
            let n = 5 * i;
            format!(
                "(${}::TEXT, ${}::TEXT, ${}::TEXT, ${}::BIGINT, ${}::BIGINT)",
                n + 1,
                n + 2,
                n + 3,
                n + 4,
                n + 5
            )
        })
        .collect();
    let sql = format!(
        "WITH input (hash, successor, session_id, now, idle) AS (VALUES {}), \
         marked AS (UPDATE refresh_tokens t SET used_at = i.now, successor = i.successor \
         FROM input i WHERE t.hash = i.hash AND t.used_at IS NULL \
         RETURNING t.hash, t.session_id), \
         inserted AS (INSERT INTO refresh_tokens (hash, session_id, created_at) \
         SELECT i.successor, m.session_id, i.now FROM input i JOIN marked m ON m.hash = i.hash \
         ON CONFLICT (hash) DO NOTHING), \
         slid AS (UPDATE sessions s SET last_used_at = i.now, idle_expires_at = i.idle \
         FROM input i JOIN marked m ON m.hash = i.hash WHERE s.id = m.session_id) \
         SELECT hash FROM marked",
        values.join(", ")
    );
    let marked: HashSet<String> =
        sqlx::query_as_with::<_, (String,), _>(&sql, values_of(requests)?)
            .fetch_all(writer)
            .await?
            .into_iter()
            .map(|(hash,)| hash)
            .collect();
    Ok(requests.iter().map(|r| marked.contains(&r.hash)).collect())
}

/// Each rotation's five values in order: `$5i+1` to `$5i+5` in both dialects' SQL.
fn values_of<'q>(requests: &[&'q Request]) -> Result<AnyArguments<'q>> {
    let mut values = AnyArguments::default();
    for r in requests {
        let added = (values.add(r.hash.as_str()))
            .and_then(|()| values.add(r.successor.as_str()))
            .and_then(|()| values.add(r.session_id.as_str()))
            .and_then(|()| values.add(r.now))
            .and_then(|()| values.add(r.idle_expires_at));
        added.map_err(sqlx::Error::Encode)?;
    }
    Ok(values)
}

/// SQLite: the statements of every rotation in one call, inside one transaction. In a
/// rotation, the insert and the slide run only if its mark changed a row (`changes()`
/// counts the previous statement). Nothing interleaves: there is one writer connection.
async fn write_sqlite(writer: &AnyPool, requests: &[&Request]) -> Result<Vec<bool>> {
    let mut sql = String::from("BEGIN IMMEDIATE;");
    for i in 0..requests.len() {
        let n = 5 * i;
        let (hash, successor, session, now, idle) = (n + 1, n + 2, n + 3, n + 4, n + 5);
        sql.push_str(&format!(
            " UPDATE refresh_tokens SET used_at = ${now}, successor = ${successor} \
             WHERE hash = ${hash} AND used_at IS NULL; \
             INSERT INTO refresh_tokens (hash, session_id, created_at) \
             SELECT ${successor}, ${session}, ${now} WHERE changes() = 1 \
             ON CONFLICT (hash) DO NOTHING; \
             UPDATE sessions SET last_used_at = ${now}, idle_expires_at = ${idle} \
             WHERE id = ${session} AND changes() = 1;"
        ));
    }
    sql.push_str(" COMMIT;");
    let query = sqlx::query_with(&sql, values_of(requests)?);
    let mut conn = writer.acquire().await?;
    // One result per statement: BEGIN, then (mark, insert, slide) per rotation, COMMIT.
    // Only a mark's count is its own: SQLite reports the last change for BEGIN/COMMIT.
    let results: std::result::Result<Vec<_>, _> = conn.execute_many(query).try_collect().await;
    match results {
        Ok(results) if results.len() == 2 + 3 * requests.len() => Ok((0..requests.len())
            .map(|i| results[1 + 3 * i].rows_affected() == 1)
            .collect()),
        outcome => {
            // A statement failed inside the transaction: end it before the connection
            // goes back to the pool (a failed ROLLBACK means none was open).
            let _ = sqlx::query("ROLLBACK").execute(&mut *conn).await;
            match outcome {
                Err(e) => Err(e.into()),
                Ok(results) => Err(Error::Internal(anyhow::anyhow!(
                    "a rotation batch of {} returned {} results",
                    requests.len(),
                    results.len()
                ))),
            }
        }
    }
}
