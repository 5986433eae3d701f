import { defineConfig } from '@playwright/test';

import netlify from './playwright.netlify.config';

// The serverless deployment: the Netlify run's specs and set-up, with the lambda function
// under the Lambda emulator (`cargo lambda watch`) on PostgreSQL and Redis as the backend
// (deploy/netlify/serve.sh with BACKEND=lambda).
//   npx playwright test -c playwright.serverless.config.ts
const port = Number(process.env.SERVERLESS_PORT ?? 8885);
const server = Array.isArray(netlify.webServer) ? netlify.webServer[0] : netlify.webServer!;

export default defineConfig({
  ...netlify,
  use: { ...netlify.use, baseURL: `http://127.0.0.1:${port}` },
  webServer: {
    ...server,
    url: `http://127.0.0.1:${port}/api/auth/session`,
    env: { BACKEND: 'lambda', NETLIFY_PORT: String(port), API_PORT: '3150', STATIC_PORT: '3151' },
    // The emulator may compile the function, and the SPA is built for its URL.
    timeout: 600_000,
  },
});
