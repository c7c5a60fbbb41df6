// The phone page (`pipeline web` + `pipeline serve`) in headless Debian chromium, as a phone:
// a 360 x 740 portrait viewport with touch, a fake rear camera playing a .y4m of test photos.
//
//   node check_web.mjs RUN PREDICT_JSONL Y4M OUT_DIR PHOTO...
//
// 1. camera: a tap on "Camera"; every head answered from camera frames within 30 s;
// 2. photos: every PHOTO through the page's photo input; the page's answer per head (class,
//    or null = "not sure"; a multilabel head's classes; a regression head's number) equals
//    `pipeline predict`'s (PREDICT_JSONL) on >= 95% of them;
//    the rest are listed with both answers and scores;
// 3. /?benchmark=1 posts a result that the server records in RUN/devices/ and that
//    `pipeline report` shows in its "Measured on devices" table.
// Throughout: no console error, no request to any host but 127.0.0.1. Screenshots in OUT_DIR.
import {spawn, execFileSync} from 'node:child_process';
import {existsSync, readFileSync} from 'node:fs';
import {basename, join, resolve} from 'node:path';
import {chromium} from 'playwright-core';
import {CHROMIUM_FLAGS} from './harness.mjs';

const [run, predictFile, y4m, outDir, ...photos] = process.argv.slice(2).map((p) => resolve(p));
const PIPELINE = resolve(process.env.PIPELINE || '../../.venv/bin/pipeline');
const PHONE = {viewport: {width: 360, height: 740}, deviceScaleFactor: 3, isMobile: true, hasTouch: true,
               userAgent: 'Mozilla/5.0 (Linux; Android 14; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) ' +
                          'Chrome/120.0.0.0 Mobile Safari/537.36'};
const problems = [];

