// Shared by the browser checks: a static server on 127.0.0.1 for a few mounted folders, and
// Debian chromium launched headless with every request outside 127.0.0.1 aborted and recorded.
import {createServer} from 'node:http';
import {createReadStream, statSync} from 'node:fs';
import {extname, resolve, sep} from 'node:path';
import {chromium} from 'playwright-core';

const TYPES = {'.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript',
               '.json': 'application/json', '.wasm': 'application/wasm', '.png': 'image/png'};
// No GPU here: WebGL (MediaPipe's image input path) comes from SwiftShader, in software.
export const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
                               '--enable-unsafe-swiftshader', '--use-angle=swiftshader'];

function fileFor(mounts, urlPath) {
  const [prefix, root] = mounts.find(([p]) => urlPath.startsWith(p));
  const file = resolve(root, '.' + sep + decodeURIComponent(urlPath.slice(prefix.length) || 'index.html'));
  return file.startsWith(root + sep) ? file : null; // no climbing out with ../
}

/** mounts: [[urlPrefix, folder], ...], most specific first, ending with ['/', folder]. */
export function serve(mounts) {
  const server = createServer((req, res) => {
    const file = fileFor(mounts, new URL(req.url, 'http://127.0.0.1').pathname);
    let ok = false;
    try { ok = file !== null && statSync(file).isFile(); } catch { ok = false; }
    if (!ok) { res.writeHead(404).end('not found'); return; }
    res.writeHead(200, {'Content-Type': TYPES[extname(file)] || 'application/octet-stream'});
    createReadStream(file).pipe(res);
  });
  return new Promise((done) => server.listen(0, '127.0.0.1', () => done(server)));
}

/** Opens `page` of `server` in headless chromium, waits for window[resultName], screenshots. */
export async function runPage(server, page, resultName, screenshot) {
  const origin = `http://127.0.0.1:${server.address().port}`;
  const browser = await chromium.launch({executablePath: '/usr/bin/chromium', headless: true, args: CHROMIUM_FLAGS});
  const outside = [];
  const logs = [];
  try {
    const tab = await browser.newPage({viewport: {width: 1400, height: 900}});
    tab.setDefaultTimeout(300_000);
    await tab.route('**/*', (route) => {
      const url = new URL(route.request().url());
      if (url.hostname === '127.0.0.1') return route.continue();
      outside.push(url.href);
      return route.abort();
    });
    tab.on('console', (msg) => logs.push(`[${msg.type()}] ${msg.text()}`));
    tab.on('pageerror', (err) => logs.push(`[pageerror] ${err.message}`));
    await tab.goto(`${origin}/${page}`);
    const results = await tab.evaluate((name) => window[name], resultName);
    await tab.screenshot({path: screenshot, fullPage: true});
    return {results, outside, logs};
  } finally {
    await browser.close();
  }
}
