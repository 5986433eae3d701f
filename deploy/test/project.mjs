// What the deploy tests know about the project, read from its source so that they fail
// when the source changes under them: the server's routes, the client's routes, the CSP.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export const root = join(import.meta.dirname, '..', '..');

function rustFiles(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? rustFiles(join(dir, e.name)) : e.name.endsWith('.rs') ? [join(dir, e.name)] : [],
  );
}

/** Code lines only: doc comments show example routes that the server does not serve. */
function code(file) {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => !line.trim().startsWith('//'))
    .join('\n');
}

/** Served by the server but not through the static hosts: probes and metrics are for operators. */
export const OPERATOR_ONLY = ['/healthz', '/readyz', '/metrics'];

/**
 * Every path the server's router serves, with path parameters filled in, minus the
 * operator-only ones: the paths of its OpenAPI document (docs/openapi.json, which the
 * server's tests keep equal to the routes it serves), and the routes it serves without
 * describing them (`.route("...")` in server/src: the JSON 404 under /api).
 */
export function serverRoutes() {
  const openapi = JSON.parse(readFileSync(join(root, 'docs', 'openapi.json'), 'utf8'));
  const paths = new Set(Object.keys(openapi.paths));
  for (const file of rustFiles(join(root, 'server', 'src'))) {
    for (const [, path] of code(file).matchAll(/\.route\(\s*"([^"]+)"/g)) paths.add(path);
  }
  return [...paths]
    .filter((p) => !OPERATOR_ONLY.includes(p))
    .map((p) => p.replace(/\{\*[^}]+\}/g, 'any/thing').replace(/\{[^}]+\}/g, 'sample-id'))
    .sort();
}

/** The client's routes (`path!("...")` in app/src). */
export function clientRoutes() {
  const paths = new Set();
  for (const file of rustFiles(join(root, 'app', 'src'))) {
    for (const [, path] of code(file).matchAll(/path!\(\s*"([^"]*)"\s*\)/g)) paths.add(path);
  }
  return [...paths].map((p) => p.replace(/:[A-Za-z_]+/g, 'sample-id')).sort();
}

/** The server's Content-Security-Policy (server/src/spa.rs), as one string. */
export function serverCsp() {
  const spa = readFileSync(join(root, 'server', 'src', 'spa.rs'), 'utf8');
  const m = spa.match(/CONTENT_SECURITY_POLICY: &str = ("(?:[^"\\]|\\[\s\S])*");/);
  if (!m) throw new Error('no CONTENT_SECURITY_POLICY in server/src/spa.rs');
  // A Rust string with `\` line continuations: the newline and the indentation go.
  return m[1].slice(1, -1).replace(/\\\n\s*/g, '');
}

/** Trunk's content-hashed file names: `name-<16 hex>[_bg].ext`. */
export const HASHED = /-[0-9a-f]{16}(_bg)?\.(js|css|wasm)$/;
export const IMMUTABLE = 'public, max-age=31536000, immutable';
