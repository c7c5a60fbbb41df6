// Web MediaPipe check: @mediapipe/tasks-vision's ImageClassifier in headless Debian chromium
// (wasm, CPU delegate) on the bare exported models that mediapipe_cases.json lists (the
// registry's `mediapipe` variants, int8 and float32 among them) must report both heads by
// name with the same answer as `pipeline predict` on every image (top class, or "not sure" when
// MediaPipe keeps no class: it drops those below the file's ScoreThresholdingOptions by itself,
// no option set), keep exactly the classes predict scores at or above the threshold, and give
// every kept score within one output quantization step (integer outputs) or 1e-4 (float).
//
//   node check_mediapipe.mjs FIXTURES_DIR SCREENSHOT.png
import {readFile} from 'node:fs/promises';
import {basename, dirname, join, resolve} from 'node:path';
import {fileURLToPath} from 'node:url';
import {runPage, serve} from './harness.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const [fixtures, screenshot] = process.argv.slice(2).map((p) => resolve(p));
const MOUNTS = [['/mediapipe/', resolve(here, '..', 'node_modules', '@mediapipe', 'tasks-vision')],
                ['/fixtures/', fixtures], ['/', here]];

async function predictions(file) {
  const rows = (await readFile(join(fixtures, file), 'utf8')).split('\n').filter((l) => l.trim()).map(JSON.parse);
  return Object.fromEntries(rows.map((r) => [basename(r.file), r.predictions]));
}

/** Problems of one image; worst[head] updated with the largest |score diff|. */
function compareImage(variant, got, want, tolerance, worst) {
  const heads = Object.fromEntries(got.classifications.map((c) => [c.headName, c]));
  const where = `${variant} ${basename(got.image)}`;
  if (JSON.stringify(Object.keys(heads).sort()) !== JSON.stringify(Object.keys(want).sort())) {
    return [`${where}: heads ${Object.keys(heads)}, predict has ${Object.keys(want)}`];
  }
  const problems = [];
  for (const [name, pred] of Object.entries(want)) {
    const scores = Object.fromEntries(heads[name].categories.map((k) => [k.categoryName, k.score]));
    const threshold = pred.threshold ?? 0;
    const kept = Object.keys(pred.probabilities).filter((c) => pred.probabilities[c] >= threshold).sort();
    if (JSON.stringify(Object.keys(scores).sort()) !== JSON.stringify(kept)) {
      problems.push(`${where} ${name}: MediaPipe kept ${Object.keys(scores).sort()}, predict scores ${kept} at or above ${threshold}`);
      continue;
    }
    const names = Object.keys(scores);
    const top = names.length ? names.reduce((a, b) => (scores[b] > scores[a] ? b : a)) : null;
    if (top !== pred.label) problems.push(`${where} ${name}: MediaPipe top ${top ?? 'not sure'}, predict ${pred.label ?? 'not sure'}`);
    const diff = Math.max(0, ...names.map((c) => Math.abs(scores[c] - pred.probabilities[c])));
    worst[name] = Math.max(worst[name] ?? 0, diff);
    if (!(diff <= tolerance[name].abs)) {
      problems.push(`${where} ${name}: |score diff| ${diff.toExponential(2)} > ${tolerance[name].abs.toExponential(2)} (${tolerance[name].why})`);
    }
  }
  return problems;
}

async function main() {
  const cases = JSON.parse(await readFile(join(fixtures, 'mediapipe_cases.json')));
  const server = await serve(MOUNTS);
  let page;
  try {
    page = await runPage(server, 'mediapipe.html', 'mediapipeResults', screenshot);
  } finally {
    server.close();
  }
  const {results, outside, logs} = page;
  const problems = outside.map((url) => `request outside 127.0.0.1: ${url}`);
  if (results.fatal) problems.push(`page failed: ${results.fatal}`);
  let unsureAll = 0;
  for (const [variant, c] of Object.entries(results.fatal ? {} : cases.variants)) {
    const want = await predictions(c.predict);
    const worst = {};
    let agree = 0;
    for (const got of results[variant]) {
      const p = compareImage(variant, got, want[basename(got.image)], c.tolerance, worst);
      agree += p.every((line) => !line.includes(' top ') && !line.includes('heads') && !line.includes(' kept '));
      problems.push(...p);
    }
    for (const [name, value] of Object.entries(worst)) {
      console.log(`${variant}: ${name}: max |MediaPipe web - predict| ${value.toExponential(2)} over ` +
                  `${results[variant].length} images, allowed ${c.tolerance[name].abs.toExponential(2)} (${c.tolerance[name].why})`);
    }
    const unsure = results[variant].reduce((n, got) => n + got.classifications.filter((h) => !h.categories.length).length, 0);
    console.log(`${variant}: same answer (class or not sure) on both heads for ${agree}/${results[variant].length} images; ` +
                `${unsure} head answers not sure, from the file's thresholds alone`);
    unsureAll += unsure;
  }
  if (!results.fatal && !unsureAll) problems.push('no head of any model was ever not sure: the fixtures do not exercise the thresholds');
  if (problems.length) logs.forEach((line) => console.log(`browser console: ${line}`));
  problems.forEach((p) => console.error(`FAIL ${p}`));
  console.log(`mediapipe-web: ${Object.keys(cases.variants).length} models x ${cases.images.length} images, ` +
              `${problems.length} problem(s)`);
  return problems.length ? 1 : 0;
}

process.exitCode = await main().catch((e) => { console.error(`FAIL ${e.stack || e}`); return 1; });
