/// <reference lib="dom" />
// (page.evaluate callbacks run in the browser)
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { eventually } from '@immune/bus/testing';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { vital } from '../test/vitals.js';
import { type Deployment, launchChromium, OPERATOR_TOKEN, startDeployment, VIEWER_TOKEN } from './harness.js';

// The dashboard in a real browser (Debian's Chromium through playwright-core) against the real sentinel, healer
// and dashboard on real NATS + PostgreSQL. Vitals are published on the bus as the gateway would; everything
// from detection to the card on screen is the real system. The tests run in order on one deployment (one
// browser, one set of services) to stay light on a shared machine; each uses agents of its own.
// UPDATE_SCREENSHOTS=1 also writes the PNGs the README shows (docs/screenshots/).

const axeSource = createRequire(import.meta.url)('axe-core').source as string;
const screenshots = fileURLToPath(new URL('../../../docs/screenshots/', import.meta.url));
/**
 * The whole page, or with an open dialog what the operator sees: the viewport (a dialog's fixed backdrop
 * covers only the viewport, so a full-page shot would show the rest of the page undimmed).
 */
const shoot = async (page: Page, name: string, { fullPage = true } = {}) => {
  if (process.env.UPDATE_SCREENSHOTS !== '1') return;
  mkdirSync(screenshots, { recursive: true });
  await page.screenshot({ path: `${screenshots}${name}.png`, fullPage });
};

let deployment: Deployment;
let browser: Browser;
let operator: BrowserContext;
let page: Page;
/** Detection → card on screen, per agent (ms), reported at the end. */
const appearMs: Record<string, number> = {};

beforeAll(async () => {
  deployment = await startDeployment();
  browser = await launchChromium();
  operator = await browser.newContext({ colorScheme: 'light', viewport: { width: 1280, height: 900 } });
  page = await operator.newPage();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await deployment?.close();
  console.log(`dashboard e2e: infection.detected → case on screen (ms): ${JSON.stringify(appearMs)}`);
}, 60_000);

/** 20 normal vitals 100 ms apart in the recent past: the baseline is warm and the agent HEALTHY. */
async function warmUp(agent: string): Promise<void> {
  const end = Date.now() - 500;
  for (let i = 0; i < 20; i++) await deployment.bus.publishVital(vital(agent, end - (20 - i) * 100));
  await eventually(() => expect(moves(agent)).toContain('HEALTHY'), 20_000);
}

function moves(agent: string): string[] {
  return deployment.events
    .filter(({ event }) => event.type === 'lifecycle.changed' && event.agentId === agent)
    .map(({ event }) => (event.data as { to: string }).to);
}

function detectedAt(agent: string): number | undefined {
  return deployment.events.find(({ event }) => event.type === 'infection.detected' && event.agentId === agent)
    ?.receivedAt;
}

/** Severe vitals (tokens × 3, ~11σ) until the sentinel reports an infection; then waits for its card. */
async function infectSeverely(agent: string): Promise<void> {
  const now = Date.now();
  for (let i = 0; i < 4; i++) await deployment.bus.publishVital(vital(agent, now + i * 10, 3));
  await eventually(() => expect(detectedAt(agent)).toBeDefined(), 15_000);
  await page.getByTestId(`case-${agent}`).waitFor({ state: 'visible', timeout: 15_000 });
  appearMs[agent] = Date.now() - detectedAt(agent)!;
}

/** Normal vitals (timestamp now) every ~150 ms until the agent's card says `state`: probation needs them. */
async function feedUntil(agent: string, state: string): Promise<void> {
  await eventually(
    async () => {
      if ((await page.getByTestId(`agent-${agent}`).getAttribute('data-state')) === state) return;
      await deployment.bus.publishVital(vital(agent, Date.now()));
      throw new Error(`${agent} is not ${state} on screen yet`);
    },
    30_000,
    150,
  );
}

