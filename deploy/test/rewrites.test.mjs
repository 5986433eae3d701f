// The Trunk hook that turns API_ORIGIN into the static hosts' proxy rules
// (scripts/platform-rewrites.mjs), run as Trunk runs it.
//   node --test deploy/test/rewrites.test.mjs
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

import { root } from './project.mjs';

function hook(env) {
  const dir = mkdtempSync(join(tmpdir(), 'rewrites-'));
  const clean = { ...process.env, TRUNK_STAGING_DIR: dir };
  delete clean.API_ORIGIN;
  delete clean.VERCEL;
  const run = spawnSync('node', [join(root, 'scripts', 'platform-rewrites.mjs')], {
    env: { ...clean, ...env },
    encoding: 'utf8',
  });
  const file = join(dir, '_redirects');
  return { ...run, out: run.stdout + run.stderr, redirects: existsSync(file) ? readFileSync(file, 'utf8') : null };
}

test('without API_ORIGIN: no proxy rules, and the build says the API is expected on the same origin', () => {
  const r = hook({});
  assert.equal(r.status, 0, r.out);
  assert.equal(r.redirects, null);
  assert.match(r.out, /API_ORIGIN is not set: the SPA expects the API on its own origin/);
});

test('API_ORIGIN writes Netlify rewrites (200!, forced) for /api/* and /.well-known/*', () => {
  const r = hook({ API_ORIGIN: 'https://api.example.test/' });
  assert.equal(r.status, 0, r.out);
  const rules = r.redirects.split('\n').filter((l) => l && !l.startsWith('#'));
  assert.deepEqual(rules, [
    '/api/*  https://api.example.test/api/:splat  200!',
    '/.well-known/*  https://api.example.test/.well-known/:splat  200!',
  ]);
});

test('API_ORIGIN may carry a base path (an API Gateway stage, the Lambda emulator)', () => {
  const r = hook({ API_ORIGIN: 'http://127.0.0.1:9050/lambda-url/lambda/' });
  assert.equal(r.status, 0, r.out);
  const rules = r.redirects.split('\n').filter((l) => l && !l.startsWith('#'));
  assert.deepEqual(rules, [
    '/api/*  http://127.0.0.1:9050/lambda-url/lambda/api/:splat  200!',
    '/.well-known/*  http://127.0.0.1:9050/lambda-url/lambda/.well-known/:splat  200!',
  ]);
});

test('API_ORIGIN must be the backend root: /api, a query or another scheme is refused', () => {
  for (const bad of ['https://api.example.test/api', 'https://api.example.test/?x=1', 'ftp://api.example.test', 'api.example.test']) {
    const r = hook({ API_ORIGIN: bad });
    assert.notEqual(r.status, 0, bad);
    assert.match(r.out, /API_ORIGIN=/, bad);
  }
});

test('on Vercel, a vercel.json that proxies elsewhere than API_ORIGIN fails the build', () => {
  const wrong = hook({ API_ORIGIN: 'https://api.example.test', VERCEL: '1' });
  assert.equal(wrong.status, 1, wrong.out);
  assert.match(wrong.out, /vercel\.json proxies to https:\/\/api\.example\.com, not API_ORIGIN/);
  // Off Vercel it is a note, and the Netlify rules are still written.
  const local = hook({ API_ORIGIN: 'https://api.example.test' });
  assert.equal(local.status, 0, local.out);
  assert.match(local.out, /note for Vercel/);
  // The committed vercel.json's backend, named: no complaint.
  const same = hook({ API_ORIGIN: 'https://api.example.com', VERCEL: '1' });
  assert.equal(same.status, 0, same.out);
});

test('the build command on a builder without Rust stops and says how to deploy instead', () => {
  // Netlify's and Vercel's builders have no cargo: what a Git-triggered build there does.
  const path = process.env.PATH.split(':').filter((d) => !/\.cargo|rustup/.test(d)).join(':');
  const run = spawnSync('bash', [join(root, 'scripts', 'build-spa.sh')], {
    env: { ...process.env, PATH: path },
    encoding: 'utf8',
  });
  assert.equal(run.status, 1, run.stdout + run.stderr);
  assert.match(run.stderr, /no Rust toolchain/);
  assert.match(run.stderr, /vercel deploy --prebuilt/);
  assert.match(run.stderr, /netlify deploy --dir dist/);
});
