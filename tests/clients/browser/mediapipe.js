// MediaPipe Tasks ImageClassifier (web) on each exported model, given nothing but the bare
// .tflite: heads, labels and normalization come from its TFLite metadata. The images are at
// the model's input size. The node driver compares the results with `pipeline predict`.
import {FilesetResolver, ImageClassifier} from '@mediapipe/tasks-vision';

async function loadImage(url) {
  const img = new Image();
  img.src = url;
  await img.decode();
  return img;
}

function show(image, variant, result) {
  const row = document.getElementById('results').insertRow();
  const text = result.classifications.map((c) => `${c.headName}: ` +
      c.categories.map((k) => `${k.categoryName} ${k.score.toFixed(4)}`).join(', ')).join(' | ');
  row.innerHTML = `<td><img src="/fixtures/${image}"> ${image.split('/').pop()}</td><td>${variant}</td><td>${text}</td>`;
}

async function main() {
  const cases = await (await fetch('/fixtures/mediapipe_cases.json')).json();
  const vision = await FilesetResolver.forVisionTasks('/mediapipe/wasm');
  const images = await Promise.all(cases.images.map((p) => loadImage(`/fixtures/${p}`)));
  const results = {};
  for (const [variant, c] of Object.entries(cases.variants)) {
    const classifier = await ImageClassifier.createFromOptions(vision, {
      baseOptions: {modelAssetPath: `/fixtures/${c.model}`, delegate: 'CPU'},
      runningMode: 'IMAGE', maxResults: -1});
    results[variant] = cases.images.map((image, i) => {
      const r = classifier.classify(images[i]);
      show(image, variant, r);
      return {image, classifications: r.classifications.map((h) => ({
        headName: h.headName, headIndex: h.headIndex,
        categories: h.categories.map((k) => ({categoryName: k.categoryName, score: k.score}))}))};
    });
    classifier.close();
  }
  document.getElementById('status').textContent = `${cases.images.length} images x ${Object.keys(results).length} models`;
  return results;
}

window.mediapipeResults = main().catch((e) => {
  document.getElementById('status').textContent = `failed: ${e}`;
  return {fatal: String(e && e.stack || e)};
});
