// The peer of scripts/bench.sh: what a typical Express service for the same endpoints
// looks like. HS256 access tokens (jsonwebtoken) with the same claims and lifetime,
// opaque refresh tokens in an HttpOnly cookie, stored as SHA-256 hashes in SQLite (WAL)
// and rotated in a transaction on every refresh (a rotated one is refused), one worker
// per core (cluster) sharing the signing secret and the database file.
//
//   PEER_DB=/tmp/peer.db PEER_SECRET=... LOAD_PASSWORD=... PORT=3300 node server.js
'use strict';
const cluster = require('node:cluster');
const crypto = require('node:crypto');
const os = require('node:os');

const port = Number(process.env.PORT ?? 3300);
const dbPath = process.env.PEER_DB ?? '/tmp/jwt-refresh-peer.db';
const secret = process.env.PEER_SECRET ?? crypto.randomBytes(32).toString('hex');
const workers = Number(process.env.PEER_WORKERS ?? os.availableParallelism?.() ?? os.cpus().length);

function openDb() {
  const Database = require('better-sqlite3');
  const db = new Database(dbPath);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('busy_timeout = 5000');
  return db;
}

if (cluster.isPrimary) {
  const db = openDb();
  db.exec(`
    CREATE TABLE IF NOT EXISTS users (id TEXT PRIMARY KEY, username TEXT UNIQUE, salt TEXT, hash TEXT, roles TEXT);
    CREATE TABLE IF NOT EXISTS refresh_tokens (hash TEXT PRIMARY KEY, session_id TEXT, user_id TEXT, used_at INTEGER);
  `);
  const password = process.env.LOAD_PASSWORD ?? 'peer-password';
  const salt = crypto.randomBytes(16).toString('hex');
  const hash = crypto.scryptSync(password, salt, 32).toString('hex');
  db.prepare('INSERT OR REPLACE INTO users VALUES (?, ?, ?, ?, ?)').run('u1', 'alice', salt, hash, 'admin');
  db.close();
  process.env.PEER_SECRET = secret;
  for (let i = 0; i < workers; i++) cluster.fork();
  console.log(`peer listening on http://127.0.0.1:${port} with ${workers} workers`);
} else {
  const express = require('express');
  const cookieParser = require('cookie-parser');
  const jwt = require('jsonwebtoken');
  const db = openDb();
  const userByName = db.prepare('SELECT * FROM users WHERE username = ?');
  const userById = db.prepare('SELECT * FROM users WHERE id = ?');
  const insertToken = db.prepare('INSERT INTO refresh_tokens (hash, session_id, user_id, used_at) VALUES (?, ?, ?, NULL)');
  const findToken = db.prepare('SELECT * FROM refresh_tokens WHERE hash = ?');
  const markUsed = db.prepare('UPDATE refresh_tokens SET used_at = ? WHERE hash = ? AND used_at IS NULL');
  const rotate = db.transaction((oldHash, newHash, row, now) => {
    if (markUsed.run(now, oldHash).changes !== 1) return false;
    insertToken.run(newHash, row.session_id, row.user_id);
    return true;
  });
  const sha256 = (s) => crypto.createHash('sha256').update(s).digest('hex');
  const cookieOptions = { httpOnly: true, secure: true, sameSite: 'strict', path: '/api/auth' };

  function tokens(user, sessionId) {
    const roles = user.roles.split(' ');
    const access = jwt.sign(
      { sub: user.id, preferred_username: user.username, sid: sessionId, jti: crypto.randomUUID(), roles },
      secret,
      { algorithm: 'HS256', expiresIn: 900, issuer: 'jwt-refresh', audience: 'jwt-refresh-app' },
    );
    const refresh = crypto.randomBytes(32).toString('base64url');
    return { access, refresh };
  }

  const app = express();
  app.disable('x-powered-by');
  app.use(express.json({ limit: '16kb' }));
  app.use(cookieParser());

  app.post('/api/auth/login', (req, res) => {
    const { username, password } = req.body ?? {};
    const user = typeof username === 'string' ? userByName.get(username) : undefined;
    if (!user || typeof password !== 'string') return res.status(401).json({ error: 'invalid_credentials' });
    crypto.scrypt(password, user.salt, 32, (err, derived) => {
      if (err || !crypto.timingSafeEqual(derived, Buffer.from(user.hash, 'hex'))) {
        return res.status(401).json({ error: 'invalid_credentials' });
      }
      const sessionId = crypto.randomUUID();
      const { access, refresh } = tokens(user, sessionId);
      insertToken.run(sha256(refresh), sessionId, user.id);
      res.cookie('refresh_token', refresh, cookieOptions);
      res.json({ access_token: access, token_type: 'Bearer', expires_in: 900 });
    });
  });

  app.post('/api/auth/refresh', (req, res) => {
    if (!req.get('X-Requested-With')) return res.status(400).json({ error: 'bad_request' });
    const presented = req.cookies.refresh_token;
    if (!presented) return res.status(401).json({ error: 'refresh_missing' });
    const oldHash = sha256(presented);
    const row = findToken.get(oldHash);
    if (!row) return res.status(401).json({ error: 'refresh_invalid' });
    const user = userById.get(row.user_id);
    const { access, refresh } = tokens(user, row.session_id);
    if (!rotate(oldHash, sha256(refresh), row, Date.now())) {
      return res.status(401).json({ error: 'refresh_reused' });
    }
    res.cookie('refresh_token', refresh, cookieOptions);
    res.json({ access_token: access, token_type: 'Bearer', expires_in: 900 });
  });

  app.get('/api/me', (req, res) => {
    const header = req.get('Authorization') ?? '';
    const token = header.startsWith('Bearer ') ? header.slice(7) : null;
    if (!token) return res.status(401).json({ error: 'token_missing' });
    try {
      const claims = jwt.verify(token, secret, {
        algorithms: ['HS256'],
        issuer: 'jwt-refresh',
        audience: 'jwt-refresh-app',
      });
      res.json({ id: claims.sub, username: claims.preferred_username, roles: claims.roles });
    } catch (e) {
      res.status(401).json({ error: e.name === 'TokenExpiredError' ? 'token_expired' : 'token_invalid' });
    }
  });

  app.listen(port, '127.0.0.1');
}
