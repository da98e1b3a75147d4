// Drives Debian's headless Chromium over the DevTools protocol
// (puppeteer-core from web/node_modules; no browser download) for the
// Python browser tests: one JSON command a line on stdin, one JSON answer a
// line on stdout ({"ok": true, ...} or {"ok": false, "error": "..."}).
//
//   node tests/functional/browser_driver.mjs CHROMIUM
//
// Commands: open {url}; create_key {passphrase}; unlock {passphrase};
// register {stake}; lie {on}; click {id}; second_tab {url, passphrase};
// explore {url}, search {q}, explorer_state (the explorer's view);
// reload; state (the page's state, its tasks
// table, chosen texts and log); screenshot {path}; quit. Errors the page
// throws or logs are collected and returned by `state` (`errors`).
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..', '..');
const { default: puppeteer } = await import(path.join(root, 'web', 'node_modules', 'puppeteer-core', 'lib', 'esm',
  'puppeteer', 'puppeteer-core.js'));

const executablePath = process.argv[2] ?? '/usr/bin/chromium';
const browser = await puppeteer.launch({
  executablePath, headless: true,
  // --no-sandbox: Chromium's own sandbox needs user namespaces that a CI
  // container (running as root) does not give; the page is our own.
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run'],
});
const page = await browser.newPage();
await page.setViewport({ width: 1100, height: 1400 });
const errors = [];
page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
page.on('console', (m) => { if (m.type() === 'error') errors.push(`console: ${m.text()}`); });
page.on('requestfailed', (r) => errors.push(`request failed: ${r.url()} ${r.failure()?.errorText ?? ''}`));

const settled = () => page.waitForFunction(() => document.body && document.body.dataset.state !== 'loading',
  { timeout: 30000 });

async function type(selector, text) {
  await page.$eval(selector, (el) => { el.value = ''; });
  await page.type(selector, text);
}

// The explorer (web/pages/explorer/app.mjs) marks body[data-view] while a
// view loads and when it shows, with body[data-render-ms]: what it shows.
async function explorerView() {
  await page.waitForFunction(() => document.body.dataset.view && document.body.dataset.view !== 'loading',
    { timeout: 30000 });
  return page.evaluate(() => ({
    view: document.body.dataset.view,
    renderMs: Number(document.body.dataset.renderMs),
    chartsMs: Number(document.body.dataset.chartsMs ?? 0),
    scriptMs: Number(document.body.dataset.scriptMs ?? 0),
    fields: Object.fromEntries([...document.querySelectorAll('[data-field]')].map((e) => [e.dataset.field,
      e.textContent])),
    validators: [...document.querySelectorAll('[data-validator]')].map((e) => e.dataset.validator),
    missed: [...document.querySelectorAll('[data-missed]')].map((e) => Number(e.dataset.missed)),
    slashes: [...document.querySelectorAll('[data-slashes]')].map((e) => Number(e.dataset.slashes)),
    points: Number(document.querySelector('[data-points]')?.dataset.points ?? -1),
    rows: [...document.querySelectorAll('[data-row]')].map((e) => ({ ...e.dataset })),
    notFound: document.querySelector('[data-not-found]')?.textContent ?? '',
    text: document.getElementById('view').innerText.slice(0, 4000),
    liveHeight: Number(document.body.dataset.liveHeight ?? 0),
  }));
}

