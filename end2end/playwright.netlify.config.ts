import { defineConfig } from '@playwright/test';

import base from './playwright.config';

// The smoke run through the real Netlify CLI: the SPA on `netlify dev --offline`, the API
// behind its proxy rules (deploy/netlify/serve.sh). `npx playwright test -c playwright.netlify.config.ts`
const port = Number(process.env.NETLIFY_PORT ?? 8881);
const apiPort = Number(process.env.E2E_API_PORT ?? 3130);
const staticPort = Number(process.env.NETLIFY_STATIC_PORT ?? 3131);

export default defineConfig({
  ...base,
  testDir: './netlify',
  use: { ...base.use, baseURL: `http://127.0.0.1:${port}` },
  webServer: {
    command: '../deploy/netlify/serve.sh',
    // Through the CLI's proxy to the server: its 401 (no cookie) counts as ready.
    url: `http://127.0.0.1:${port}/api/auth/session`,
    env: { NETLIFY_PORT: String(port), API_PORT: String(apiPort), STATIC_PORT: String(staticPort) },
    reuseExistingServer: false,
    timeout: 180_000,
    stdout: 'pipe',
  },
});
