#!/usr/bin/env node
// Open the origin's preview page (GET /) on one item, wait for playback, and check a frame is
// drawn: the <video> is painted onto a canvas and its pixels must not be blank. Prints ONE JSON
// report: {ok, currentTime, colours, stats: {...}, screenshot}.
//
//   node preview.mjs --origin http://127.0.0.1:8080 --item /sample.mp4 --seconds 8 [--png out.png]

import { parseArgs } from 'node:util';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];
const { values } = parseArgs({
  options: {
    origin: { type: 'string' }, item: { type: 'string' },
    seconds: { type: 'string', default: '10' }, png: { type: 'string' },
  },
});
const out = (o, code) => { process.stdout.write(JSON.stringify(o) + '\n'); process.exitCode = code; };

const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'origin-preview-'));
let browser;
try {
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: CHROMIUM_ARGS,
    viewport: { width: 1200, height: 700 },
  });
} catch (e) {
  out({ ok: false, error: `chromium did not launch: ${e.message}` }, 3);
  process.exit();
}
try {
  const page = browser.pages()[0] || await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`${values.origin}/#${encodeURIComponent(values.item)}`);
  const deadline = Date.now() + Number(values.seconds) * 1000;
  let state = null;
  while (Date.now() < deadline) {
    await page.waitForTimeout(500);
    state = await page.evaluate(() => {
      const v = document.getElementById('video');
      const c = document.createElement('canvas');
      c.width = 64; c.height = 36;
      let colours = 0;
      if (v.readyState >= 2) {
        const g = c.getContext('2d');
        g.drawImage(v, 0, 0, c.width, c.height);
        const px = g.getImageData(0, 0, c.width, c.height).data;
        const seen = new Set();
        for (let i = 0; i < px.length; i += 4) seen.add((px[i] >> 4) << 8 | (px[i + 1] >> 4) << 4 | (px[i + 2] >> 4));
        colours = seen.size;
      }
      const stat = (id) => document.getElementById(id).textContent;
      return {
        currentTime: v.currentTime, readyState: v.readyState, colours,
        stats: { player: stat('s-player'), latency: stat('s-latency'), buffer: stat('s-buffer'),
                 level: stat('s-level') },
        error: document.getElementById('error').textContent,
      };
    });
    if (state.currentTime > 2 && state.colours > 8 && state.stats.level !== '–') break;
  }
  if (values.png) await page.screenshot({ path: values.png });
  out({ ok: true, ...state, pageErrors: errors, screenshot: values.png || null }, 0);
} catch (e) {
  out({ ok: false, error: String(e) }, 1);
} finally {
  await browser.close();
  fs.rmSync(profile, { recursive: true, force: true });
}
