// e2e.mjs: registryd's web interface in a real headless Chromium (Debian's
// /usr/bin/chromium driven by playwright-core), for t9600-ui.sh.
//
//   UI_FLOW=mouse|keyboard UI_BASE=http://127.0.0.1:PORT UI_USER=alice
//   UI_PASS=... UI_REPORT=images.json UI_OUT=dir [UI_BLOBS=n
//   UI_BLOB_BYTES=n UI_REPOS=n] node test/ui/e2e.mjs
//
// The repository team/app holds tag 1.9 (one image) and 1.10 (an index
// of two platforms), as test/integ/lib-py/ociimages.py made them (its
// report: UI_REPORT). The mouse flow logs in (a wrong password first),
// checks the status panel, finds the repository through the filter,
// checks both tags (order, sizes, platforms, dates), copies a pull
// command, opens a manifest (layers, config, referrers), deletes tag 1.9
// and checks it is gone from /v2/team/app/tags/list; then a phone
// viewport and the dark theme. The keyboard flow does the same with the
// keyboard only and checks the focus order on the way. Both fail on a
// page error, a Content-Security-Policy violation, or a request that
// would have made the browser show its own Basic login dialog (seen
// through DevTools' Fetch.authRequired), and leave screenshots in UI_OUT.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { chromium } from 'playwright-core';

import { formatSize, pullCommand } from '../../ui/lib.mjs';

const env = (k, d) => {
  const v = process.env[k];
  if (v === undefined && d === undefined) throw new Error(`${k} not set`);
  return v === undefined ? d : v;
};
const FLOW = env('UI_FLOW', 'mouse');
const BASE = env('UI_BASE');
const USER = env('UI_USER');
const PASS = env('UI_PASS');
const REPORT = JSON.parse(readFileSync(env('UI_REPORT'), 'utf8'));
const OUT = env('UI_OUT');
const HOST = new URL(BASE).host;
const REPO = 'team/app';
const TIMEOUT = 15000;

mkdirSync(OUT, { recursive: true });

function log(...a) {
  console.log(`# ${FLOW}:`, ...a);
}

const browser = await chromium.launch({
  executablePath: env('CHROMIUM', '/usr/bin/chromium'),
  headless: true,
  args: ['--no-sandbox', '--headless', '--disable-gpu',
    '--disable-background-networking', '--disable-component-update',
    '--no-first-run', '--disable-sync',
    '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1'],
});

const problems = [];
const authPrompts = [];

// A page that records what must not happen.
async function openPage(opts = {}) {
  const ctx = await browser.newContext({
    viewport: opts.viewport || { width: 1100, height: 720 },
    colorScheme: opts.colorScheme || 'light',
    reducedMotion: 'reduce',
  });
  await ctx.grantPermissions(['clipboard-read', 'clipboard-write'],
    { origin: BASE });
  const page = await ctx.newPage();
  page.setDefaultTimeout(TIMEOUT);
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    const t = m.text();
    if (/Content.Security.Policy|Refused to/i.test(t)) {
      problems.push(`CSP: ${t}`);
    } else if (m.type() === 'error' &&
        !/Failed to load resource: the server responded with a status of (401|404)/.test(t)) {
      problems.push(`console error: ${t}`);
    }
  });
  page.on('requestfailed', (r) => {
    // Anything but our origin would be a request off the machine.
    if (!r.url().startsWith(BASE)) problems.push(`request to ${r.url()}`);
  });
  page.on('request', (r) => {
    if (!r.url().startsWith(BASE) && !r.url().startsWith('data:')) {
      problems.push(`request off the origin: ${r.url()}`);
    }
  });
  // Fetch.authRequired is the browser's decision to ask for credentials
  // (its Basic dialog): record it and cancel.
  const cdp = await ctx.newCDPSession(page);
  cdp.on('Fetch.authRequired', (e) => {
    authPrompts.push(e.request.url);
    cdp.send('Fetch.continueWithAuth', { requestId: e.requestId,
      authChallengeResponse: { response: 'CancelAuth' } }).catch(() => {});
  });
  cdp.on('Fetch.requestPaused', (e) => {
    cdp.send('Fetch.continueRequest', { requestId: e.requestId })
      .catch(() => {});
  });
  await cdp.send('Fetch.enable', { handleAuthRequests: true,
    patterns: [{ urlPattern: '*' }] });
  return { ctx, page };
}

