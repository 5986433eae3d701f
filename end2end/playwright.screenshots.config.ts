import { defineConfig } from '@playwright/test';

import base from './playwright.config';

// The README's screenshots (screenshots/readme.spec.ts), against the same servers as
// the main suite: `npx playwright test -c playwright.screenshots.config.ts`.
export default defineConfig({
  ...base,
  testDir: './screenshots',
});
