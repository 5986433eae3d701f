import { defineConfig } from '@playwright/test';

import { ports } from './tests/servers';

// Debian's Chromium, never a downloaded browser; real servers started by serve.sh:
// E2E_PORT with 3 s access tokens, and two more ports (E2E_PORT + 1, + 2) with short
// idle, grace and absolute limits for the session-end scenarios (see tests/servers.ts).
// With E2E_CLUSTER=1, E2E_PORT is instead three instances on PostgreSQL and Redis behind
// nginx (serve-cluster.sh), so the browser cannot tell which instance answered; run the
// specs that need only that port then (session, tabs).
const port = ports.main;
const cluster = !!process.env.E2E_CLUSTER;

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
  webServer: (cluster
    ? [{ port: ports.main, env: {}, command: './serve-cluster.sh', timeout: 120_000 }]
    : [
        { port: ports.main, env: {} },
        { port: ports.idle, env: { ACCESS_TTL: '4s', IDLE_TTL: '24s' } },
        { port: ports.edge, env: { ACCESS_TTL: '4s', REFRESH_GRACE: '8s', ABSOLUTE_TTL_SHORT: '16s' } },
      ]
  ).map(({ port, env, command = './serve.sh', timeout = 60_000 }) => ({
    command,
    url: `http://127.0.0.1:${port}/healthz`,
    env: { ...env, PORT: String(port) },
    reuseExistingServer: false,
    timeout,
    stdout: 'pipe' as const,
  })),
});
