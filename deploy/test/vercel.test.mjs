// Vercel, proven offline: the real `vercel build` (npm `vercel`, pinned in deploy/cli)
// runs on this repository as a user deploys it (`vercel build`, then
// `vercel deploy --prebuilt`), and the test resolves paths against the routes it compiled
// from vercel.json (.vercel/output/config.json, Build Output API v3) the way Vercel's edge
// applies them: header routes that `continue`, then the filesystem, then rewrites.
//   node --test deploy/test/vercel.test.mjs   (scripts/test.sh runs it)
// What it cannot show offline: that Vercel's edge proxies exactly as the config says.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { HASHED, IMMUTABLE, clientRoutes, root, serverCsp, serverRoutes } from './project.mjs';

const vercel = join(root, 'deploy', 'cli', 'node_modules', '.bin', 'vercel');
const linked = join(root, '.vercel');
const saved = join(root, `.vercel.saved-${process.pid}`);
/** The committed vercel.json's backend; a real deploy puts its own there (README, Deploy). */
const BACKEND = 'https://api.example.com';

let config;
let files;

before(() => {
  // `vercel build` works offline once the project is "linked": .vercel/project.json with
  // ids and the project's settings. A user's own link is set aside and put back.
  if (existsSync(linked)) renameSync(linked, saved);
  mkdirSync(linked);
  writeFileSync(
    join(linked, 'project.json'),
    JSON.stringify({
      projectId: 'prj_offline_test',
      orgId: 'team_offline_test',
      settings: { framework: null, outputDirectory: 'dist', buildCommand: 'bash scripts/build-spa.sh', nodeVersion: '24.x' },
    }),
  );
  const env = { ...process.env, VERCEL_TELEMETRY_DISABLED: '1' };
  delete env.API_ORIGIN; // the repository as committed
  const run = spawnSync(vercel, ['build', '--yes'], { cwd: root, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (run.status !== 0) {
    throw new Error(`vercel build failed (${run.status}):\n${run.stdout}\n${run.stderr}`);
  }
  const output = join(linked, 'output');
  config = JSON.parse(readFileSync(join(output, 'config.json'), 'utf8'));
  files = new Set(readdirSync(join(output, 'static'), { recursive: true }).map((f) => `/${f}`));
});

after(() => {
  rmSync(linked, { recursive: true, force: true });
  if (existsSync(saved)) renameSync(saved, linked);
});

/**
 * What Vercel answers for `path`: `{ kind: 'file' | 'proxy' | 'status', target, headers }`.
 * Build Output API v3 routing: routes in order; `headers` accumulate (a later route wins);
 * `continue` goes on; `handle` starts a phase; `filesystem` serves an existing file;
 * a `dest` rewrites (an absolute URL proxies), and `check` looks at the filesystem again.
 */
function resolve(path) {
  const headers = {};
  // A directory's index.html answers for it (`/` is `/index.html`).
  const file = (p) => (p.endsWith('/') ? `${p}index.html` : p);
  const exists = (p) => files.has(file(p));
  let current = path;
  let phase = null;
  for (const route of config.routes) {
    if (route.handle) {
      phase = route.handle;
      if (phase === 'filesystem' && exists(current)) return { kind: 'file', target: file(current), headers };
      if (phase === 'error') break;
      continue;
    }
    const match = new RegExp(route.src).exec(current);
    if (!match) continue;
    if (route.headers) {
      for (const [k, v] of Object.entries(route.headers)) headers[k.toLowerCase()] = v;
    }
    if (route.dest) {
      const dest = route.dest.replace(/\$(\d+)/g, (_, i) => match[Number(i)] ?? '');
      if (/^https?:\/\//.test(dest)) return { kind: 'proxy', target: dest, headers };
      current = dest;
      if (route.check && exists(current)) return { kind: 'file', target: file(current), headers };
    }
    if (route.status) return { kind: 'status', target: route.status, headers };
    if (!route.continue && route.dest) break;
  }
  return { kind: 'status', target: 404, headers };
}

describe('vercel build on the repository as committed', () => {
  test('publishes the built SPA', () => {
    assert.ok(files.has('/index.html'), 'no index.html in the output');
    assert.ok([...files].some((f) => /\/app-[0-9a-f]{10,16}_bg\.wasm$/.test(f)), 'no WASM in the output');
  });

  test('every server route reaches the backend, path kept', () => {
    const routes = serverRoutes();
    assert.ok(routes.length >= 10, `found only ${routes.length} server routes: has the router moved?`);
    // The OAuth routes to come, and the JWKS, whatever the scan finds.
    const expected = [...routes, '/api/oauth/token', '/api/oauth/authorize', '/.well-known/oauth-authorization-server'];
    for (const path of expected) {
      assert.deepEqual(
        [path, resolve(path).kind, resolve(path).target],
        [path, 'proxy', `${BACKEND}${path}`],
        `${path} must go to the backend`,
      );
    }
  });

  test('a server route outside /api and /.well-known would not reach it (so a rename fails above)', () => {
    assert.equal(resolve('/auth/refresh').target, '/index.html');
    assert.equal(resolve('/jwks.json').target, '/index.html');
  });

  test('client routes, and deep links, get index.html and are not cached', () => {
    const routes = clientRoutes();
    assert.ok(routes.length >= 4, `found only ${routes.length} client routes`);
    for (const path of [...routes, '/oauth/authorize', '/some/deep/link', '/index.html']) {
      const r = resolve(path);
      assert.deepEqual([path, r.kind, r.target], [path, 'file', '/index.html']);
      assert.equal(r.headers['cache-control'], 'no-cache', path);
    }
  });

  test('hashed assets are immutable, and only hashed ones', () => {
    const assets = [...files].filter((f) => /\.(js|css|wasm)$/.test(f));
    assert.ok(assets.length >= 4, `assets: ${assets}`);
    for (const file of assets) {
      assert.match(file, HASHED, `${file} would be cached forever without a content hash`);
      const r = resolve(file);
      assert.deepEqual([r.kind, r.target, r.headers['cache-control']], ['file', file, IMMUTABLE]);
    }
    for (const file of ['/favicon.svg', '/robots.txt']) {
      assert.equal(resolve(file).headers['cache-control'], 'no-cache', file);
    }
  });

  test('API responses keep the backend\'s Cache-Control (no-store on tokens)', () => {
    for (const path of ['/api/auth/refresh', '/.well-known/jwks.json']) {
      assert.equal(resolve(path).headers['cache-control'], undefined, path);
    }
  });

  test('the server\'s CSP and security headers on every response', () => {
    const csp = serverCsp();
    for (const path of ['/', '/sessions', '/index.html', '/favicon.svg', '/api/me', '/.well-known/jwks.json', '/nope']) {
      const h = resolve(path).headers;
      assert.equal(h['content-security-policy'], csp, path);
      assert.equal(h['x-content-type-options'], 'nosniff', path);
      assert.equal(h['x-frame-options'], 'DENY', path);
      assert.equal(h['referrer-policy'], 'no-referrer', path);
    }
  });
});
