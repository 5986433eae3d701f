import { defineConfig } from '@playwright/test';

import { ports } from './tests/servers';

// Debian's Chromium, never a downloaded browser; real servers started by serve.sh:
// E2E_PORT with 3 s access tokens, and two more ports (E2E_PORT + 1, + 2) with short
// idle, grace and absolute limits for the session-end scenarios (see tests/servers.ts).
const port = ports.main;

export default defineConfig({
  testDir: './tests',
  timeout: 60_000,
  fullyParallel: false,
  workers: 1,
  forbidOnly: !!process.env.CI,
  retries: 0,
  reporter: process.env.CI ? 'list' : [['list'], ['html', { open: 'never' }]],
  use: {
    baseURL: `http://127.0.0.1:${port}`,
    trace: 'retain-on-failure',
    launchOptions: {
      executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    },
  },
  webServer: [
    { port: ports.main, env: {} },
    { port: ports.idle, env: { ACCESS_TTL: '4s', IDLE_TTL: '24s' } },
    { port: ports.edge, env: { ACCESS_TTL: '4s', REFRESH_GRACE: '8s', ABSOLUTE_TTL_SHORT: '16s' } },
  ].map(({ port, env }) => ({
    command: './serve.sh',
    url: `http://127.0.0.1:${port}/healthz`,
    env: { ...env, PORT: String(port) },
    reuseExistingServer: false,
    timeout: 60_000,
    stdout: 'pipe' as const,
  })),
});
