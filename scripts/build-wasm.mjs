// Trunk post-build hook: builds the Leptos client (app/) into the page's WASM and JS,
// split so that a first visit downloads only what the sign-in page needs.
//
// The functions under `#[wasm_split(signed_in)]` (the session crate's token manager;
// app/src/lib.rs: every page but the sign-in page, and the "Stay signed in?" dialog)
// become one WASM chunk, loaded when a session is restored, sign-in begins (here or in
// another tab) or a signed-out visitor opens the consent page. Trunk 0.21
// cannot split (it runs wasm-bindgen on the whole
// module), so the page's WASM is built here, in the pipeline `cargo leptos --split` uses:
//
//   cargo build          the whole client, linked with --emit-relocs (.cargo/config.toml)
//   wasm-split-cli       main module + a chunk per split name (+ chunks splits share) +
//                        the JS that fetches a chunk into the running module
//   wasm-bindgen         the main module's JS glue (it imports the chunk loader)
//   wasm-opt -Oz         every module (release)
//
// then names every file by content, writes the boot module that starts the app (the CSP
// allows no inline script), links it from index.html, and compresses every asset
// (scripts/precompress.mjs). Debug builds (`trunk build`) skip wasm-opt.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const staging = process.env.TRUNK_STAGING_DIR;
if (!staging) throw new Error('TRUNK_STAGING_DIR is not set: run me as a Trunk hook');
const release = process.env.TRUNK_PROFILE === 'release';
const publicUrl = process.env.TRUNK_PUBLIC_URL || '/';

const run = (cmd, args) => execFileSync(cmd, args, { stdio: ['ignore', 'inherit', 'inherit'] });
// wasm-opt warns about every chunk's name section (a subsection it does not know): only
// its errors are worth reading.
const quiet = (cmd, args) => {
  try {
    execFileSync(cmd, args, { stdio: ['ignore', 'inherit', 'pipe'] });
  } catch (error) {
    process.stderr.write(error.stderr ?? '');
    throw error;
  }
};
// Release JS without its comments, whitespace and long local names (glue 8.2 → 6.4 KB
// brotli): esbuild, as Trunk 0.21's own minifier cannot parse wasm-bindgen's output.
// The one setup.sh installs, by its path: the Netlify CLI puts another esbuild on PATH.
// Its one warning here is silenced: the glue's import object names the chunk loader once
// per import, the same module each time.
const esbuild = fileURLToPath(new URL('../.tools/node_modules/.bin/esbuild', import.meta.url));
const minify = (code) =>
  release
    ? execFileSync(esbuild, ['--minify', '--format=esm', '--loader=js', '--log-override:duplicate-object-key=silent'], {
        input: code,
        encoding: 'utf8',
      })
    : code;
const hash = (data) => createHash('sha256').update(data).digest('hex').slice(0, 16);

// The tools at the versions this build was made for (scripts/setup.sh installs them):
// another wasm-opt, say Debian's binaryen 108, writes a WASM that Chromium refuses.
const lockVersion = (crate) =>
  readFileSync(new URL('../Cargo.lock', import.meta.url), 'utf8').match(
    new RegExp(`name = "${crate}"\\nversion = "([^"]+)"`),
  )[1];
const expectTool = (cmd, args, wanted) => {
  let out = '';
  try {
    out = execFileSync(cmd, args, { encoding: 'utf8' });
  } catch {
    // not installed: said below
  }
  if (!out.includes(wanted)) {
    throw new Error(`${cmd}: "${wanted}" expected in \`${cmd} ${args.join(' ')}\`; run \`source scripts/setup.sh\``);
  }
};
expectTool('wasm-bindgen', ['--version'], `wasm-bindgen ${lockVersion('wasm-bindgen')}`);
expectTool('wasm-opt', ['--version'], 'version 132');
// Up to the newline, so not 0.28.20: names are hashed before minifying, and another
// minifier must not write other bytes under a name already cached as immutable.
expectTool(esbuild, ['--version'], '0.28.2\n');
// Its split format must match wasm_split_helpers (Cargo.lock, through leptos).
expectTool('cargo', ['install', '--list'], 'wasm_split_cli_support v0.2.4:');

