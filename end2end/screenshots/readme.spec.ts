import { expect, test, type Page } from '@playwright/test';

import { signIn } from '../tests/helpers';
import { ports, url } from '../tests/servers';

// The README's pictures: sign-in, the dashboard with its countdown, the "Stay signed in?"
// dialog and the sessions page, each in light and dark, written to docs/screenshots/
// (or SCREENSHOT_DIR). `npx playwright test -c playwright.screenshots.config.ts`; the
// idle server (IDLE_TTL=24s) brings the dialog within seconds.

const dir = process.env.SCREENSHOT_DIR ?? '../docs/screenshots';
const schemes = ['light', 'dark'] as const;

test.describe.configure({ timeout: 90_000 });
test.use({ viewport: { width: 1280, height: 760 }, baseURL: url(ports.idle) });

async function shoot(page: Page, name: string) {
  // Fonts and layout settle before the picture; the countdown ticks, which is fine.
  await page.waitForTimeout(300);
  await page.screenshot({ path: `${dir}/${name}.png` });
}

for (const scheme of schemes) {
  test(`${scheme}: sign-in, dashboard, dialog, sessions`, async ({ page }) => {
    await page.emulateMedia({ colorScheme: scheme });
    await page.goto('/login');
    await expect(page.getByRole('button', { name: 'Sign in' })).toBeVisible();
    await shoot(page, `sign-in-${scheme}`);

    await signIn(page);
    await expect(page.getByTestId('username')).toHaveText('alice');
    await shoot(page, `dashboard-${scheme}`);

    await page.goto('/sessions');
    await expect(page.getByRole('heading', { level: 1 })).toBeVisible();
    await shoot(page, `sessions-${scheme}`);

    // Nobody touches anything: the warning comes 8 s before the idle end.
    await page.goto('/');
    const dialog = page.getByRole('dialog', { name: 'Stay signed in?' });
    await expect(dialog).toBeVisible({ timeout: 40_000 });
    await shoot(page, `stay-signed-in-${scheme}`);
    await dialog.getByRole('button', { name: 'Stay signed in' }).click();
    await expect(dialog).toHaveCount(0);
  });
}
