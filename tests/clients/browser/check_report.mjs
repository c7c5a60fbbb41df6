// Report check: headless Debian chromium opens the run's report from disk (file://, no server)
// and checks what a user would see.
//
//   node check_report.mjs RUN_DIR SCREENSHOT.png
//
// Fails on: a console error or warning (a Content-Security-Policy violation is one), a page
// error, any request that is not file: or data:, an image that does not load
// (naturalWidth 0), a missing section per head (labels.json) or per variant (Keras float plus
// export/model.json's variants), or a page whose first section is not the problems box.
import {readFileSync} from 'node:fs';
import {join, resolve} from 'node:path';
import {pathToFileURL} from 'node:url';
import {chromium} from 'playwright-core';

const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'];
const [run, screenshot] = process.argv.slice(2).map((p) => resolve(p));
const readJson = (...parts) => JSON.parse(readFileSync(join(run, ...parts), 'utf8'));

function expected() {
  const heads = readJson('labels.json').heads.map((h) => h.name);
  const variants = ['keras_float', ...Object.keys(readJson('export', 'model.json').variants)];
  return {heads, variants};
}

function sameSet(a, b) {
  return a.length === b.length && [...a].sort().every((x, i) => x === [...b].sort()[i]);
}

async function inspect(page) {
  return page.evaluate(() => ({
    images: [...document.images].map((i) => ({alt: i.alt, ok: i.complete && i.naturalWidth > 0})),
    heads: [...document.querySelectorAll('section.head')].map((s) => s.dataset.head),
    variants: [...document.querySelectorAll('section.variant')].map((s) => s.dataset.variant),
    first: document.querySelector('main > section')?.id,
    tiles: document.querySelectorAll('#gallery .tile').length,
    benchmarkImages: document.querySelectorAll('#benchmark img').length,
    problems: document.querySelector('#problems')?.innerText.split('\n').slice(0, 12),
  }));
}

function verdict(want, got, logs, outside) {
  const problems = [...logs, ...outside.map((u) => `request outside the file: ${u}`)];
  const broken = got.images.filter((i) => !i.ok).map((i) => `image did not load: ${i.alt}`);
  problems.push(...broken);
  if (!got.images.length) problems.push('no images on the page');
  if (!sameSet(got.heads, want.heads)) problems.push(`head sections ${got.heads}, want ${want.heads}`);
  if (!sameSet(got.variants, want.variants)) problems.push(`variant sections ${got.variants}, want ${want.variants}`);
  if (got.first !== 'problems') problems.push(`first section is ${got.first}, not problems`);
  if (!got.tiles) problems.push('the gallery has no image');
  return problems;
}

async function main() {
  const want = expected();
  const browser = await chromium.launch({executablePath: '/usr/bin/chromium', headless: true, args: CHROMIUM_FLAGS});
  const logs = [];
  const outside = [];
  try {
    const page = await browser.newPage({viewport: {width: 1400, height: 900}});
    page.on('console', (msg) => {
      if (['error', 'warning'].includes(msg.type())) logs.push(`console ${msg.type()}: ${msg.text()}`);
    });
    page.on('pageerror', (err) => logs.push(`page error: ${err.message}`));
    page.on('request', (req) => {
      if (!/^(file|data):/.test(req.url())) outside.push(req.url());
    });
    await page.goto(pathToFileURL(join(run, 'report', 'index.html')).href, {waitUntil: 'load'});
    const got = await inspect(page);
    await page.screenshot({path: screenshot, fullPage: true});
    console.log(`report: ${got.images.length} images, head sections [${got.heads}], variant ` +
                `sections [${got.variants}], ${got.tiles} gallery tiles, ` +
                `${got.benchmarkImages} benchmark figures; screenshot ${screenshot}`);
    (got.problems || []).forEach((line) => console.log(`  page: ${line}`));
    const problems = verdict(want, got, logs, outside);
    problems.forEach((p) => console.error(`FAIL ${p}`));
    console.log(`report check: ${problems.length ? 'FAILED' : 'passed'}`);
    return problems.length ? 1 : 0;
  } finally {
    await browser.close();
  }
}

process.exitCode = await main().catch((e) => { console.error(`FAIL ${e.stack || e}`); return 1; });
