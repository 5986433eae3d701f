// Netlify's caching rules, matched by the Netlify CLI's own code: @netlify/config reads
// netlify.toml as Netlify's build does, and the CLI's `headersForPath` picks the rules for
// a path. (`netlify dev`'s static server overwrites Cache-Control with its own
// `public, max-age=0, must-revalidate` on every file, so the live smoke run in
// end2end/netlify/ can check CSP on real responses but not caching.)
//   node --test deploy/test/netlify.test.mjs
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { before, test } from 'node:test';

import { HASHED, IMMUTABLE, clientRoutes, root, serverCsp } from './project.mjs';

const cli = join(root, 'deploy', 'cli', 'node_modules');
let headersFor;

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
