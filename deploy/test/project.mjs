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

/** The client's routes: the arms of `fn page` in app/src/lib.rs, each a path or the name
 * of a `const` path of app/src. */
export function clientRoutes() {
  const page = code(join(root, 'app', 'src', 'lib.rs')).match(/\nfn page\(path: &str\)[\s\S]*?\n\}\n/);
  if (!page) throw new Error('no `fn page(path: &str)` in app/src/lib.rs');
  const consts = new Map();
  for (const file of rustFiles(join(root, 'app', 'src'))) {
    for (const [, name, value] of code(file).matchAll(/const ([A-Z_]+): &str = "([^"]*)";/g)) consts.set(name, value);
  }
  const paths = new Set();
  for (const [, literal, name] of page[0].matchAll(/^\s*(?:"([^"]*)"|([A-Z][A-Z_]*)) =>/gm)) {
    const path = literal ?? consts.get(name);
    if (path === undefined) throw new Error(`fn page: no const ${name} in app/src`);
    paths.add(path);
  }
  return [...paths].sort();
}

/** The server's Content-Security-Policy (server/src/spa.rs), as one string. */
export function serverCsp() {
  const spa = readFileSync(join(root, 'server', 'src', 'spa.rs'), 'utf8');
  const m = spa.match(/CONTENT_SECURITY_POLICY: &str = ("(?:[^"\\]|\\[\s\S])*");/);
  if (!m) throw new Error('no CONTENT_SECURITY_POLICY in server/src/spa.rs');
  // A Rust string with `\` line continuations: the newline and the indentation go.
  return m[1].slice(1, -1).replace(/\\\n\s*/g, '');
}

/** Content-hashed file names: `name-<hex>[_bg].ext`, a 64-bit hash (16 digits from
 * scripts/build-wasm.mjs; Trunk, for the CSS, drops leading zeros, so one build in 16 has
 * 15; server/src/spa.rs, `is_hashed`). */
export const HASHED = /-[0-9a-f]{10,16}(_bg)?\.(js|css|wasm)$/;
export const IMMUTABLE = 'public, max-age=31536000, immutable';
