import { defineConfig } from '@playwright/test';

// Debian's Chromium, never a downloaded browser; a real server started by serve.sh, or
// with E2E_CLUSTER=1 three instances on PostgreSQL and Redis behind nginx
// (serve-cluster.sh), so the browser cannot tell which instance answered.
const port = Number(process.env.E2E_PORT ?? 3100);
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
  webServer: {
    command: cluster ? './serve-cluster.sh' : './serve.sh',
    url: `http://127.0.0.1:${port}/healthz`,
    env: { PORT: String(port) },
    reuseExistingServer: false,
    timeout: cluster ? 120_000 : 60_000,
    stdout: 'pipe',
  },
});
