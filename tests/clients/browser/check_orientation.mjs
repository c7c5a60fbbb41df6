// Browser orientation check: headless chromium decodes photos stored turned with an EXIF
// Orientation tag, and must get the very pixels Python's loader gets (upright).
//
//   node check_orientation.mjs FIXTURES_DIR SCREENSHOT.png
import {dirname, resolve} from 'node:path';
import {fileURLToPath} from 'node:url';
import {runPage, serve} from './harness.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const [fixtures, screenshot] = process.argv.slice(2).map((p) => resolve(p));

async function main() {
  const server = await serve([['/fixtures/', fixtures], ['/', here]]);
  let page;
  try {
    page = await runPage(server, 'orientation.html', 'orientationResults', screenshot);
  } finally {
    server.close();
  }
  const {results, outside, logs} = page;
  if (results.fatal || !results.length) {
    logs.forEach((line) => console.log(`browser console: ${line}`));
    console.error(`FAIL page: ${results.fatal || 'no orientation cases'}`);
    return 1;
  }
  let failed = outside.length;
  for (const r of results) {
    const ok = !r.error && r.differ === 0;
    failed += ok ? 0 : 1;
    console.log(`${ok ? 'ok  ' : 'FAIL'} ${r.image} (orientation ${r.orientation}): ` +
                (r.error ? r.error.split('\n')[0] : `decoded ${r.size.join('x')} (Python ${r.expected.join('x')}), ` +
                 `${r.differ} byte(s) differ from Python's upright pixels`));
  }
  outside.forEach((url) => console.error(`FAIL request outside 127.0.0.1: ${url}`));
  console.log(`browser orientation: ${results.length - failed} passed, ${failed} failed`);
  return failed ? 1 : 0;
}

process.exitCode = await main().catch((e) => { console.error(`FAIL ${e.stack || e}`); return 1; });
