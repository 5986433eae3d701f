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
