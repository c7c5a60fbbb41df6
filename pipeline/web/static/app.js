// The phone page: MediaPipe Tasks' ImageClassifier runs the exported .tflite as it is. Heads,
// class labels, normalization and each head's "not sure" threshold come from the file's own
// TFLite metadata, which MediaPipe reads by itself: this page names no class. A head whose top
// score is below its threshold (ScoreThresholdingOptions) comes back with no category, and the
// page says "not sure"; a model exported without thresholds always answers. site.json says
// each head's kind: a multilabel head shows the classes MediaPipe keeps (those at or above its
// threshold; none kept: "none of them"), a regression head the score of its one category,
// which is the number itself, in its unit.
//
// For automation: document.body.dataset.result holds the latest answer as JSON, each head as
// `pipeline predict --json` gives it: {"heads": {head: {"class": name or null, "scores": {...}}
// (classification), {"labels": [...], "scores": {...}} (multilabel), {"value": x, "unit": u}
// (regression)}, "ms": n, ...}; document.body.dataset.benchmark the latest benchmark;
// /?benchmark=1 starts it on load.
import {FilesetResolver, ImageClassifier} from './mediapipe/vision_bundle.mjs';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const state = {site: null, vision: null, classifiers: {}, variant: null, seq: 0, camera: null,
               frameMs: []};
// A tiny wasm module using a SIMD instruction: valid only where wasm SIMD is supported
// (MediaPipe then loads its SIMD build, vision_wasm_internal.wasm).
const SIMD_PROBE = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0,
                                   10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11]);

function status(text) { $('status').textContent = text; }

async function classifier(key, mode) {
  const name = `${key}:${mode}`;
  if (!state.classifiers[name]) {
    const v = state.site.variants.find((x) => x.key === key);
    // No scoreThreshold here: the thresholds in the model's metadata apply.
    state.classifiers[name] = await ImageClassifier.createFromOptions(state.vision, {
      baseOptions: {modelAssetPath: new URL(v.file, location.href).href, delegate: 'CPU'},
      runningMode: mode, maxResults: -1});
  }
  return state.classifiers[name];
}

/** MediaPipe's result -> {head: answer}, each head decoded as its kind (site.json) says, in
 *  the model's order of heads (MediaPipe's is the file's order of outputs). */
function heads(result) {
  const kinds = Object.fromEntries((state.site.heads || []).map((h) => [h.name, h]));
  const order = Object.keys(kinds);
  const rank = (c) => (order.includes(c.headName) ? order.indexOf(c.headName) : order.length);
  const out = {};
  for (const c of [...result.classifications].sort((a, b) => rank(a) - rank(b))) {
    const head = kinds[c.headName] || {kind: 'classification'};
    const scores = Object.fromEntries(c.categories.map((k) => [k.categoryName, k.score]));
    if (head.kind === 'regression') {
      out[c.headName] = {value: c.categories.length ? c.categories[0].score : null, unit: head.unit || ''};
    } else if (head.kind === 'multilabel') {
      // in the head's order of classes, as `pipeline predict` lists them (MediaPipe's: by score)
      const present = [...c.categories].sort((a, b) => a.index - b.index);
      out[c.headName] = {labels: present.map((k) => k.categoryName), scores};
    } else {
      const top = c.categories.reduce((a, k) => (a === null || k.score > a.score ? k : a), null);
      out[c.headName] = {class: top ? top.categoryName : null, scores};
    }
  }
  return out;
}

/** Python's '%.4g' (what `pipeline predict` and the Android app print a number with). */
function g4(x) {
  if (!Number.isFinite(x)) return String(x);
  if (x === 0) return '0';
  const exponent = Math.floor(Math.log10(Math.abs(Number(x.toPrecision(4)))));
  if (exponent < -4 || exponent >= 4) {
    const [mantissa, e] = x.toExponential(3).split('e');
    const trimmed = mantissa.includes('.') ? mantissa.replace(/\.?0+$/, '') : mantissa;
    return `${trimmed}e${e[0] === '-' ? '-' : '+'}${e.replace(/^[-+]/, '').padStart(2, '0')}`;
  }
  const fixed = x.toFixed(Math.max(0, 3 - exponent));
  return fixed.includes('.') ? fixed.replace(/\.?0+$/, '') : fixed;
}

