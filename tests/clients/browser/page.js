// Runs every case of /fixtures/browser_cases.json with LiteRT.js on its wasm (CPU) backend,
// feeding the exact input tensors Python fed, and reads each output by its signature name.
// The node driver compares the numbers; this page also shows them (kept as a screenshot).
import {loadLiteRt, loadAndCompile, Tensor} from '@litertjs/core';

const ARRAYS = {float32: Float32Array, uint8: Uint8Array, int32: Int32Array};

async function fetchBytes(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response.arrayBuffer();
}

async function runCase(model, c) {
  const Typed = ARRAYS[c.input.dtype];
  if (!Typed) throw new Error(`${c.variant}: LiteRT.js has no ${c.input.dtype} tensors`);
  const input = new Tensor(new Typed(await fetchBytes(`/fixtures/${c.input.file}`)), c.input.shape);
  const runner = model.signatures[c.signature];
  if (!runner) throw new Error(`${c.model}: no signature ${c.signature}`);
  const outputs = await runner.run({[c.input.name]: input});
  input.delete();
  const values = {};
  for (const name of Object.keys(c.outputs)) {
    if (!outputs[name]) throw new Error(`${c.model}: no output named ${name}; has ${Object.keys(outputs)}`);
    values[name] = {dtype: outputs[name].type.dtype, values: Array.from(await outputs[name].data())};
  }
  Object.values(outputs).forEach((t) => t.delete());
  return values;
}

function showRow(c, values, error) {
  const row = document.getElementById('results').insertRow();
  let worst = 0;
  const text = error ? `ERROR ${error}` : Object.entries(values).map(([name, v]) => {
    const expected = c.outputs[name].values;
    v.values.forEach((x, i) => { worst = Math.max(worst, Math.abs(x - expected[i])); });
    const probs = v.values.map((x, i) => `${c.labels[name][i] ?? 'value'} ${x.toFixed(4)}`).join(', ');
    return `${name}: ${probs}`;
  }).join(' | ');
  const within = (x, want, t) => Math.abs(x - want) <= t.abs * (t.relative ? Math.max(1, Math.abs(want)) : 1);
  const ok = !error && Object.keys(values).every((name) => values[name].values.every(
      (x, i) => within(x, c.outputs[name].values[i], c.outputs[name].tolerance)));
  row.className = ok ? 'pass' : 'fail';
  row.innerHTML = `<td><img src="/fixtures/${c.image}"> ${c.image.split('/').pop()}</td><td>${c.variant}</td>` +
      `<td>${c.input.dtype} ${c.input.shape.join('x')}</td><td>${text}</td><td>${error ? '-' : worst.toExponential(2)}</td>`;
}

async function main() {
  const cases = await (await fetch('/fixtures/browser_cases.json')).json();
  await loadLiteRt('/litert/core/wasm/');
  const results = [];
  const models = {};
  for (const c of cases) {
    let values = null;
    let error = null;
    try {
      models[c.model] ??= await loadAndCompile(`/fixtures/${c.model}`, {accelerator: 'wasm'});
      values = await runCase(models[c.model], c);
    } catch (e) {
      error = String(e && e.stack || e);
    }
    showRow(c, values, error);
    results.push({variant: c.variant, image: c.image, values, error});
  }
  document.getElementById('status').textContent = `${cases.length} cases run`;
  return results;
}

window.litertResults = main().catch((e) => {
  document.getElementById('status').textContent = `failed: ${e}`;
  return {fatal: String(e && e.stack || e)};
});