async function shot(page, name, full = true) {
  await page.screenshot({ path: join(OUT, `${FLOW}-${name}.png`),
    fullPage: full });
}

// What every view must have: labelled inputs, named buttons and links,
// images with alt, one h1, no sideways scrolling.
async function checkA11y(page, where) {
  const bad = await page.evaluate(() => {
    const out = [];
    const name = (el) => (el.getAttribute('aria-label') ||
      el.textContent || el.getAttribute('title') || '').trim();
    for (const el of document.querySelectorAll('input, select, textarea')) {
      if (el.type === 'hidden' || el.classList.contains('offscreen')) continue;
      if (!el.labels || el.labels.length === 0) out.push(`input #${el.id} without label`);
    }
    for (const el of document.querySelectorAll('button, a[href]')) {
      if (!el.hidden && el.offsetParent !== null && !name(el)) {
        out.push(`${el.tagName} without a name: ${el.outerHTML.slice(0, 80)}`);
      }
    }
    for (const el of document.querySelectorAll('img')) {
      if (!el.hasAttribute('alt')) out.push('img without alt');
    }
    if (document.querySelectorAll('main h1').length !== 1) out.push('not one h1');
    if (document.documentElement.scrollWidth > window.innerWidth + 1) {
      out.push(`scrolls sideways: ${document.documentElement.scrollWidth} > ${window.innerWidth}`);
    }
    return out;
  });
  assert.deepEqual(bad, [], `accessibility in ${where}`);
}

async function tagsOnServer() {
  const auth = `Basic ${Buffer.from(`${USER}:${PASS}`).toString('base64')}`;
  const res = await fetch(`${BASE}/v2/${REPO}/tags/list`,
    { headers: { Authorization: auth } });
  assert.equal(res.status, 200);
  return (await res.json()).tags;
}

// The tag table as shown: per tag, rows of platform, digest, size,
// created.
async function tagTable(page) {
  await page.waitForFunction(() => {
    const t = document.getElementById('tags');
    return t && !t.textContent.includes('Loading');
  });
  return page.evaluate(() => [...document.querySelectorAll('#tags tbody')]
    .map((b) => ({
      tag: b.dataset.tag,
      rows: [...b.rows].map((r) => ({
        platform: r.querySelector('.platform')?.textContent,
        digest: r.querySelector('td a.digest')?.getAttribute('title'),
        bytes: Number(r.querySelector('.size')?.dataset.bytes),
        size: r.querySelector('.size')?.textContent,
        created: r.querySelector('time')?.getAttribute('datetime'),
      })),
    })));
}

function checkTags(table, tags) {
  assert.deepEqual(table.map((t) => t.tag), tags,
    'tags in natural order (1.10 after 1.9)');
  for (const t of table) {
    const want = REPORT[t.tag].images;
    assert.equal(t.rows.length, want.length,
      `${t.tag}: one row per platform, attestation left out`);
    for (const [i, w] of want.entries()) {
      const r = t.rows[i];
      assert.equal(r.platform, w.platform, `${t.tag} platform`);
      assert.equal(r.digest, w.digest, `${t.tag} digest`);
      assert.equal(r.bytes, w.size, `${t.tag} ${w.platform} size in bytes`);
      assert.equal(r.size, formatSize(w.size), `${t.tag} size shown`);
      assert.equal(r.created, w.created, `${t.tag} created`);
    }
  }
}