const decisions = (agent: string) =>
  deployment.events
    .filter(({ event }) => event.type === 'approval.decided' && event.agentId === agent)
    .map(({ event }) => event.data as { decision: string; decided_by: string });

describe('the dashboard in Chromium', { timeout: 90_000 }, () => {
  it('shows the login page without a session, and logs in with a token', async () => {
    await page.goto(deployment.url);
    await page.getByLabel('Access token').fill('not-a-token-at-all');
    await page.getByRole('button', { name: 'Log in' }).click();
    await expect
      .poll(() => page.getByRole('alert').textContent())
      .toContain('not a configured operator token');
    await shoot(page, 'login');
    await page.getByLabel('Access token').fill(OPERATOR_TOKEN);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { name: 'Cases waiting for a decision' }).waitFor();
    await expect.poll(() => page.getByTestId('live-badge').textContent()).toBe('live');
  });

  it('refuses a state change with the cookie from another origin (CSRF)', async () => {
    const cookies = await operator.cookies();
    const session = cookies.find((cookie) => cookie.name === 'immune_session');
    expect(session?.httpOnly).toBe(true);
    expect(session?.sameSite).toBe('Strict');
    const response = await fetch(`${deployment.url}/api/decisions/approve`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        cookie: `immune_session=${session!.value}`,
        origin: 'http://evil.example',
      },
      body: JSON.stringify({ all: true }),
    });
    expect(response.status).toBe(403);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe('CSRF_REFUSED');
  });

  it('shows a severe case live; Approve heals it HEALING → PROBATION → HEALTHY on screen, as alice', async () => {
    const agent = 'research-1';
    await warmUp(agent);
    await infectSeverely(agent);
    const card = page.getByTestId(`case-${agent}`);
    expect(await card.textContent()).toMatch(/severe|critical/);
    await eventually(() => expect(moves(agent)).toContain('QUARANTINED'), 15_000);
    await shoot(page, 'overview');
    await card.getByRole('button', { name: 'Approve' }).click();
    await card.waitFor({ state: 'detached', timeout: 15_000 });
    await feedUntil(agent, 'HEALTHY');
    await expect
      .poll(() => page.getByTestId(`trail-${agent}`).textContent())
      .toMatch(/QUARANTINED → HEALING → PROBATION → HEALTHY$/);
    expect(decisions(agent)).toMatchObject([{ decision: 'approved', decided_by: 'alice' }]);
  });

  it('draws the agent page chart with its baseline band and a mark for the cure', async () => {
    const agent = 'research-1';
    await page.getByRole('link', { name: agent }).first().click();
    await page.getByRole('heading', { name: agent }).waitFor();
    await page.getByLabel('Metric').selectOption('total_tokens');
    const chart = page.getByTestId('chart-total_tokens');
    await chart.locator('canvas').waitFor();
    await expect.poll(async () => Number(await chart.getAttribute('data-annotations'))).toBeGreaterThan(0);
    expect(await chart.getAttribute('data-band')).not.toBe('none');
    // The band is the sentinel's learned baseline (its triage state), not an estimate in the browser.
    expect(Number(await chart.getAttribute('data-band-samples'))).toBeGreaterThanOrEqual(20);
    expect(await chart.textContent()).toMatch(/Sentinel's learned baseline now: .*±3σ/);
    // And the band over time, from the σ history the sentinel wrote as it judged the vitals.
    expect(Number(await chart.getAttribute('data-band-steps'))).toBeGreaterThan(0);
    expect(await chart.textContent()).toMatch(
      /Band over the window from the σ history: \d+ buckets, worst \d+\.\dσ/,
    );
    expect(await chart.textContent()).toMatch(/cure \w+ \(succeeded\)/);
    await shoot(page, 'agent');
    // The incident page, one link per incident: every step from detection to the verdict.
    await page.locator('[data-testid^="incident-link-"]').first().getByRole('link').click();
    await page.getByRole('heading', { name: `Incident of ${agent}` }).waitFor();
    expect(await page.getByTestId('incident-detected').textContent()).toMatch(/(severe|critical): .*σ/);
    expect(await page.getByTestId('incident-diagnosed').textContent()).toMatch(/\w+ \(\d+ %\)/);
    expect(await page.getByTestId('incident-approval').textContent()).toContain('approved by alice');
    expect(await page.getByTestId('incident-rung-0').textContent()).toMatch(/^Rung 1: \w+.*succeeded/);
    await expect.poll(() => page.getByTestId('incident-probation').textContent()).toContain('passed');
    await expect.poll(() => page.getByTestId('incident-verdict').textContent()).toContain('resolved');
    await shoot(page, 'incident');
    await page.goBack();
    await page.getByRole('heading', { name: agent }).waitFor();
    await page.goBack();
    await page.getByRole('heading', { name: 'Cases waiting for a decision' }).waitFor();
  });

  it('rejects a case, then heals it now', async () => {
    const agent = 'data-1';
    await warmUp(agent);
    await infectSeverely(agent);
    const card = page.getByTestId(`case-${agent}`);
    await card.getByRole('button', { name: 'Reject' }).click();
    await expect.poll(() => card.getAttribute('data-status'), { timeout: 15_000 }).toBe('rejected');
    await card.getByRole('button', { name: 'Heal now' }).click();
    await card.waitFor({ state: 'detached', timeout: 15_000 });
    await eventually(() => expect(moves(agent)).toContain('PROBATION'), 15_000);
    expect(decisions(agent).map((d) => [d.decision, d.decided_by])).toEqual([
      ['rejected', 'alice'],
      ['heal_now', 'alice'],
    ]);
  });

  it('counts the probation down on the agent and incident pages from the sentinel, live', async () => {
    const agent = 'data-1';
    await page.getByRole('link', { name: agent }).first().click();
    await page.getByRole('heading', { name: agent }).waitFor();
    const countdown = page.getByTestId('probation-countdown');
    await expect.poll(() => countdown.textContent()).toMatch(/^On probation: 0 of 3 clean vitals · /);
    await deployment.bus.publishVital(vital(agent, Date.now()));
    // No event follows a clean vital: the page refetches while the probation shows.
    await expect.poll(() => countdown.textContent(), { timeout: 15_000 }).toContain('1 of 3 clean vitals');
    await page.locator('[data-testid^="incident-link-"]').first().getByRole('link').click();
    await page.getByRole('heading', { name: `Incident of ${agent}` }).waitFor();
    await expect
      .poll(() => page.getByTestId('incident-probation').textContent())
      .toMatch(/1 of 3 clean vitals · (\d+ s left|probation time served)/);
    await page.goBack();
    await page.getByRole('heading', { name: agent }).waitFor();
    await page.goBack();
    await page.getByRole('heading', { name: 'Cases waiting for a decision' }).waitFor();
  });

  it('quarantines an agent from its card and releases it from its page; feedback names the true cause', async () => {
    const agent = 'ops-1';
    await warmUp(agent);
    const card = page.getByTestId(`agent-${agent}`);
    await card.getByRole('button', { name: 'Quarantine' }).click();
    await page
      .getByRole('dialog', { name: `Quarantine ${agent}?` })
      .getByRole('button', { name: 'Quarantine' })
      .click();
    // The card learns it from the quarantine bucket's watch (the live stream), and then offers Release.
    await expect.poll(() => card.textContent(), { timeout: 15_000 }).toContain('quarantined');
    await card.getByRole('button', { name: 'Release' }).waitFor();
    await card.getByRole('link', { name: agent }).click();
    await page.getByRole('heading', { name: agent }).waitFor();
    await page.getByRole('button', { name: 'Release' }).click();
    await page
      .getByRole('dialog', { name: `Release ${agent}?` })
      .getByRole('button', { name: 'Release' })
      .click();
    await page.getByRole('button', { name: 'Quarantine' }).waitFor({ timeout: 15_000 });
    expect(await page.getByTestId(`containment-${agent}`).textContent()).toContain('released');
    await page.goBack();
    await expect.poll(() => card.textContent(), { timeout: 15_000 }).not.toContain('quarantined');

    // research-1 was healed above: label its infection's true cause on its page.
    await page.goto(`${deployment.url}/agents/research-1`);
    await page.getByLabel('The true cause was').selectOption('prompt_injection');
    await page.getByRole('button', { name: 'Send feedback' }).click();
    await expect
      .poll(() => page.getByTestId('feedback-message').textContent(), { timeout: 15_000 })
      .toMatch(/^Recorded for infection \S+: diagnosed \w+, true cause prompt_injection\.$/);
    await page.goto(deployment.url);
    await page.getByRole('heading', { name: 'Cases waiting for a decision' }).waitFor();
  });

  it('shows a viewer no decision buttons, and the API answers the viewer 403', async () => {
    const agent = 'analytics-1';
    await warmUp(agent);
    await infectSeverely(agent);
    const viewer = await browser.newContext();
    try {
      const viewerPage = await viewer.newPage();
      await viewerPage.goto(deployment.url);
      await viewerPage.getByLabel('Access token').fill(VIEWER_TOKEN);
      await viewerPage.getByRole('button', { name: 'Log in' }).click();
      const card = viewerPage.getByTestId(`case-${agent}`);
      await card.waitFor();
      expect(await card.getByRole('button').count()).toBe(0);
      expect(await viewerPage.getByRole('button', { name: /Approve/ }).count()).toBe(0);
      await viewerPage.getByTestId(`agent-${agent}`).waitFor();
      expect(await viewerPage.getByRole('button', { name: /Quarantine|Release/ }).count()).toBe(0);
      const status = await viewerPage.evaluate(async (id) => {
        const response = await fetch('/api/decisions/approve', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ agent_id: id }),
        });
        return [response.status, ((await response.json()) as { error: { code: string } }).error.code];
      }, agent);
      expect(status).toEqual([403, 'FORBIDDEN']);
    } finally {
      await viewer.close();
    }
  });

  it('filters the agent grid by severity and diagnosis in the URL; sparklines and headline trends', async () => {
    // analytics-1's case still waits (the viewer could not decide it); research-1 was healed earlier.
    const agent = 'analytics-1';
    type Card = { agent_id: string; severity: string | null; diagnosis: string | null; sigma: number[] };
    const cardOf = () =>
      page.evaluate(async (id) => {
        const response = await fetch('/api/agents?window=1h');
        return ((await response.json()) as { agents: Card[] }).agents.find((a) => a.agent_id === id);
      }, agent);
    const fleetSize = () =>
      page.evaluate(
        async () => ((await (await fetch('/api/agents')).json()) as { agents: unknown[] }).agents.length,
      );
    await eventually(async () => expect((await cardOf())?.diagnosis).toEqual(expect.any(String)), 15_000);
    const card = (await cardOf())!;
    expect(card.severity).toMatch(/^(high|critical)$/);
    expect(card.sigma).toHaveLength(24);
    expect(Math.max(...card.sigma)).toBeGreaterThan(3);

    // A shared URL sets the filters: no case of this run is low, so the agent does not show.
    await page.goto(`${deployment.url}/?severity=low`);
    await page.getByRole('combobox', { name: /^Severity/ }).waitFor();
    expect(await page.getByRole('combobox', { name: /^Severity/ }).inputValue()).toBe('low');
    await page.getByTestId('figure-infections').waitFor();
    expect(await page.getByTestId(`agent-${agent}`).count()).toBe(0);
    // Choosing the case's severity and diagnosis writes them to the URL and shows only that agent.
    await page.getByRole('combobox', { name: /^Severity/ }).selectOption(card.severity!);
    await page.getByRole('combobox', { name: /^Diagnosis/ }).selectOption(card.diagnosis!);
    const url = new URL(page.url());
    expect([url.searchParams.get('severity'), url.searchParams.get('diagnosis')]).toEqual([
      card.severity,
      card.diagnosis,
    ]);
    await page.getByTestId(`agent-${agent}`).waitFor();
    // Every card shown has that latest case (research-1's healed one may match too).
    const shown = await page
      .locator('li.agent')
      .evaluateAll((cards) => cards.map((c) => [c.dataset.severity, c.dataset.diagnosis]));
    expect(shown.length).toBeGreaterThan(0);
    expect(shown.every(([s, d]) => s === card.severity && d === card.diagnosis)).toBe(true);
    expect(await page.locator('li.agent').count()).toBeLessThan(await fleetSize());
    // Its sparkline peaks at the worst σ the sentinel judged of it (its σ history).
    const spark = page.getByTestId(`spark-${agent}`);
    expect(Number(await spark.getAttribute('data-worst'))).toBe(Math.max(...card.sigma));
    expect(await spark.textContent()).toMatch(/peak \d+\.\dσ/);
    const other = Object.keys({ prompt_drift: 1, cost_overrun: 1 }).find((d) => d !== card.diagnosis)!;
    await page.getByRole('combobox', { name: /^Diagnosis/ }).selectOption(other);
    await page.getByTestId(`agent-${agent}`).waitFor({ state: 'detached' });
    // Every infection of this run is in the last hour and none before: infections trend up.
    expect(await page.getByTestId('figure-infections').locator('.trend').getAttribute('data-trend')).toBe(
      'up',
    );
    const overview = await page.evaluate(async () => {
      const response = await fetch('/api/overview?window=1h');
      return (await response.json()) as { infections: number; previous: { infections: number } };
    });
    expect(overview.previous.infections).toBe(0);
    expect(overview.infections).toBeGreaterThan(0);
    // Agents were held (quarantined, healing) during this run: the fleet's uptime is below 1 and shown in
    // percent; the agents figure compares with the agents known when the previous window closed.
    const fleetTime = await page.evaluate(async () => {
      const response = await fetch('/api/overview?window=1h');
      return (await response.json()) as { uptime: number | null; agents: { total: number } };
    });
    expect(fleetTime.uptime).toBeGreaterThan(0);
    expect(fleetTime.uptime).toBeLessThan(1);
    expect(await page.getByTestId('figure-uptime').locator('.value').textContent()).toMatch(/^\d+%$/);
    expect(await page.getByTestId('figure-agents').locator('.trend').getAttribute('data-trend')).toMatch(
      /^(up|level)$/,
    );
    expect(await page.getByTestId('agents-by-state').textContent()).toMatch(/HEALTHY \d+/);
    await page.goto(deployment.url);
  });

  it('approves all with a preview of what will run', async () => {
    // analytics-1 still waits (the viewer could not decide it); one more case joins it. One agent at a time:
    // several agents sick at once would be a fleet-wide cause, which quarantines nobody.
    const agent = 'coordinator-1';
    await warmUp(agent);
    await infectSeverely(agent);
    await page.getByRole('button', { name: 'Approve all…' }).click();
    const dialog = page.getByRole('dialog', { name: 'Approve all' });
    await expect.poll(() => dialog.getByTestId('bulk-summary').textContent()).toMatch(/^2 cases: /);
    expect((await dialog.getByRole('listitem').allTextContents()).sort()).toEqual([
      expect.stringMatching(/^analytics-1: \w+ \((severe|critical)\)$/),
      expect.stringMatching(/^coordinator-1: \w+ \((severe|critical)\)$/),
    ]);
    await shoot(page, 'approve-all', { fullPage: false });
    await dialog.getByRole('button', { name: 'Approve 2 cases' }).click();
    await expect
      .poll(() => page.getByTestId('decision-message').textContent())
      .toContain('Approve: 2 decided');
    for (const sick of [agent, 'analytics-1'])
      await eventually(() =>
        expect(decisions(sick)).toMatchObject([{ decision: 'approved', decided_by: 'alice' }]),
      );
  });

  it('rejects all with a preview, then heals all the rejected cases only, with a result per case', async () => {
    const [first, second, waiting] = ['batch-1', 'batch-2', 'batch-3'];
    for (const agent of [first, second]) {
      await warmUp(agent);
      await infectSeverely(agent);
    }
    await page.getByRole('button', { name: 'Reject all…' }).click();
    const rejectAll = page.getByRole('dialog', { name: 'Reject all' });
    await expect.poll(() => rejectAll.getByTestId('bulk-summary').textContent()).toMatch(/^2 cases: /);
    await rejectAll.getByRole('button', { name: 'Reject 2 cases' }).click();
    await expect
      .poll(() => page.getByTestId('decision-message').textContent())
      .toContain('Reject: 2 decided');
    expect(
      (await page.getByTestId('decision-results').getByRole('listitem').allTextContents()).sort(),
    ).toEqual([`${first}: decided (rejected by alice)`, `${second}: decided (rejected by alice)`]);
    for (const agent of [first, second])
      await expect
        .poll(() => page.getByTestId(`case-${agent}`).getAttribute('data-status'), { timeout: 15_000 })
        .toBe('rejected');
    // A pending case while Heal all runs: the preview leaves it out and the healer's status filter keeps it.
    await warmUp(waiting);
    await infectSeverely(waiting);
    await page.getByRole('button', { name: 'Heal all…' }).click();
    const healAll = page.getByRole('dialog', { name: 'Heal all' });
    await expect.poll(() => healAll.getByTestId('bulk-summary').textContent()).toMatch(/^2 cases: /);
    expect(
      (await healAll.getByRole('listitem').allTextContents()).map((text) => text.split(':')[0]).sort(),
    ).toEqual([first, second]);
    await shoot(page, 'heal-all', { fullPage: false });
    await healAll.getByRole('button', { name: 'Heal 2 cases' }).click();
    await expect
      .poll(() => page.getByTestId('decision-message').textContent())
      .toContain('Heal now: 2 decided');
    for (const agent of [first, second]) {
      await page.getByTestId(`case-${agent}`).waitFor({ state: 'detached', timeout: 15_000 });
      expect(decisions(agent).map((d) => [d.decision, d.decided_by])).toEqual([
        ['rejected', 'alice'],
        ['heal_now', 'alice'],
      ]);
    }
    const left = page.getByTestId(`case-${waiting}`);
    expect(await left.getAttribute('data-status')).toBe('pending');
    expect(decisions(waiting)).toEqual([]);
    // Decide it, so the keyboard test below starts with its own case selected.
    await left.getByRole('button', { name: 'Approve' }).click();
    await left.waitFor({ state: 'detached', timeout: 15_000 });
  });

  it('approves from the keyboard (a, then Enter) after j/k selection', async () => {
    const agent = 'research-2';
    await warmUp(agent);
    await infectSeverely(agent);
    await page.locator('body').click({ position: { x: 5, y: 300 } });
    await page.keyboard.press('j');
    await page.keyboard.press('k');
    await expect.poll(() => page.getByTestId(`case-${agent}`).getAttribute('aria-current')).toBe('true');
    // The selection is in the URL, by approval id: a reload keeps it.
    const approvalId = await page.evaluate(async (id) => {
      const response = await fetch('/api/approvals?status=pending');
      const body = (await response.json()) as { approvals: Array<{ agent_id: string; approval_id: string }> };
      return body.approvals.find((a) => a.agent_id === id)?.approval_id;
    }, agent);
    expect(new URL(page.url()).searchParams.get('case')).toBe(approvalId);
    await page.reload();
    await expect.poll(() => page.getByTestId(`case-${agent}`).getAttribute('aria-current')).toBe('true');
    await page.locator('body').click({ position: { x: 5, y: 300 } });
    await page.keyboard.press('a');
    const confirm = page.getByRole('dialog', { name: `Approve the case of ${agent}?` });
    await confirm.waitFor();
    await page.keyboard.press('Enter');
    await eventually(
      () => expect(decisions(agent)).toMatchObject([{ decision: 'approved', decided_by: 'alice' }]),
      15_000,
    );
  });

  it('shows the learned patterns: diagnosis × cure from immune memory', async () => {
    // Every cure in this suite works, so each healed case taught immune memory a success.
    const table = page.getByTestId('patterns');
    await expect
      .poll(
        async () =>
          (await table.locator('td').allTextContents()).filter((text) => /^[1-9]\d* \/ /.test(text)).length,
        {
          timeout: 15_000,
        },
      )
      .toBeGreaterThan(0);
    expect(await table.locator('tbody th').count()).toBeGreaterThan(0);
  });

  it('follows the system dark mode, and the toggle overrides it', async () => {
    const background = () => page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    await page.emulateMedia({ colorScheme: 'dark' });
    expect(await background()).toBe('rgb(18, 20, 24)');
    await shoot(page, 'overview-dark');
    await page.emulateMedia({ colorScheme: 'light' });
    expect(await background()).toBe('rgb(247, 247, 248)');
    await page.getByRole('button', { name: /Theme: system/ }).click();
    expect(await background()).toBe('rgb(18, 20, 24)');
    await page.getByRole('button', { name: /Theme: dark/ }).click();
    await page.emulateMedia({ colorScheme: 'dark' });
    expect(await background()).toBe('rgb(247, 247, 248)');
    await page.getByRole('button', { name: /Theme: light/ }).click();
    await page.emulateMedia({ colorScheme: 'light' });
  });

  it('has no serious accessibility violations (axe) on the main views', async () => {
    // axe is injected as an inline script, which the app's CSP forbids: a context of its own bypasses CSP.
    const audit = await browser.newContext({ bypassCSP: true });
    try {
      const auditPage = await audit.newPage();
      const scan = async (path: string, ready: string) => {
        await auditPage.goto(`${deployment.url}${path}`);
        await auditPage.getByRole('heading', { name: ready }).first().waitFor();
        await auditPage.addScriptTag({ content: axeSource });
        const violations = await auditPage.evaluate(async () => {
          const axe = (
            window as unknown as {
              axe: {
                run: () => Promise<{ violations: Array<{ id: string; impact: string; nodes: unknown[] }> }>;
              };
            }
          ).axe;
          const result = await axe.run();
          return result.violations.map(({ id, impact, nodes }) => ({ id, impact, nodes: nodes.length }));
        });
        return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
      };
      expect(await scan('/', 'Immune dashboard')).toEqual([]);
      await auditPage.getByLabel('Access token').fill(OPERATOR_TOKEN);
      await auditPage.getByRole('button', { name: 'Log in' }).click();
      expect(await scan('/', 'Cases waiting for a decision')).toEqual([]);
      expect(await scan('/agents/research-1', 'research-1')).toEqual([]);
      const link = await auditPage
        .locator('[data-testid^="incident-link-"]')
        .first()
        .getAttribute('data-testid');
      const incident = link!.slice('incident-link-'.length);
      expect(await scan(`/incidents/${encodeURIComponent(incident)}`, 'Incident of research-1')).toEqual([]);
      await auditPage.emulateMedia({ colorScheme: 'dark' });
      expect(await scan('/', 'Cases waiting for a decision')).toEqual([]);
    } finally {
      await audit.close();
    }
  });
});
