// Trunk post-build hook: moves Trunk's inline module loader out of index.html into a
// file of its own, so the CSP can forbid inline scripts (`script-src 'self'`) on the
// server, Netlify and Vercel alike, without per-build hashes.
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.env.TRUNK_STAGING_DIR;
if (!dir) throw new Error('TRUNK_STAGING_DIR is not set: run me as a Trunk hook');
const indexPath = join(dir, 'index.html');
const html = readFileSync(indexPath, 'utf8');
// Quoted or not: a release build minifies the page (`minify` in Trunk.toml).
const inline = /<script type="?module"?(?: nonce="?[^">]*"?)?>([\s\S]*?)<\/script>/;
const match = html.match(inline);
if (!match) throw new Error('no inline module script in index.html: has Trunk changed?');
const code = match[1].trim() + '\n';
const name = `loader-${createHash('sha256').update(code).digest('hex').slice(0, 16)}.js`;
writeFileSync(join(dir, name), code);
writeFileSync(indexPath, html.replace(inline, `<script type="module" src="/${name}"></script>`));
console.log(`moved the inline loader to ${name}`);

// Last: compress everything, this loader included (hooks of one stage run concurrently,
// so the order is kept here rather than with a second hook).
await import('./precompress.mjs');