function checkStatus(s) {
  if (process.env.UI_REPOS) assert.equal(s.repos, process.env.UI_REPOS);
  if (process.env.UI_BLOBS) assert.equal(s.blobs, process.env.UI_BLOBS);
  if (process.env.UI_BLOB_BYTES) {
    assert.equal(s.bytes, formatSize(Number(process.env.UI_BLOB_BYTES)));
  }
  assert.match(s.version, /^registryd \d+\.\d+/);
  assert.match(s.uptime, /^\d+ (s|min|h|d)/);
}

async function statusPanel(page) {
  await page.waitForSelector('#st-version');
  return page.evaluate(() => ({
    version: document.getElementById('st-version').textContent,
    uptime: document.getElementById('st-uptime').textContent,
    repos: document.getElementById('st-repos').textContent,
    blobs: document.getElementById('st-blobs').textContent,
    bytes: document.getElementById('st-bytes').textContent,
  }));
}

async function visibleRepos(page) {
  return page.evaluate(() => [...document.querySelectorAll('#repos section')]
    .map((s) => ({ ns: s.querySelector('h2').textContent,
      repos: [...s.querySelectorAll('li a')].map((a) => a.textContent) })));
}

// ---------------------------------------------------------------- mouse

async function mouse() {
  const { page } = await openPage();
  await page.goto(`${BASE}/`);
  assert.equal(new URL(page.url()).pathname, '/ui/', '/ redirects to /ui/');
  await page.waitForSelector('h1:text("Log in")');
  await checkA11y(page, 'login');
  await shot(page, 'login', false);

  await page.getByLabel('User name').fill(USER);
  await page.getByLabel('Password').fill(`wrong-${PASS}`);
  await page.getByRole('button', { name: 'Log in', exact: true }).click();
  await page.waitForSelector('#login-error:text("Wrong user name or password.")');
  assert.deepEqual(authPrompts, [], 'a wrong password shows no browser dialog');
  await page.getByLabel('Password').fill(PASS);
  await page.getByRole('button', { name: 'Log in', exact: true }).click();
  await page.waitForSelector('h1:text("Repositories")');
  await page.waitForSelector(`#who:text("Logged in as ${USER}")`);
  const creds = await page.evaluate(() => Object.keys(sessionStorage));
  assert.ok(creds.includes('registryd.auth'), 'credentials in sessionStorage');
  assert.equal(await page.evaluate(() => localStorage.length), 0,
    'nothing in localStorage');
  checkStatus(await statusPanel(page));
  await checkA11y(page, 'home');

  const all = await visibleRepos(page);
  log('repositories', JSON.stringify(all));
  assert.ok(all.some((g) => g.ns === 'team/' && g.repos.includes(REPO)),
    'grouped by namespace');
  await page.getByLabel('Filter repositories').fill('app');
  await page.waitForFunction(() =>
    /match/.test(document.getElementById('list-info').textContent));
  const filtered = await visibleRepos(page);
  assert.deepEqual(filtered, [{ ns: 'team/', repos: [REPO] }],
    'the filter finds team/app only');
  await page.waitForSelector(`.count[data-name="${REPO}"]:text("2 tags")`);
  await shot(page, 'home');

  await page.getByRole('link', { name: REPO, exact: true }).click();
  await page.waitForSelector(`h1:text("${REPO}")`);
  const table = await tagTable(page);
  log('tags', JSON.stringify(table));
  checkTags(table, ['1.9', '1.10']);
  await checkA11y(page, 'repository');
  await page.setViewportSize({ width: 1000, height: 560 });
  await shot(page, 'repository', false);
  await page.setViewportSize({ width: 1100, height: 720 });

  await page.getByRole('button', { name: 'Copy pull command for 1.10' })
    .click();
  await page.waitForSelector('#live:text("Copied")');
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()),
    pullCommand(HOST, REPO, '1.10'), 'the pull command, from location.host');

  // The manifest of 1.9: layers, config, referrers.
  await page.locator('tbody[data-tag="1.9"] a.digest').first().click();
  await page.waitForSelector('#layers');
  await page.waitForSelector('#referrers, #sec-referrers + p + div p');
  const m = await page.evaluate(() => ({
    digest: document.getElementById('m-digest').textContent,
    layers: document.querySelectorAll('#layers tbody tr').length,
    bytes: Number(document.getElementById('m-size').dataset.bytes),
    env: [...document.querySelectorAll('#env li')].map((e) => e.textContent),
    history: document.querySelectorAll('#history li').length,
    labels: document.getElementById('labels')?.textContent || '',
    config: document.getElementById('config').textContent,
    referrers: [...document.querySelectorAll('#referrers tbody tr')]
      .map((r) => r.cells[0].textContent),
  }));
  log('manifest', JSON.stringify(m));
  const img = REPORT['1.9'].images[0];
  assert.equal(m.digest, img.digest);
  assert.equal(m.layers, 2);
  assert.equal(m.bytes, img.size);
  assert.ok(m.env.includes('APP_MODE=production'), 'config env');
  assert.equal(m.history, 2, 'config history');
  assert.match(m.config, /\["\/bin\/app"\]/, 'entrypoint');
  assert.match(m.labels, /single platform/, 'labels');
  assert.deepEqual(m.referrers, ['application/spdx+json'], 'referrers');
  await checkA11y(page, 'manifest');
  await shot(page, 'manifest');

  // Delete tag 1.9, from the repository view.
  await page.goBack();
  await page.waitForSelector(`h1:text("${REPO}")`);
  await tagTable(page);
  await page.getByRole('button', { name: 'Delete tag 1.9' }).click();
  const dialog = page.locator('dialog#confirm');
  await dialog.waitFor({ state: 'visible' });
  assert.match(await dialog.textContent(), /tag 1\.9 is removed from team\/app/);
  await shot(page, 'confirm', false);
  await dialog.getByRole('button', { name: 'Delete tag' }).click();
  await page.waitForSelector('tbody[data-tag="1.9"]', { state: 'detached' });
  await page.waitForSelector('#live:text("Deleted tag 1.9")');
  assert.deepEqual(await tagsOnServer(), ['1.10'], 'gone from tags/list');

  // A phone, and the dark theme.
  const phone = await openPage({ viewport: { width: 390, height: 844 },
    colorScheme: 'dark' });
  await phone.page.goto(`${BASE}/ui/`);
  await phone.page.getByLabel('User name').fill(USER);
  await phone.page.getByLabel('Password').fill(PASS);
  await phone.page.getByLabel('Password').press('Enter');
  await phone.page.waitForSelector('h1:text("Repositories")');
  await phone.page.goto(`${BASE}/ui/#/repo/${REPO}`);
  await phone.page.waitForSelector(`h1:text("${REPO}")`);
  await tagTable(phone.page);
  const bg = await phone.page.evaluate(() =>
    getComputedStyle(document.body).backgroundColor);
  assert.equal(bg, 'rgb(15, 20, 25)', 'dark theme from prefers-color-scheme');
  await checkA11y(phone.page, 'repository on a phone');
  await shot(phone.page, 'phone-dark');

  // The control: a fetch that includes credentials would have made the
  // browser ask; the page's fetches never do.
  assert.deepEqual(authPrompts, [], 'no browser login dialog');
  const st = await phone.page.evaluate(async () =>
    (await fetch('/v2/_catalog', { credentials: 'same-origin' })).status);
  assert.equal(st, 401);
  assert.equal(authPrompts.length, 1, 'the detection of a dialog works');
  authPrompts.length = 0;
}

