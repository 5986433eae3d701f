-- Native and third-party clients. A session records which kind of client it belongs
-- to (`browser`: refresh cookie; `native`: refresh token in the body; `oauth`: a
-- registered client at the token endpoint), and a token of one kind is refused on the
-- other's path. OAuth sessions also name their client and the scope it was granted.
ALTER TABLE sessions ADD COLUMN kind TEXT NOT NULL DEFAULT 'browser';
ALTER TABLE sessions ADD COLUMN client_id TEXT;
ALTER TABLE sessions ADD COLUMN scope TEXT;
CREATE INDEX sessions_by_client ON sessions (client_id);

-- Public clients (RFC 6749 §2.1): no secret; space-separated redirect URIs.
CREATE TABLE oauth_clients (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    redirect_uris TEXT NOT NULL,
    created_at    BIGINT NOT NULL
);

-- Authorization codes, by SHA-256 hash: single use, short-lived, bound to the client,
-- the redirect URI and the PKCE challenge. `session_id` is the session the exchange
-- created, ended if the code comes back. Kept a day past expiry so a late replay is
-- still recognised.
CREATE TABLE oauth_codes (
    hash           TEXT PRIMARY KEY,
    client_id      TEXT NOT NULL REFERENCES oauth_clients (id) ON DELETE CASCADE,
    user_id        TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    redirect_uri   TEXT NOT NULL,
    code_challenge TEXT NOT NULL,
    scope          TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL,
    used_at        BIGINT,
    session_id     TEXT
);
CREATE INDEX oauth_codes_by_expiry ON oauth_codes (expires_at);
