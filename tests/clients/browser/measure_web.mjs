// Speed of the phone page in headless Debian chromium on this machine, against native LiteRT
// on the same files: not a test (figures for README / docs/web.md).
//
//   node measure_web.mjs RUN Y4M [RUNS]
//
// For CPU throttling 1x and 4x (DevTools' Emulation.setCPUThrottlingRate; 4x is a rough
// stand-in for a mid-range phone, nothing more): the fake camera runs for 10 s (frame-to-
// answer, the default variant), then the page's own benchmark (RUNS timed classify() calls per
// variant after 20 warm-up), posted to the run like a phone's. Native LiteRT p50 (1 thread) of
// the same files comes from measure_native.py, run just before.
import {execFileSync} from 'node:child_process';
import {join, resolve} from 'node:path';
import {phone, startServer} from './check_web.mjs';

const [run, y4m] = process.argv.slice(2, 4).map((p) => resolve(p));
const runs = Number(process.argv[4] || 200);
const PYTHON = resolve(process.env.PYTHON_BIN || '../../.venv/bin/python');

async function measure(origin, rate) {
  const p = await phone(['--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',
                         `--use-file-for-fake-video-capture=${y4m}`]);
  try {
    await p.context.grantPermissions(['camera'], {origin});
    const cdp = await p.context.newCDPSession(p.page);
    await cdp.send('Emulation.setCPUThrottlingRate', {rate});
    const note = `headless chromium, measure_web.mjs, CPU throttling ${rate}x`;
    await p.page.goto(`${origin}/?runs=${runs}&warmup=20&note=${encodeURIComponent(note)}`);
    await p.page.waitForFunction(() => document.body.dataset.ready === '1' || document.body.dataset.error);
    await p.page.locator('#camera').tap();
    await p.page.waitForTimeout(10_000);
    await p.page.locator('#benchmark').tap();
    await p.page.waitForFunction(() => document.body.dataset.benchmark || document.body.dataset.error,
                                 null, {timeout: 600_000});
    return await p.page.evaluate(() => JSON.parse(document.body.dataset.benchmark || document.body.dataset.error));
  } catch (e) {
    p.logs.slice(-8).forEach((l) => console.error(`browser console: ${l.type} ${l.text}`));
    throw e;
  } finally {
    await p.browser.close();
  }
}

const cpu = execFileSync('grep', ['-m1', 'model name', '/proc/cpuinfo']).toString().split(':')[1].trim();
const flags = execFileSync('grep', ['-m1', '^flags', '/proc/cpuinfo']).toString();
const shown = ['avx2', 'avx512f', 'avx512_vnni', 'avx_vnni', 'amx_int8'].filter((f) => flags.includes(` ${f}`));
const server = await startServer(run);
try {
  const native = JSON.parse(execFileSync(PYTHON, ['measure_native.py', join(run, 'web'), String(runs)]).toString());
  console.log(`CPU: ${cpu} (${shown.join(' ')}); ${runs} timed runs; native = Python LiteRT, 1 thread, invoke only`);
  console.log('| variant | input | native LiteRT p50 ms | page p50 ms, 1x | ratio | page p50 ms, 4x throttled | ratio | camera frame-to-answer p50 ms 1x / 4x |');
  console.log('|---|---|---|---|---|---|---|---|');
  const page = {1: await measure(server.origin, 1), 4: await measure(server.origin, 4)};
  for (const [key, n] of Object.entries(native)) {
    const [a, b] = [page[1].result.variants[key].p50_ms, page[4].result.variants[key].p50_ms];
    console.log(`| ${key} | ${n.input} px | ${n.p50_ms.toFixed(2)} | ${a.toFixed(2)} | ${(a / n.p50_ms).toFixed(1)}x | ` +
                `${b.toFixed(2)} | ${(b / n.p50_ms).toFixed(1)}x | ${page[1].result.frame_to_answer_ms} / ${page[4].result.frame_to_answer_ms} |`);
  }
  console.log(`recorded: ${page[1].posted.answer.saved}, ${page[4].posted.answer.saved}`);
} finally {
  server.stop();
}