function shown(h) {
  if ('value' in h) {
    return h.value === null ? '<span class="class unsure">no value</span>'
        : `<span class="class">${esc(g4(h.value))}<span class="score">${esc(h.unit)}</span></span>`;
  }
  if ('labels' in h) {
    return h.labels.length ? `<span class="class">${h.labels.map(esc).join(' + ')}</span>`
        : '<span class="class unsure">none of them</span>';
  }
  return h.class === null ? '<span class="class unsure">not sure</span>'
      : `<span class="class">${esc(h.class)}<span class="score">${(100 * h.scores[h.class]).toFixed(0)}%</span></span>`;
}

function show(result, ms, source) {
  const answer = {heads: heads(result), ms: Math.round(ms * 100) / 100, variant: state.variant,
                  source, seq: ++state.seq};
  const rows = Object.entries(answer.heads).map(([name, h]) =>
      `<div class="head"><span class="name">${esc(name)}</span>${shown(h)}</div>`);
  $('answers').innerHTML = rows.join('');
  $('timing').textContent = `${source === 'camera' ? 'frame' : 'photo'} to answer: ${ms.toFixed(1)} ms (${state.variant})`;
  document.body.dataset.result = JSON.stringify(answer);
}

function esc(text) {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

async function onPhoto(file) {
  const start = performance.now();
  // Turned upright by its EXIF orientation, as `pipeline predict` does (Pillow's exif_transpose).
  const bitmap = await createImageBitmap(file, {imageOrientation: 'from-image'});
  const c = await classifier(state.variant, 'IMAGE');
  const result = c.classify(bitmap);
  const ms = performance.now() - start;
  const canvas = $('photo-canvas');
  [canvas.width, canvas.height] = [bitmap.width, bitmap.height];
  canvas.getContext('2d').drawImage(bitmap, 0, 0);
  bitmap.close();
  stopCamera();
  canvas.hidden = false;
  $('hint').hidden = true;
  show(result, ms, 'photo');
}

async function startCamera() {
  if (!navigator.mediaDevices?.getUserMedia) {
    status('The camera needs a secure page (https, `pipeline serve --tls`); the Photo button works here.');
    return;
  }
  const video = $('video');
  const stream = await navigator.mediaDevices.getUserMedia(
      {video: {facingMode: {ideal: 'environment'}, width: {ideal: 640}}, audio: false});
  video.srcObject = stream;
  await video.play();
  [video.hidden, $('photo-canvas').hidden, $('hint').hidden] = [false, true, true];
  const c = await classifier(state.variant, 'VIDEO');
  state.camera = stream;
  const next = (f) => (video.requestVideoFrameCallback ? video.requestVideoFrameCallback(f) : requestAnimationFrame(f));
  const frame = () => {
    if (state.camera !== stream) return;
    const start = performance.now();
    const result = c.classifyForVideo(video, start);
    show(result, performance.now() - start, 'camera');
    state.frameMs = [...state.frameMs.slice(-99), performance.now() - start];
    next(frame);
  };
  next(frame);
  status('camera on');
}

function stopCamera() {
  if (!state.camera) return;
  state.camera.getTracks().forEach((t) => t.stop());
  state.camera = null;
  $('video').hidden = true;
}

function quantile(sorted, q) {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

/** A fixed 256 x 256 test picture (the classifier resizes it to the model's input). */
function testImage() {
  const canvas = document.createElement('canvas');
  canvas.width = canvas.height = 256;
  const g = canvas.getContext('2d');
  const fill = g.createLinearGradient(0, 0, 256, 256);
  fill.addColorStop(0, '#c8283c');
  fill.addColorStop(1, '#2f7a34');
  g.fillStyle = fill;
  g.fillRect(0, 0, 256, 256);
  return canvas;
}

async function timeVariant(v, image, runs, warmup) {
  const start = performance.now();
  const c = await classifier(v.key, 'IMAGE');
  const init = performance.now() - start;
  for (let i = 0; i < warmup; i++) c.classify(image);
  const times = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    c.classify(image);
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  const round = (x) => Math.round(x * 1000) / 1000;
  return {sha256: v.sha256, runs, warmup, p50_ms: round(quantile(times, 0.5)),
          p90_ms: round(quantile(times, 0.9)), min_ms: round(times[0]), init_ms: round(init),
          mean_ms: round(times.reduce((a, b) => a + b, 0) / runs)};
}

function device() {
  return {user_agent: navigator.userAgent.slice(0, 512),
          platform: String(navigator.userAgentData?.platform || navigator.platform || '').slice(0, 64),
          hardware_concurrency: navigator.hardwareConcurrency ?? null,
          device_memory_gb: navigator.deviceMemory ?? null, webgpu: 'gpu' in navigator,
          wasm_simd: WebAssembly.validate(SIMD_PROBE),
          wasm_threads: false, // MediaPipe Tasks' web wasm is a single-threaded build
          cross_origin_isolated: Boolean(window.crossOriginIsolated),
          screen: `${screen.width}x${screen.height}@${devicePixelRatio}`.slice(0, 32)};
}

async function benchmark() {
  const [runs, warmup] = [Number(params.get('runs')) || 50, Number(params.get('warmup')) || 10];
  $('benchmark').disabled = true;
  $('bench').hidden = false;
  stopCamera(); // its frames would share the CPU with the timed runs
  const image = testImage();
  const variants = {};
  for (const v of state.site.variants) {
    $('bench-status').textContent = `timing ${v.key} (${warmup} warm-up + ${runs} runs)…`;
    await new Promise((done) => setTimeout(done, 0)); // let the page repaint
    variants[v.key] = await timeVariant(v, image, runs, warmup);
  }
  const frames = [...state.frameMs].sort((a, b) => a - b);
  const payload = {schema: 1, runtime: state.site.runtime, device: device(), variants,
                   frame_to_answer_ms: frames.length ? Math.round(quantile(frames, 0.5) * 100) / 100 : null,
                   note: params.get('note') ? params.get('note').slice(0, 200) : null};
  showBenchmark(payload);
  const posted = await post(payload);
  $('bench-status').textContent = posted.ok ? `recorded in the run as ${posted.answer.saved}`
      : `not recorded: ${posted.answer.error || posted.status}`;
  document.body.dataset.benchmark = JSON.stringify({result: payload, posted});
  $('benchmark').disabled = false;
}

async function post(payload) {
  try {
    const response = await fetch(new URL('api/benchmark', location.href), {
      method: 'POST', headers: {'Content-Type': 'application/json'}, body: JSON.stringify(payload)});
    const answer = await response.json().catch(() => ({error: `HTTP ${response.status} (no benchmark endpoint on this host?)`}));
    return {ok: response.ok, status: response.status, answer};
  } catch (e) {
    return {ok: false, status: 0, answer: {error: String(e)}};
  }
}

function showBenchmark(p) {
  const rows = Object.entries(p.variants).map(([k, v]) =>
      `<tr><td>${esc(k)}</td><td>${v.p50_ms.toFixed(2)}</td><td>${v.p90_ms.toFixed(2)}</td><td>${v.init_ms.toFixed(0)}</td></tr>`);
  const d = p.device;
  $('bench-table').innerHTML = '<tr><th>variant</th><th>p50 ms</th><th>p90 ms</th><th>load ms</th></tr>' +
      rows.join('') + `<tr><td colspan="4">${d.hardware_concurrency} cores, wasm SIMD ${d.wasm_simd ? 'yes' : 'no'}, ` +
      `threads no, WebGPU ${d.webgpu ? 'present' : 'absent'}</td></tr>`;
}

function guard(task) {
  return (...args) => task(...args).catch((e) => {
    status(`error: ${e && e.message || e}`);
    document.body.dataset.error = String(e && e.stack || e);
  });
}

async function main() {
  const response = await fetch('site.json');
  if (!response.ok) throw new Error(`site.json: HTTP ${response.status}`);
  state.site = await response.json();
  state.vision = await FilesetResolver.forVisionTasks(new URL('mediapipe/wasm', location.href).href);
  for (const v of state.site.variants) $('variant').add(new Option(v.key, v.key));
  state.variant = state.site.variants[0].key;
  await classifier(state.variant, 'IMAGE');
  $('variant').addEventListener('change', guard(async (e) => {
    const camera = Boolean(state.camera);
    stopCamera();
    state.variant = e.target.value;
    if (camera) await startCamera();
  }));
  $('camera').addEventListener('click', guard(async () => (state.camera ? stopCamera() : startCamera())));
  $('photo').addEventListener('change', guard(async (e) => {
    const file = e.target.files[0];
    e.target.value = ''; // the same photo again fires again
    if (file) await onPhoto(file);
  }));
  $('benchmark').addEventListener('click', guard(benchmark));
  $('camera').disabled = $('benchmark').disabled = false;
  status(`ready: ${state.site.variants.length} model(s), ${state.site.runtime}`);
  document.body.dataset.ready = '1';
  if (params.get('benchmark') === '1') await benchmark();
}

guard(main)();
