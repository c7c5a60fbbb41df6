// Browser check: LiteRT.js in headless Debian chromium must give the same named outputs as
// Python LiteRT on the same input tensors.
//
//   node check.mjs FIXTURES_DIR SCREENSHOT.png
//
// Serves this folder, the @litertjs packages and the fixtures on 127.0.0.1, aborts and fails
// on any request to another host, and exits non-zero on any error or out-of-tolerance value.
import {readFile} from 'node:fs/promises';
import {dirname, join, resolve} from 'node:path';
import {fileURLToPath} from 'node:url';
import {runPage, serve} from './harness.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const modules = resolve(here, '..', 'node_modules', '@litertjs');
const [fixtures, screenshot] = process.argv.slice(2).map((p) => resolve(p));
const MOUNTS = [['/litert/core/', join(modules, 'core')], ['/litert/wasm-utils/', join(modules, 'wasm-utils')],
                ['/fixtures/', fixtures], ['/', here]];

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
    // a relative bound (a regression head's number) is abs x max(1, |Python's value|)
    const allowed = want.values.map((w) => want.tolerance.abs * (want.tolerance.relative ? Math.max(1, Math.abs(w)) : 1));
    const diff = Math.max(...have.values.map((x, i) => Math.abs(x - want.values[i])));
    const ok = have.values.every((x, i) => Math.abs(x - want.values[i]) <= allowed[i]); // false for NaN too
    const line = `${c.variant} ${c.image} ${name} (${have.dtype}): max |diff| ${diff.toExponential(2)}, ` +
                 `allowed ${Math.min(...allowed).toExponential(2)} [${want.tolerance.why}]`;
    console.log(`${ok ? 'ok  ' : 'FAIL'} ${line}`);
    if (!ok) problems.push(line);
  }
  return problems;
}

async function main() {
  const cases = JSON.parse(await readFile(join(fixtures, 'browser_cases.json')));
  const server = await serve(MOUNTS);
  try {
    const {results, outside, logs} = await runPage(server, 'index.html', 'litertResults', screenshot);
    return report(cases, results, outside, logs);
  } finally {
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
