// The browser's own decoder must turn a photo upright exactly as Python's loader does
// (pipeline/data/images.py, Pillow's exif_transpose): each fixture photo is stored turned with
// an EXIF Orientation tag; createImageBitmap applies the tag (imageOrientation 'from-image',
// also the default), and the decoded RGB must equal the bytes Python's loader made of the file.
async function fetchBytes(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response;
}

async function decode(url) {
  const blob = await (await fetchBytes(url)).blob();
  const bitmap = await createImageBitmap(blob, {imageOrientation: 'from-image', premultiplyAlpha: 'none',
                                                colorSpaceConversion: 'none'});
  const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
  const context = canvas.getContext('2d', {willReadFrequently: true});
  context.drawImage(bitmap, 0, 0);
  return {width: bitmap.width, height: bitmap.height,
          rgba: context.getImageData(0, 0, bitmap.width, bitmap.height).data};
}

async function check(c) {
  const got = await decode(`/fixtures/${c.image}`);
  const want = new Uint8Array(await (await fetchBytes(`/fixtures/${c.upright}`)).arrayBuffer());
  let differ = 0;
  if (got.width === c.width && got.height === c.height) {
    for (let i = 0; i < c.width * c.height * 3; i++) {
      if (got.rgba[Math.floor(i / 3) * 4 + (i % 3)] !== want[i]) differ++;
    }
  } else {
    differ = want.length;
  }
  return {image: c.image, orientation: c.orientation, size: [got.width, got.height],
          expected: [c.width, c.height], differ};
}

async function main() {
  const cases = await (await fetchBytes('/fixtures/orientation_cases.json')).json();
  const results = [];
  for (const c of cases) {
    let result;
    try {
      result = await check(c);
    } catch (e) {
      result = {image: c.image, orientation: c.orientation, error: String(e && e.stack || e)};
    }
    const row = document.getElementById('results').insertRow();
    row.className = result.error || result.differ ? 'fail' : 'pass';
    row.innerHTML = `<td><img src="/fixtures/${c.image}"> ${c.image.split('/').pop()}</td><td>${c.orientation}</td>` +
        `<td>${result.size ? result.size.join('x') : '-'}</td><td>${result.error || result.differ}</td>`;
    results.push(result);
  }
  document.getElementById('status').textContent = `${cases.length} photos decoded`;
  return results;
}

window.orientationResults = main().catch((e) => {
  document.getElementById('status').textContent = `failed: ${e}`;
  return {fatal: String(e && e.stack || e)};
});
