// Trunk post-build hook: writes the static hosts' proxy rules for the backend named by
// API_ORIGIN, so nobody edits proxy rules by hand.
//
//   API_ORIGIN=https://api.example.org trunk build --release
//
// - Netlify: `dist/_redirects`, which Netlify reads before netlify.toml, sends /api/* and
//   /.well-known/* to the backend (status 200: a rewrite, so the refresh cookie stays
//   first-party and SameSite=Strict holds).
// - Vercel reads vercel.json before it runs the build, so a build cannot change its
//   rules: its one backend line is checked instead, and a build on Vercel (VERCEL=1)
//   whose vercel.json does not point at API_ORIGIN fails rather than deploy a proxy to
//   the wrong place.
// Without API_ORIGIN the SPA calls /api/* on its own origin (the server serves dist/,
// or a load balancer sends /api/* to it), and the build says so.
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const dir = process.env.TRUNK_STAGING_DIR;
if (!dir) throw new Error('TRUNK_STAGING_DIR is not set: run me as a Trunk hook');
// Not import.meta.dirname: the container's build stage has Debian's Node.js 18.
const root = fileURLToPath(new URL('..', import.meta.url));

/** The backend paths a static host must hand to the server; everything else is the SPA. */
export const BACKEND_PREFIXES = ['/api/', '/.well-known/'];

/**
 * `http(s)://host[:port]`, optionally with the base path the backend's routes hang
 * under (an API Gateway stage, or the local Lambda emulator's
 * `http://127.0.0.1:9050/lambda-url/lambda`), or an error that says what is wrong.
 */
function parseBase(value) {
  let url;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`API_ORIGIN=${value} is not a URL (want https://api.example.org)`);
  }
  if (!['https:', 'http:'].includes(url.protocol) || url.username || url.password) {
    throw new Error(`API_ORIGIN=${value}: want http(s)://host[:port], no credentials`);
  }
  const path = url.pathname.replace(/\/+$/, '');
  if (url.search || url.hash || /\/(api|\.well-known)$/.test(path)) {
    throw new Error(`API_ORIGIN=${value}: the backend's root, without /api or a query (/api is added)`);
  }
  return url.origin + path;
}

/** Where vercel.json proxies to: its one external `destination`, without `/:dir/:path*`. */
function vercelBase() {
  const config = JSON.parse(readFileSync(join(root, 'vercel.json'), 'utf8'));
  const external = (config.rewrites ?? []).filter((r) => /^https?:\/\//.test(r.destination));
  return external.length === 1 ? external[0].destination.replace(/\/:dir\/:path\*$/, '') : null;
}

const redirects = join(dir, '_redirects');
const raw = (process.env.API_ORIGIN ?? '').trim();
if (!raw) {
  rmSync(redirects, { force: true });
  console.log(
    'API_ORIGIN is not set: the SPA expects the API on its own origin (/api/* served by ' +
      'the same host). To put the SPA on Netlify or Vercel with the server elsewhere, ' +
      'build with API_ORIGIN=https://your-backend.',
  );
} else {
  const origin = parseBase(raw);
  const rules = BACKEND_PREFIXES.map((p) => `${p}*  ${origin}${p}:splat  200!`);
  writeFileSync(redirects, `# Generated from API_ORIGIN by scripts/platform-rewrites.mjs\n${rules.join('\n')}\n`);
  console.log(`API_ORIGIN=${origin}: wrote _redirects for Netlify (/api/* and /.well-known/* to it)`);
  const vercel = vercelBase();
  if (vercel !== origin) {
    const say = `vercel.json proxies to ${vercel}, not API_ORIGIN ${origin}: set its "destination" line to ${origin}`;
    // On Vercel's build (VERCEL=1) a mismatch would deploy a proxy to the wrong backend.
    if (process.env.VERCEL === '1') {
      console.error(`error: ${say}`);
      process.exit(1);
    }
    console.log(`note for Vercel: ${say}`);
  }
}
