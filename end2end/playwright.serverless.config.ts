import { defineConfig } from '@playwright/test';

import base from './playwright.config';

// The serverless deployment: the SPA on the real Netlify CLI, /api/* proxied to the
// `lambda` function under the Lambda emulator (`cargo lambda watch`) on PostgreSQL and
// Redis (deploy/netlify/serve.sh with BACKEND=lambda). The same smoke specs as the
// Netlify run: `npx playwright test -c playwright.serverless.config.ts`
const port = Number(process.env.SERVERLESS_PORT ?? 8885);

export default defineConfig({
  ...base,
  testDir: './netlify',
  use: { ...base.use, baseURL: `http://127.0.0.1:${port}` },
  webServer: {
    command: '../deploy/netlify/serve.sh',
    // Through the CLI's proxy to the function: its 401 (no cookie) counts as ready.
    url: `http://127.0.0.1:${port}/api/auth/session`,
    env: { BACKEND: 'lambda', NETLIFY_PORT: String(port), API_PORT: '3150', STATIC_PORT: '3151' },
    reuseExistingServer: false,
    // The emulator may compile the function, and the SPA is built for its URL.
    timeout: 600_000,
    stdout: 'pipe',
  },
});
