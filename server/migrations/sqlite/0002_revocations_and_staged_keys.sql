-- Every revocation an access token must be checked against, in one table that each
-- instance mirrors in memory: an ended session ('session', session id), one logged-out
-- token ('token', jti), a removed user ('user', user id). A row matters only until
-- `expires_at`, after which no access token it covers can still be alive. `reason` is
-- why (an end reason), so a refused token can tell its holder.
CREATE TABLE revocations (
    kind       TEXT NOT NULL,
    id         TEXT NOT NULL,
    reason     TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (kind, id)
);
CREATE INDEX revocations_by_expiry ON revocations (expires_at);

INSERT INTO revocations (kind, id, reason, created_at, expires_at)
    SELECT 'token', jti, 'logged_out', 0, expires_at FROM denylist;
DROP TABLE denylist;

-- Sessions that ended while their access tokens were still alive.
INSERT INTO revocations (kind, id, reason, created_at, expires_at)
    SELECT 'session', id, COALESCE(end_reason, 'admin_revoked'), ended_at, ended_at + 86400
    FROM sessions WHERE ended_at IS NOT NULL;

-- Staged rotation: a key is published (JWKS, verification) at once but signs only from
-- `activates_at`, when every instance has loaded it.
ALTER TABLE signing_keys ADD COLUMN activates_at BIGINT NOT NULL DEFAULT 0;
