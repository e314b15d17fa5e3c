// The web app's benchmark (run by bench/web_bench.py against a real stack): Lighthouse on the
// sign-in page and the signed-in task list, the sign-in route's initial JavaScript, time to the
// first task rows, frame times while scrolling the list, and how long an edit made through the
// API takes to show on an open page (the live event stream). Prints one JSON object.
import { chromium } from '@playwright/test';
import { existsSync, mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const BASE = process.env.BASE_URL;
const EMAIL = process.env.BENCH_EMAIL;
const PASSWORD = process.env.BENCH_PASSWORD;
const LIGHTHOUSE = process.env.LIGHTHOUSE_MODULE; // path to lighthouse's core/index.js, or unset
const DIST = process.env.DIST_DIR ?? 'dist';
const PORT = 9300 + Math.floor(Math.random() * 500);
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
  '--no-first-run',
];

const percentile = (values, p) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
};

async function signIn(page) {
  await page.goto(`${BASE}/signin`);
  await page.getByRole('textbox', { name: 'Email' }).fill(EMAIL);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('list', { name: 'Tasks' }).getByRole('listitem').first().waitFor();
}

/** JavaScript the sign-in route loads before it is usable, by the build's .gz sizes. */
async function initialJs(context) {
  const page = await context.newPage();
  const scripts = new Set();
  page.on(
    'request',
    (r) => r.resourceType() === 'script' && scripts.add(new URL(r.url()).pathname),
  );
  await page.goto(`${BASE}/signin`, { waitUntil: 'networkidle' });
  await page.close();
  const chunks = {};
  for (const path of scripts) {
    const file = join(DIST, `${path}.gz`);
    if (existsSync(file)) chunks[path] = +(statSync(file).size / 1024).toFixed(2);
  }
  const total = Object.values(chunks).reduce((a, b) => a + b, 0);
  return { total: +total.toFixed(2), chunks };
}

async function firstRowsMs(context) {
  const samples = [];
  for (let i = 0; i < 5; i += 1) {
    const page = await context.newPage();
    await page.goto(`${BASE}/`);
    await page.getByRole('list', { name: 'Tasks' }).getByRole('listitem').first().waitFor();
    samples.push(await page.evaluate(() => performance.now()));
    await page.close();
  }
  return percentile(samples, 50);
}

/** Frame-to-frame times (requestAnimationFrame) while the list scrolls 40 px per frame. */
async function scrollFrames(context) {
  const page = await context.newPage();
  await page.goto(`${BASE}/`);
  await page.getByRole('list', { name: 'Tasks' }).getByRole('listitem').first().waitFor();
  const deltas = await page.evaluate(
    () =>
      new Promise((resolve) => {
        const el = document.querySelector('.task-scroller');
        const times = [];
        const step = (now) => {
          times.push(now);
          el.scrollBy(0, 40);
          if (times.length < 600) requestAnimationFrame(step);
          else resolve(times.slice(1).map((t, i) => t - times[i]));
        };
        requestAnimationFrame(step);
      }),
  );
  await page.close();
  return {
    p95: +percentile(deltas.slice(10), 95).toFixed(2),
    p50: +percentile(deltas.slice(10), 50).toFixed(2),
  };
}

/** From each PATCH's answer (20 in a row, through the API) to its title on the open page. */
async function liveUpdates(context) {
  const login = await fetch(`${BASE}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ email: EMAIL, password: PASSWORD }),
  });
  const { access_token: token } = await login.json();
  const auth = { Authorization: `Bearer ${token}` };
  const page = await context.newPage();
  const opened = page.waitForResponse((r) => r.url().endsWith('/api/v1/events/stream'));
  await page.goto(`${BASE}/`);
  await page.getByRole('list', { name: 'Tasks' }).getByRole('listitem').first().waitFor();
  await opened;
  const first = await (await fetch(`${BASE}/api/v1/tasks?limit=1`, { headers: auth })).json();
  const id = first.items[0].id;
  const samples = [];
  for (let n = 0; n < 20; n += 1) {
    const title = `Live bench ${n} ${Date.now()}`;
    const seen = page.evaluate(
      (wanted) =>
        new Promise((resolve) => {
          const observer = new MutationObserver(() => {
            if (document.body.textContent.includes(wanted)) {
              observer.disconnect();
              resolve(Date.now());
            }
          });
          observer.observe(document.body, { subtree: true, childList: true, characterData: true });
        }),
      title,
    );
    await page.waitForTimeout(50); // the observer is in place
    const patched = await fetch(`${BASE}/api/v1/tasks/${id}`, {
      method: 'PATCH',
      headers: { ...auth, 'Content-Type': 'application/merge-patch+json' },
      body: JSON.stringify({ title }),
    });
    if (!patched.ok) {
      seen.catch(() => undefined);
      throw new Error(`PATCH ${patched.status}: ${await patched.text()}`);
    }
    const answered = Date.now();
    samples.push(Math.max(0, (await seen) - answered));
  }
  await page.close();
  return { p50: percentile(samples, 50), p99: percentile(samples, 99) };
}

async function lighthouseScores(url) {
  const { default: lighthouse } = await import(pathToFileURL(LIGHTHOUSE).href);
  const result = await lighthouse(url, {
    port: PORT,
    output: 'json',
    logLevel: 'error',
    disableStorageReset: true,
    onlyCategories: ['performance', 'accessibility', 'best-practices'],
  });
  const c = result.lhr.categories;
  return {
    performance: Math.round(c.performance.score * 100),
    accessibility: Math.round(c.accessibility.score * 100),
    best_practices: Math.round(c['best-practices'].score * 100),
  };
}

const profile = mkdtempSync(join(tmpdir(), 'taskstream-bench-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: [...FLAGS, `--remote-debugging-port=${PORT}`],
  viewport: { width: 1280, height: 800 },
});
const out = {};
try {
  const js = await initialJs(context);
  out.web_initial_js_gzip_kb = js.total;
  out.web_initial_js_chunks_gzip_kb = js.chunks;
  if (LIGHTHOUSE) {
    const signin = await lighthouseScores(`${BASE}/signin`);
    for (const [k, v] of Object.entries(signin)) out[`web_lighthouse_${k}_signin`] = v;
  }
  const page = await context.newPage();
  await signIn(page);
  await page.close();
  out.web_first_rows_ms = +(await firstRowsMs(context)).toFixed(1);
  const frames = await scrollFrames(context);
  out.web_scroll_frame_p95_ms = frames.p95;
  out.web_scroll_frame_p50_ms = frames.p50;
  const live = await liveUpdates(context);
  out.web_live_update_p50_ms = live.p50;
  out.web_live_update_p99_ms = live.p99;
  if (LIGHTHOUSE) {
    const list = await lighthouseScores(`${BASE}/`);
    for (const [k, v] of Object.entries(list)) out[`web_lighthouse_${k}`] = v;
  }
} finally {
  await context.close();
}
console.log(JSON.stringify(out));