const commands = {
  // Opens URL (a hash route of the page already open is followed in place,
  // and shown afresh when it is the route already shown).
  async explore({ url }) {
    const [base] = url.split('#');
    if (page.url().split('#')[0] === base && url.includes('#')) {
      await page.evaluate((hash) => {
        document.body.dataset.view = 'loading';
        if (location.hash === hash) window.dispatchEvent(new HashChangeEvent('hashchange'));
        else location.hash = hash;
      }, url.slice(url.indexOf('#')));
    } else {
      await page.goto(url, { waitUntil: 'load' });
    }
    return explorerView();
  },
  async search({ q }) {
    await page.evaluate(() => { document.body.dataset.view = 'loading'; });
    await type('#q', q);
    await page.keyboard.press('Enter');
    return explorerView();
  },
  async explorer_state() {
    return explorerView();
  },
  async open({ url }) {
    await page.goto(url, { waitUntil: 'load' });
    await settled();
    return { state: await page.evaluate(() => document.body.dataset.state) };
  },
  async create_key({ passphrase }) {
    await type('#passphrase', passphrase);
    await type('#passphrase2', passphrase);
    await page.click('#create-key');
    await page.waitForFunction(() => document.body.dataset.state === 'unlocked' ||
      document.getElementById('error').textContent, { timeout: 60000 });
    return { address: await page.$eval('#address', (el) => el.textContent),
      error: await page.$eval('#error', (el) => el.textContent) };
  },
  async unlock({ passphrase }) {
    await type('#unlock-passphrase', passphrase);
    await page.click('#unlock');
    await page.waitForFunction(() => document.body.dataset.state === 'unlocked' ||
      document.getElementById('error').textContent, { timeout: 60000 });
    return { state: await page.evaluate(() => document.body.dataset.state),
      error: await page.$eval('#error', (el) => el.textContent) };
  },
  async register({ stake }) {
    await type('#register-stake', stake);
    await page.click('#register');
    await page.waitForFunction(() => !document.getElementById('register').disabled, { timeout: 30000 });
    return { error: await page.$eval('#error', (el) => el.textContent) };
  },
  async lie({ on }) {
    const checked = await page.$eval('#byzantine', (el) => el.checked);
    if (checked !== on) {
      await page.$eval('details:has(#byzantine)', (d) => { d.open = true; });
      await page.click('#byzantine');
    }
    return { on: await page.$eval('#byzantine', (el) => el.checked) };
  },
  // Clicks a button and waits until its action has finished (the page
  // disables a button while its action runs).
  async click({ id }) {
    await page.click(`#${id}`);
    await page.waitForFunction((i) => !document.getElementById(i).disabled, { timeout: 30000 }, id);
    return { error: await page.$eval('#error', (el) => el.textContent) };
  },
  // Opens the page in a second tab, unlocks the key there, and answers what
  // that tab does (body's data-working) before closing it.
  async second_tab({ url, passphrase }) {
    const tab = await browser.newPage();
    try {
      await tab.goto(url, { waitUntil: 'load' });
      await tab.waitForFunction(() => document.body.dataset.state === 'locked', { timeout: 30000 });
      await tab.type('#unlock-passphrase', passphrase);
      await tab.click('#unlock');
      await tab.waitForFunction(() => document.body.dataset.working, { timeout: 60000 });
      return { working: await tab.evaluate(() => document.body.dataset.working),
        current: await tab.$eval('#current', (el) => el.textContent) };
    } finally {
      await tab.close();
    }
  },
  async reload() {
    await page.reload({ waitUntil: 'load' });
    await settled();
    return { state: await page.evaluate(() => document.body.dataset.state) };
  },
  async state() {
    return page.evaluate(() => ({
      state: document.body.dataset.state,
      registered: document.body.dataset.registered ?? '',
      paused: document.body.dataset.paused ?? 'no',
      tasks: [...document.querySelectorAll('#tasks tr')].map((r) => ({ task: Number(r.dataset.task),
        phase: r.dataset.phase, outcome: r.dataset.outcome, fuel: r.dataset.fuel })),
      texts: Object.fromEntries(['address', 'balance', 'stake', 'reputation', 'record', 'worker-status', 'current',
        'chain', 'height', 'error', 'locked', 'vested'].map((id) => [id, document.getElementById(id)?.textContent ?? ''])),
      log: document.getElementById('log')?.textContent ?? '',
    })).then((s) => ({ ...s, errors }));
  },
  async screenshot({ path: file }) {
    await page.screenshot({ path: file, fullPage: true });
    return { path: file };
  },
  async quit() {
    await browser.close();
    return {};
  },
};

const lines = readline.createInterface({ input: process.stdin });
for await (const line of lines) {
  let answer;
  try {
    const cmd = JSON.parse(line);
    const f = commands[cmd.cmd];
    if (!f) throw new Error(`unknown command ${cmd.cmd}`);
    answer = { ok: true, ...(await f(cmd)) };
    if (cmd.cmd === 'quit') { process.stdout.write(`${JSON.stringify(answer)}\n`); process.exit(0); }
  } catch (e) {
    // What the page said goes with the error: it is usually why.
    answer = { ok: false, error: `${e && e.stack ? e.stack : e}\npage errors: ${JSON.stringify(errors)}` };
  }
  process.stdout.write(`${JSON.stringify(answer)}\n`);
}
await browser.close();