// ------------------------------------------------------------- keyboard

async function focused(page) {
  return page.evaluate(() => {
    const el = document.activeElement;
    return el ? (el.id || el.getAttribute('aria-label') ||
      el.textContent.trim().slice(0, 40) || el.tagName) : '';
  });
}

// Tab (or Shift+Tab) until the focus is on want, at most n presses.
// Returns the names of what got focus on the way.
async function tabTo(page, want, n = 25, key = 'Tab') {
  const seen = [];
  for (let i = 0; i < n; i++) {
    await page.keyboard.press(key);
    const f = await focused(page);
    seen.push(f);
    if (typeof want === 'string' ? f === want : want.test(f)) return seen;
  }
  throw new Error(`no focus on ${want} after ${n} presses: ${seen.join(' | ')}`);
}

async function keyboard() {
  const { page } = await openPage();
  await page.goto(`${BASE}/ui/`);
  await page.waitForSelector('h1:text("Log in")');
  const order = await tabTo(page, 'login-user');
  log('focus order', order.join(' | '));
  assert.equal(order[0], 'skip', 'the skip link comes first');
  await page.keyboard.type(USER);
  await page.keyboard.press('Tab');
  assert.equal(await focused(page), 'login-password');
  await page.keyboard.type(PASS);
  await page.keyboard.press('Enter');
  await page.waitForSelector('h1:text("Repositories")');
  await page.waitForFunction(() =>
    document.activeElement && document.activeElement.tagName === 'H1');

  await tabTo(page, 'filter');
  await page.keyboard.type('app');
  await page.waitForFunction(() =>
    /match/.test(document.getElementById('list-info').textContent));
  await tabTo(page, REPO);
  await page.keyboard.press('Enter');
  await page.waitForSelector(`h1:text("${REPO}")`);
  await page.waitForFunction(() =>
    document.activeElement && document.activeElement.tagName === 'H1',
  null, { timeout: TIMEOUT });
  checkTags(await tagTable(page), ['1.9', '1.10']);

  // Copy, then the manifest of 1.9 and back.
  await tabTo(page, 'Copy pull command for 1.9');
  await page.keyboard.press('Enter');
  await page.waitForSelector('#live:text("Copied")');
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()),
    pullCommand(HOST, REPO, '1.9'));
  await tabTo(page, /^sha256:/);
  await page.keyboard.press('Enter');
  await page.waitForSelector('#layers');
  await page.waitForFunction(() => document.activeElement?.tagName === 'H1');
  // Back through the breadcrumb, just before the heading.
  await tabTo(page, REPO, 3, 'Shift+Tab');
  await page.keyboard.press('Enter');
  await page.waitForSelector(`h1:text("${REPO}")`);
  await tagTable(page);

  // Escape keeps the tag; Enter on "Delete tag" deletes it.
  await tabTo(page, 'Delete tag 1.9');
  await page.keyboard.press('Enter');
  await page.locator('dialog#confirm').waitFor({ state: 'visible' });
  assert.equal(await focused(page), 'confirm-cancel', 'focus on Cancel');
  await page.keyboard.press('Escape');
  await page.locator('dialog#confirm').waitFor({ state: 'hidden' });
  assert.equal(await focused(page), 'Delete tag 1.9', 'focus back on Delete');
  assert.deepEqual(await tagsOnServer(), ['1.10', '1.9'], 'Escape deletes nothing');
  await page.keyboard.press('Enter');
  await page.locator('dialog#confirm').waitFor({ state: 'visible' });
  await page.keyboard.press('Tab');
  assert.equal(await focused(page), 'confirm-ok');
  await shot(page, 'confirm', false);
  await page.keyboard.press('Enter');
  await page.waitForSelector('tbody[data-tag="1.9"]', { state: 'detached' });
  const after = await focused(page);
  assert.ok(after === 'Copy pull command for 1.10' || /^sha256:/.test(after),
    `focus moves on to the next tag, not lost: ${after}`);
  assert.deepEqual(await tagsOnServer(), ['1.10'], 'gone from tags/list');
  await shot(page, 'after-delete');
  assert.deepEqual(authPrompts, [], 'no browser login dialog');
}

try {
  if (FLOW === 'mouse') await mouse();
  else if (FLOW === 'keyboard') await keyboard();
  else throw new Error(`unknown UI_FLOW ${FLOW}`);
  assert.deepEqual(problems, [], 'no page errors, CSP violations or foreign requests');
  log('ok');
} finally {
  await browser.close();
}
