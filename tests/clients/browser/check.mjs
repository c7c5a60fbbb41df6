// Browser check: LiteRT.js in headless Debian chromium must give the same named outputs as
// Python LiteRT on the same input tensors.
//
//   node check.mjs FIXTURES_DIR SCREENSHOT.png
//
// Serves this folder, the @litertjs packages and the fixtures on 127.0.0.1, aborts and fails
// on any request to another host, and exits non-zero on any error or out-of-tolerance value.
import {createServer} from 'node:http';
import {createReadStream, statSync} from 'node:fs';
import {dirname, extname, join, resolve, sep} from 'node:path';
import {fileURLToPath} from 'node:url';
import {chromium} from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const modules = resolve(here, '..', 'node_modules', '@litertjs');
const [fixtures, screenshot] = process.argv.slice(2).map((p) => resolve(p));
const MOUNTS = [['/litert/core/', join(modules, 'core')], ['/litert/wasm-utils/', join(modules, 'wasm-utils')],
                ['/fixtures/', fixtures], ['/', here]];
const TYPES = {'.html': 'text/html', '.js': 'text/javascript', '.json': 'application/json',
               '.wasm': 'application/wasm', '.png': 'image/png'};
const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'];

function fileFor(urlPath) {
  const [prefix, root] = MOUNTS.find(([p]) => urlPath.startsWith(p));
  const file = resolve(root, '.' + sep + decodeURIComponent(urlPath.slice(prefix.length) || 'index.html'));
  return file.startsWith(root + sep) ? file : null; // no climbing out with ../
}

function serve() {
  const server = createServer((req, res) => {
    const file = fileFor(new URL(req.url, 'http://127.0.0.1').pathname);
    let ok = false;
    try { ok = file !== null && statSync(file).isFile(); } catch { ok = false; }
    if (!ok) { res.writeHead(404).end('not found'); return; }
    res.writeHead(200, {'Content-Type': TYPES[extname(file)] || 'application/octet-stream'});
    createReadStream(file).pipe(res);
  });
  return new Promise((done) => server.listen(0, '127.0.0.1', () => done(server)));
}

/** Problems of one case (empty when every named output is within its tolerance). */
function compare(c, got) {
  if (!got || got.error) return [`${c.variant} ${c.image}: ${got ? got.error.split('\n')[0] : 'no result'}`];
  const problems = [];
  for (const [name, want] of Object.entries(c.outputs)) {
    const have = got.values[name];
    if (have.values.length !== want.values.length) {
      problems.push(`${c.variant} ${c.image} ${name}: ${have.values.length} values, Python ${want.values.length}`);
      continue;
    }
    const diff = Math.max(...have.values.map((x, i) => Math.abs(x - want.values[i])));
    const ok = diff <= want.tolerance.abs; // false for NaN too
    const line = `${c.variant} ${c.image} ${name} (${have.dtype}): max |diff| ${diff.toExponential(2)}, ` +
                 `allowed ${want.tolerance.abs.toExponential(2)} [${want.tolerance.why}]`;
    console.log(`${ok ? 'ok  ' : 'FAIL'} ${line}`);
    if (!ok) problems.push(line);
  }
  return problems;
}

async function main() {
  const cases = JSON.parse(await (await import('node:fs/promises')).readFile(join(fixtures, 'browser_cases.json')));
  const server = await serve();
  const origin = `http://127.0.0.1:${server.address().port}`;
  const browser = await chromium.launch({executablePath: '/usr/bin/chromium', headless: true, args: CHROMIUM_FLAGS});
  const outside = [];
  const logs = [];
  try {
    const page = await browser.newPage({viewport: {width: 1400, height: 900}});
    page.setDefaultTimeout(300_000);
    await page.route('**/*', (route) => {
      const url = new URL(route.request().url());
      if (url.hostname === '127.0.0.1') return route.continue();
      outside.push(url.href);
      return route.abort();
    });
    page.on('console', (msg) => logs.push(`[${msg.type()}] ${msg.text()}`));
    page.on('pageerror', (err) => logs.push(`[pageerror] ${err.message}`));
    await page.goto(`${origin}/index.html`);
    const results = await page.evaluate(() => window.litertResults);
    await page.screenshot({path: screenshot, fullPage: true});
    return report(cases, results, outside, logs);
  } finally {
    await browser.close();
    server.close();
  }
}

function report(cases, results, outside, logs) {
  const perCase = results.fatal ? cases.map(() => [`page failed: ${results.fatal}`])
                                : cases.map((c, i) => compare(c, results[i]));
  const problems = perCase.flat().concat(outside.map((url) => `request outside 127.0.0.1: ${url}`));
  if (problems.length) logs.forEach((line) => console.log(`browser console: ${line}`));
  problems.forEach((p) => console.error(`FAIL ${p}`));
  const failed = perCase.filter((p) => p.length).length;
  console.log(`browser: ${cases.length - failed} passed, ${failed} failed` +
              (outside.length ? `; ${outside.length} request(s) outside 127.0.0.1` : ''));
  return problems.length ? 1 : 0;
}

process.exitCode = await main().catch((e) => { console.error(`FAIL ${e.stack || e}`); return 1; });
