import { execFileSync } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';

import { expect, type Page } from '@playwright/test';

/** Signs in through the login page, starting signed out: `/` must send us there. */
export async function signIn(page: Page, username = 'alice', password = 'alice-password') {
  await page.goto('/');
  await expect(page).toHaveURL(/\/login/);
  await page.locator('#username').fill(username);
  await page.locator('#password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByTestId('username')).toHaveText(username);
}

/**
 * Registers an OAuth client with the running server (`server client add`, on the
 * database serve.sh made for this port) and returns its client_id.
 */
export function registerClient(name: string, redirectUri: string): string {
  const root = path.resolve(__dirname, '..', '..');
  const server = path.join(process.env.CARGO_TARGET_DIR ?? path.join(root, 'target'), 'debug', 'server');
  const port = process.env.E2E_PORT ?? '3100';
  const db = path.join(os.tmpdir(), `jwt-refresh-e2e-${port}`, 'e2e.db');
  const out = execFileSync(server, ['client', 'add', name, '--redirect-uri', redirectUri], {
    env: { ...process.env, DATABASE_URL: `sqlite://${db}?mode=rwc` },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return out.toString().trim();
}
