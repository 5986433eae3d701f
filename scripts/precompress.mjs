// Trunk post-build hook: writes `<file>.br` (brotli, quality 11) and `<file>.gz` (gzip -9)
// beside every text or WASM asset of the build, so the server sends them precompressed
// by Accept-Encoding (tower-http ServeDir) at no CPU cost per request. Runs at the end
// of build-wasm.mjs, so the WASM and JS it writes are compressed too.
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';

const dir = process.env.TRUNK_STAGING_DIR;
if (!dir) throw new Error('TRUNK_STAGING_DIR is not set: run me as a Trunk hook');
const compressible = /\.(wasm|js|css|html|svg|txt|json)$/;

let written = 0;
for (const name of readdirSync(dir)) {
  const path = join(dir, name);
  if (!statSync(path).isFile() || !compressible.test(name)) continue;
  const data = readFileSync(path);
  const br = brotliCompressSync(data, {
    params: {
      [constants.BROTLI_PARAM_QUALITY]: constants.BROTLI_MAX_QUALITY,
      [constants.BROTLI_PARAM_SIZE_HINT]: data.length,
      [constants.BROTLI_PARAM_MODE]: name.endsWith('.wasm') ? constants.BROTLI_MODE_GENERIC : constants.BROTLI_MODE_TEXT,
    },
  });
  writeFileSync(`${path}.br`, br);
  writeFileSync(`${path}.gz`, gzipSync(data, { level: 9 }));
  written++;
}
console.log(`precompressed ${written} files (.br and .gz)`);