// The files the loader fetches for `split` (a `#[wasm_split]` module name): its own chunk
// and the chunks it shares with other splits (each headed by a comment naming them all).
function splitFiles(loader, split) {
  const files = [];
  for (const [, splits, file] of loader.matchAll(/\/\* ([\w, ]+) \*\/\nconst __chunk_\d+ = makeLoad\(\(\) => \{\n\s*const src = fetch\(new URL\("\.\/([^"]+)"/g)) {
    if (splits.split(', ').includes(split)) files.push(file);
  }
  const own = loader.match(new RegExp(`new URL\\("\\./(split_${split}-[^"]+)"`));
  if (!own) throw new Error(`the chunk loader fetches no split_${split}: has the tool changed?`);
  return [own[1], ...files];
}

// 1. The whole client, in the size-optimised profile (Cargo.toml) for a release build.
const profile = release ? 'wasm-release' : 'dev';
run('cargo', ['build', '--locked', '-p', 'app', '--bin', 'app', '--target', 'wasm32-unknown-unknown', '--profile', profile]);
const { target_directory: targetDir } = JSON.parse(
  execFileSync('cargo', ['metadata', '--format-version', '1', '--no-deps'], { encoding: 'utf8' }),
);
const raw = join(targetDir, 'wasm32-unknown-unknown', release ? 'wasm-release' : 'debug', 'app.wasm');

// 2. Split, 3. bind, in a scratch directory.
const work = mkdtempSync(join(tmpdir(), 'build-wasm-'));
try {
  const split = join(work, 'split');
  const bound = join(work, 'bound');
  run('wasm-split-cli', [raw, split, '--out-name', 'app', '--target', 'web']);
  run('wasm-bindgen', [
    '--target', 'web', '--no-typescript', '--keep-lld-exports',
    '--out-dir', bound, '--out-name', 'app', join(split, 'app.wasm'),
  ]);

  // 4. Optimise. Chunks are every .wasm the splitter wrote but the main module.
  const chunks = readdirSync(split).filter((f) => f.endsWith('.wasm') && f !== 'app.wasm');
  const wasmFiles = [join(bound, 'app_bg.wasm'), ...chunks.map((c) => join(split, c))];
  if (release) for (const f of wasmFiles) quiet('wasm-opt', ['-Oz', '--enable-bulk-memory', f, '-o', f]);

  // 5. Names by content. A chunk or the main WASM is a leaf: its own hash. The glue and
  // the loader import each other (a cycle no pair of content hashes can name), so both
  // take one hash of everything the app is: any change anywhere renames both.
  const written = [];
  const emit = (name, data) => {
    writeFileSync(join(staging, name), data);
    written.push(name);
    return name;
  };
  let loader = readFileSync(join(split, '__wasm_split.js'), 'utf8');
  for (const chunk of chunks) {
    const data = readFileSync(join(split, chunk));
    const name = emit(`${chunk.replace(/\.wasm$/, '')}-${hash(data)}.wasm`, data);
    loader = loader.replaceAll(`"./${chunk}"`, `"./${name}"`);
  }
  const mainWasm = readFileSync(join(bound, 'app_bg.wasm'));
  const wasmName = emit(`app-${hash(mainWasm)}_bg.wasm`, mainWasm);
  let glue = readFileSync(join(bound, 'app.js'), 'utf8');
  // (This script's own text is in it too: it decides what the files import by name.)
  const self = readFileSync(new URL(import.meta.url), 'utf8');
  const app = hash([mainWasm.toString('base64'), glue, loader, self].join('\0'));
  const glueName = `app-${app}.js`;
  const loaderName = `lazy-${app}.js`;
  const imports = (code, from, to, what) => {
    if (!code.includes(from)) throw new Error(`${what} does not import ${from}: has the tool changed?`);
    return code.replaceAll(from, to);
  };
  // Only the import statements: the glue's import object keeps the module's own name.
  glue = imports(glue, `from "./__wasm_split.js"`, `from "./${loaderName}"`, 'the wasm-bindgen glue');
  loader = imports(loader, `from "./app.js"`, `from "./${glueName}"`, 'the chunk loader');
  emit(glueName, minify(glue));
  emit(loaderName, minify(loader));

  // 6. The boot module, and the page that loads it (and fetches the WASM at once). When
  // the session hint cookie says there is a session to restore, the boot module also
  // fetches the signed-in chunk beside the main WASM, so the restore does not wait for
  // it: as `<link rel=preload>`s that the loader's own `fetch` then finds.
  const restoreFiles = splitFiles(loader, 'signed_in').map((file) => `${publicUrl}${file}`);
  const hint = readFileSync(new URL('../wire/src/lib.rs', import.meta.url), 'utf8').match(
    /SESSION_HINT_COOKIE: &str = "([^"]+)"/,
  )[1];
  const boot = [
    `import init from '${publicUrl}${glueName}';`,
    `if (document.cookie.split('; ').some((c) => c.startsWith('${hint}=') && c.length > ${hint.length + 1}))`,
    `  for (const href of ${JSON.stringify(restoreFiles)})`,
    `    document.head.append(Object.assign(document.createElement('link'), { rel: 'preload', as: 'fetch', crossOrigin: '', href }));`,
    `await init({ module_or_path: '${publicUrl}${wasmName}' });`,
    '',
  ].join('\n');
  const bootName = emit(`boot-${hash(boot)}.js`, boot);
  const indexPath = join(staging, 'index.html');
  // The `data-trunk-skip` link that only kept Trunk from building the client itself.
  const html = readFileSync(indexPath, 'utf8').replace(/<link [^>]*data-trunk-skip[^>]*>/, '');
  if (!html.includes('</head>')) throw new Error('index.html has no </head>');
  const head =
    `<link rel="modulepreload" href="${publicUrl}${glueName}">` +
    `<link rel="modulepreload" href="${publicUrl}${loaderName}">` +
    `<link rel="preload" href="${publicUrl}${wasmName}" as="fetch" type="application/wasm" crossorigin>` +
    `<script type="module" src="${publicUrl}${bootName}"></script>`;
  writeFileSync(indexPath, html.replace('</head>', `${head}</head>`));
  console.log(`build-wasm: ${written.join(', ')}`);
} finally {
  rmSync(work, { recursive: true, force: true });
}

// Last: compress everything written above (hooks of one stage run concurrently, so the
// order is kept here rather than with a second hook).
await import('./precompress.mjs');
