// Netlify's rules, matched by the Netlify CLI's own code: @netlify/config reads
// netlify.toml as Netlify's build does, the CLI's `headersForPath` picks the header rules
// for a path, and @netlify/redirects (its rewrite engine) matches the proxy rules, with
// and without the `_redirects` that API_ORIGIN generates. (`netlify dev`'s static server overwrites Cache-Control with its own
// `public, max-age=0, must-revalidate` on every file, so the live smoke run in
// end2end/netlify/ can check CSP on real responses but not caching.)
//   node --test deploy/test/netlify.test.mjs
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { before, test } from 'node:test';

import { HASHED, IMMUTABLE, clientRoutes, root, serverCsp, serverRoutes } from './project.mjs';

const cli = join(root, 'deploy', 'cli', 'node_modules');
let headersFor;
let redirectsFor;

before(async () => {
  const require = createRequire(join(cli, 'netlify-cli', 'package.json'));
  const load = (m) => import(pathToFileURL(require.resolve(m)).href);
  const { resolveConfig } = await load('@netlify/config');
  const { parseHeaders, headersForPath } = await import(
    pathToFileURL(join(cli, 'netlify-cli', 'dist', 'utils', 'headers.js')).href
  );
  const configPath = join(root, 'netlify.toml');
  const { config } = await resolveConfig({ config: configPath, repositoryRoot: root, cwd: root, offline: true });
  const rules = await parseHeaders({ config, configPath, headersFiles: [] });
  headersFor = (path) =>
    Object.fromEntries(Object.entries(headersForPath(rules, path)).map(([k, v]) => [k.toLowerCase(), v]));
  const { RedirectsHandler } = await load('@netlify/redirects');
  // The rewrite engine for a publish folder (whose `_redirects` it reads first).
  redirectsFor = (publicDir) => {
    const handler = new RedirectsHandler({
      configPath,
      configRedirects: config.redirects,
      jwtRoleClaim: 'app_metadata.authorization.roles',
      jwtSecret: 'unused',
      projectDir: root,
      publicDir,
    });
    return (path) => handler.match(new Request(`http://site.test${path}`));
  };
});

/** A publish folder with what the Trunk hook writes for `apiOrigin` (nothing when unset). */
function published(apiOrigin) {
  const dir = mkdtempSync(join(tmpdir(), 'netlify-publish-'));
  const env = { ...process.env, TRUNK_STAGING_DIR: dir };
  delete env.VERCEL;
  if (apiOrigin) env.API_ORIGIN = apiOrigin;
  else delete env.API_ORIGIN;
  const run = spawnSync('node', [join(root, 'scripts', 'platform-rewrites.mjs')], { env, encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  return dir;
}

const BACKEND_PATHS = () => [...serverRoutes(), '/api/oauth/token', '/.well-known/oauth-authorization-server'];

test('with API_ORIGIN, every server route is proxied to it (200, forced, path kept)', async () => {
  const match = redirectsFor(published('https://api.example.test'));
  for (const path of BACKEND_PATHS()) {
    const m = await match(path);
    assert.deepEqual(
      [path, m?.external, m?.statusCode, m?.force, m?.target.href],
      [path, true, 200, true, `https://api.example.test${path}`],
    );
  }
});

test('without API_ORIGIN, API paths are 404s, never the SPA', async () => {
  const match = redirectsFor(published(null));
  for (const path of BACKEND_PATHS()) {
    const m = await match(path);
    assert.deepEqual([path, m?.external, m?.statusCode], [path, false, 404]);
  }
});

test('hashed .js, .css and .wasm are immutable, and the built ones are all hashed', () => {
  const built = readdirSync(join(root, 'dist')).filter((f) => /\.(js|css|wasm)$/.test(f));
  assert.ok(built.length >= 4, `dist/ has ${built}: build the SPA first`);
  for (const file of built) {
    assert.match(file, HASHED, `${file} would be cached forever without a content hash`);
    assert.equal(headersFor(`/${file}`)['cache-control'], IMMUTABLE, file);
  }
});

test('the page is revalidated: no-cache on / and /index.html, never immutable on a client route', () => {
  assert.equal(headersFor('/')['cache-control'], 'no-cache');
  assert.equal(headersFor('/index.html')['cache-control'], 'no-cache');
  // Rewritten to index.html, matched by their own path: Netlify's default
  // (max-age=0, must-revalidate) applies, which revalidates too.
  for (const path of [...clientRoutes(), '/oauth/authorize']) {
    assert.notEqual(headersFor(path)['cache-control'], IMMUTABLE, path);
  }
});

test('the server\'s CSP and security headers on every path Netlify serves', () => {
  for (const path of ['/', '/index.html', '/sessions', '/favicon.svg', '/app-0123456789abcdef.js']) {
    const h = headersFor(path);
    assert.equal(h['content-security-policy'], serverCsp(), path);
    assert.equal(h['x-frame-options'], 'DENY', path);
  }
});