/** `pipeline serve` on a free port; resolves to {origin, stop, output}. */
export function startServer(runDir, extra = []) {
  const child = spawn(PIPELINE, ['serve', '--run', runDir, '--port', '0', ...extra], {stdio: ['ignore', 'pipe', 'pipe']});
  let output = '';
  return new Promise((done, fail) => {
    const seen = (data) => {
      output += data;
      const m = output.match(/serving (https?:\/\/127\.0\.0\.1:\d+)\//);
      if (m) done({origin: m[1], output: () => output, stop: () => child.kill('SIGINT')});
    };
    child.stdout.on('data', seen);
    child.stderr.on('data', seen);
    child.on('exit', (code) => fail(new Error(`pipeline serve exited (${code}): ${output}`)));
  });
}

export async function phone(extraArgs = []) {
  const browser = await chromium.launch({executablePath: '/usr/bin/chromium', headless: true,
                                         args: [...CHROMIUM_FLAGS, ...extraArgs]});
  const context = await browser.newContext(PHONE);
  const page = await context.newPage();
  const logs = [];
  const outside = [];
  page.setDefaultTimeout(120_000);
  await page.route('**/*', (route) => {
    const url = new URL(route.request().url());
    if (url.hostname === '127.0.0.1') return route.continue();
    outside.push(url.href);
    return route.abort();
  });
  page.on('console', (msg) => logs.push({type: msg.type(), text: msg.text()}));
  page.on('pageerror', (err) => logs.push({type: 'error', text: `pageerror: ${err.message}`}));
  return {browser, context, page, logs, outside};
}

const result = (page) => page.evaluate(() => JSON.parse(document.body.dataset.result || 'null'));

async function camera(origin, heads) {
  const p = await phone(['--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',
                         `--use-file-for-fake-video-capture=${y4m}`]);
  try {
    await p.context.grantPermissions(['camera'], {origin});
    await p.page.goto(`${origin}/`);
    await p.page.waitForFunction(() => document.body.dataset.ready === '1' || document.body.dataset.error);
    const start = Date.now();
    await p.page.locator('#camera').tap();
    await p.page.waitForFunction((want) => {
      const r = JSON.parse(document.body.dataset.result || 'null');
      return document.body.dataset.error || (r && r.source === 'camera' && want.every((h) => h in r.heads));
    }, heads, {timeout: 30_000});
    const got = await result(p.page);
    console.log(`camera: every head answered ${Date.now() - start} ms after the tap; last frame to answer ` +
                `${got.ms} ms: ${JSON.stringify(got.heads)}`);
    await p.page.waitForTimeout(1000);
    await p.page.screenshot({path: join(outDir, 'web-camera.png')});
    return p;
  } finally {
    await p.browser.close();
  }
}

/** predict's answer per head: the label, or null for "not sure" (however predict says it). */
function predictAnswer(pred) {
  const unsure = pred.label === null || pred.label === 'not sure' || pred.sure === false || pred.answered === false;
  return unsure ? null : pred.label;
}

/** The page's answer of one head equals predict's, by the head's kind: the same classes
 *  present (multilabel), the same number within 1e-4 of its size (regression: the same file
 *  on the same pixels), else the same class or not sure. */
function sameAnswer(got, pred) {
  if (!got) return false;
  if ('value' in pred) return got.value !== null && Math.abs(got.value - pred.value) <= 1e-4 * Math.max(1, Math.abs(pred.value));
  if ('labels' in pred) return JSON.stringify([...got.labels].sort()) === JSON.stringify([...pred.labels].sort());
  return got.class === predictAnswer(pred);
}

function predictShown(x) {
  if ('value' in x) return x.value;
  if ('labels' in x) return [x.labels, x.probabilities];
  return [predictAnswer(x), x.probabilities];
}

async function photoPath(origin) {
  const want = Object.fromEntries(readFileSync(predictFile, 'utf8').split('\n').filter((l) => l.trim())
      .map(JSON.parse).map((r) => [basename(r.file), r.predictions]));
  const p = await phone();
  try {
    await p.page.goto(`${origin}/`);
    await p.page.waitForFunction(() => document.body.dataset.ready === '1' || document.body.dataset.error);
    let same = 0;
    const differ = [];
    for (const photo of photos) {
      const before = (await result(p.page))?.seq ?? 0;
      await p.page.setInputFiles('#photo', photo);
      await p.page.waitForFunction((n) => document.body.dataset.error ||
          JSON.parse(document.body.dataset.result || '{"seq":0}').seq > n, before);
      const got = await result(p.page);
      const pred = want[basename(photo)];
      const ok = got && Object.keys(pred).every((h) => sameAnswer(got.heads[h], pred[h]));
      if (ok) same++;
      else differ.push(`${basename(photo)}: page ${JSON.stringify(got && got.heads)}; predict ` +
                       JSON.stringify(Object.fromEntries(Object.entries(pred).map(([h, x]) => [h, predictShown(x)]))));
    }
    await p.page.screenshot({path: join(outDir, 'web-photo.png')});
    const share = same / photos.length;
    console.log(`photos: the page's answer equals pipeline predict's on every head for ` +
                `${same}/${photos.length} (${(100 * share).toFixed(1)}%; required 95%)`);
    differ.forEach((line) => console.log(`  differs (the browser's resize is not Pillow's): ${line}`));
    if (!(share >= 0.95)) problems.push(`photos: only ${same}/${photos.length} agree with pipeline predict`);
    return p;
  } finally {
    await p.browser.close();
  }
}

async function benchmark(origin) {
  const p = await phone();
  try {
    await p.page.goto(`${origin}/?benchmark=1&runs=20&warmup=5&note=make%20test-clients`);
    await p.page.waitForFunction(() => document.body.dataset.benchmark || document.body.dataset.error);
    const bench = await p.page.evaluate(() => JSON.parse(document.body.dataset.benchmark || 'null'));
    await p.page.screenshot({path: join(outDir, 'web-benchmark.png'), fullPage: true});
    if (!bench || !bench.posted.ok) {
      problems.push(`benchmark: not recorded: ${JSON.stringify(bench && bench.posted)}`);
      return p;
    }
    const saved = join(run, bench.posted.answer.saved);
    if (!existsSync(saved)) problems.push(`benchmark: the server said ${saved} but it is not there`);
    for (const [key, v] of Object.entries(bench.result.variants)) {
      console.log(`benchmark: ${key} p50 ${v.p50_ms} ms, p90 ${v.p90_ms} ms (${v.runs} runs), recorded as ${bench.posted.answer.saved}`);
    }
    execFileSync(PIPELINE, ['report', '--run', run], {stdio: 'inherit'});
    const html = readFileSync(join(run, 'report', 'index.html'), 'utf8');
    const row = basename(saved);
    if (!html.includes('Measured on devices') || !html.includes(row)) {
      problems.push(`report: no "Measured on devices" row for ${row}`);
    } else {
      console.log(`report: "Measured on devices" lists ${row}`);
    }
    return p;
  } finally {
    await p.browser.close();
  }
}

function pageProblems(name, p) {
  if (!p) return;
  p.outside.forEach((url) => problems.push(`${name}: request outside 127.0.0.1: ${url}`));
  // MediaPipe's wasm writes its own info lines (glog: "INFO: ...", "I0000 ...") to stderr,
  // which arrives as console.error: those are not errors.
  const info = /^(INFO: |[IW]\d{4} )/;
  p.logs.filter((l) => l.type === 'error' && !info.test(l.text)).forEach((l) => problems.push(`${name}: console error: ${l.text}`));
}

async function main() {
  const heads = Object.keys(JSON.parse(readFileSync(predictFile, 'utf8').split('\n')[0]).predictions);
  const server = await startServer(run);
  try {
    for (const [name, step] of [['camera', () => camera(server.origin, heads)],
                                ['photos', () => photoPath(server.origin)],
                                ['benchmark', () => benchmark(server.origin)]]) {
      try {
        pageProblems(name, await step());
      } catch (e) {
        problems.push(`${name}: ${e.message.split('\n')[0]}`);
      }
    }
  } finally {
    server.stop();
  }
  problems.forEach((line) => console.error(`FAIL ${line}`));
  console.log(`web: ${problems.length} problem(s)`);
  return problems.length ? 1 : 0;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  process.exitCode = await main().catch((e) => { console.error(`FAIL ${e.stack || e}`); return 1; });
}
