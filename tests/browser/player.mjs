#!/usr/bin/env node
// Play a stream in headless Chromium with hls.js and print ONE JSON report on stdout.
//
//   node player.mjs --url http://127.0.0.1:8080/live/test/index.m3u8 --seconds 30 --mode live
//
// The page (page.html + hls.min.js) is served by a tiny HTTP server started here on
// 127.0.0.1:<random port>: an origin other than the media's, so every media request is a real
// cross-origin request and the origin's CORS headers are exercised as a browser would.
//
// Options (each also read from the environment variable in brackets; flags win):
//   --url URL            playlist (live/vod) or MP4 (mp4) to play                  [PLAYER_URL]
//   --seconds N          seconds to play after start (default 30)                  [PLAYER_SECONDS]
//   --mode M             live | vod | mp4 (default: guessed from the URL)          [PLAYER_MODE]
//   --page URL           open this page instead of ours (same startPlayer/playerStatus/collect contract)
//   --warmup N           seconds ignored by the latency statistics (default min(10, seconds/3))
//   --level N            force hls.js level N once the manifest is parsed
//   --start-level N      hls.startLevel
//   --action K=V@T       at T seconds: level=N (hls.currentLevel), next-level=N, seek-live=1;
//                        repeatable, or comma-separated
//   --hls-config JSON    merged into the Hls config (live starts from {lowLatencyMode: true})
//                                                                                  [PLAYER_HLS_CONFIG]
//   --until-ended        stop as soon as the video ends (vod, mp4)
//   --no-stop-on-fatal   keep playing after a fatal hls.js error (default: stop 2 s after it)
//   --timeout N          hard limit for the whole run in seconds (default seconds + 60)
//   --chromium PATH      browser binary (default /usr/bin/chromium)                [CHROMIUM]
//   --debug              hls.js debug logging and page console on stderr          [PLAYER_DEBUG=1]
//
// Exit status: 0 the run completed (the report says how playback went; callers assert on it),
// 1 the run failed (page or player could not start), 2 bad usage, 3 the browser could not launch,
// 4 the hard timeout fired. A report {"ok": false, "error": ...} is printed whenever possible.

import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const HLS_JS = path.join(HERE, 'node_modules', 'hls.js', 'dist', 'hls.min.js');
const PAGE = path.join(HERE, 'page.html');
// The only way this project launches Chromium (see the test brief): Debian's binary, these flags.
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];
const EXIT = { ok: 0, failed: 1, usage: 2, launch: 3, timeout: 4 };

let reported = false;
function report(obj, code) {
  if (!reported) {
    reported = true;
    process.stdout.write(JSON.stringify(obj) + '\n');
  }
  process.exitCode = code;
}
function log(...a) { process.stderr.write(`player: ${a.join(' ')}\n`); }

// ---------------------------------------------------------------- options
function parseOptions() {
  const { values } = parseArgs({
    options: {
      url: { type: 'string' }, seconds: { type: 'string' }, mode: { type: 'string' },
      page: { type: 'string' }, warmup: { type: 'string' }, level: { type: 'string' },
      'start-level': { type: 'string' }, action: { type: 'string', multiple: true },
      'hls-config': { type: 'string' }, 'until-ended': { type: 'boolean' },
      'no-stop-on-fatal': { type: 'boolean' }, timeout: { type: 'string' },
      chromium: { type: 'string' }, debug: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    const src = fs.readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n');
    process.stdout.write(src.filter((l) => l.startsWith('//')).map((l) => l.slice(3)).join('\n') + '\n');
    process.exit(0);
  }
  const env = process.env;
  const url = values.url ?? env.PLAYER_URL;
  if (!url && !values.page) throw new Error('--url is required');
  const num = (name, v, dflt) => {
    if (v == null || v === '') return dflt;
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0) throw new Error(`--${name} ${v}: not a number >= 0`);
    return n;
  };
  const seconds = num('seconds', values.seconds ?? env.PLAYER_SECONDS, 30);
  let mode = values.mode ?? env.PLAYER_MODE;
  if (!mode) mode = /\.mp4(\?|$)/.test(url) ? 'mp4' : /\/live\//.test(url) ? 'live' : 'vod';
  if (!['live', 'vod', 'mp4'].includes(mode)) throw new Error(`--mode ${mode}: use live, vod or mp4`);
  let hlsConfig = {};
  const hc = values['hls-config'] ?? env.PLAYER_HLS_CONFIG;
  if (hc) {
    try { hlsConfig = JSON.parse(hc); } catch (e) { throw new Error(`--hls-config: not JSON (${e.message})`); }
  }
  const actions = [];
  for (const spec of (values.action ?? []).flatMap((a) => a.split(','))) {
    const m = /^(level|next-level|seek-live)=(-?\d+)@(\d+(?:\.\d+)?)$/.exec(spec.trim());
    if (!m) throw new Error(`--action ${spec}: expected level=N@T, next-level=N@T or seek-live=1@T`);
    const kind = { level: 'level', 'next-level': 'nextLevel', 'seek-live': 'seekLive' }[m[1]];
    actions.push({ kind, value: Number(m[2]), at: Number(m[3]), done: false });
  }
  actions.sort((a, b) => a.at - b.at);
  return {
    url, seconds, mode, page: values.page ?? (url && /\.html?(\?|$)/.test(url) ? url : null),
    warmup: num('warmup', values.warmup, Math.min(10, seconds / 3)),
    level: values.level != null ? num('level', values.level) : null,
    startLevel: values['start-level'] != null ? num('start-level', values['start-level']) : null,
    actions, hlsConfig,
    untilEnded: !!values['until-ended'],
    stopOnFatal: !values['no-stop-on-fatal'],
    timeout: num('timeout', values.timeout, seconds + 60),
    chromium: values.chromium ?? env.CHROMIUM ?? '/usr/bin/chromium',
    debug: !!values.debug || env.PLAYER_DEBUG === '1',
  };
}

// ---------------------------------------------------------------- the page's own origin
function startPageServer() {
  const files = {
    '/': [PAGE, 'text/html; charset=utf-8'],
    '/page.html': [PAGE, 'text/html; charset=utf-8'],
    '/hls.min.js': [HLS_JS, 'text/javascript; charset=utf-8'],
  };
  const server = http.createServer((req, res) => {
    const pathname = new URL(req.url, 'http://x').pathname;
    if (pathname === '/favicon.ico') { res.writeHead(204).end(); return; }
    const entry = files[pathname];
    if (!entry) { res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n'); return; }
    fs.readFile(entry[0], (err, body) => {
      if (err) { res.writeHead(500).end(String(err)); return; }
      res.writeHead(200, { 'content-type': entry[1], 'cache-control': 'no-store' }).end(body);
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

// ---------------------------------------------------------------- statistics
function quantile(xs, q) {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos), hi = Math.ceil(pos);
  return Math.round((s[lo] + (s[hi] - s[lo]) * (pos - lo)) * 1000) / 1000;
}
function stats(xs) {
  const v = xs.filter((x) => typeof x === 'number' && Number.isFinite(x));
  if (!v.length) return { n: 0, median: null, p90: null, min: null, max: null };
  return { n: v.length, median: quantile(v, 0.5), p90: quantile(v, 0.9),
           min: Math.min(...v), max: Math.max(...v) };
}

function classify(url) {
  const u = new URL(url);
  const name = u.pathname.split('/').pop();
  if (name.endsWith('.m3u8')) {
    return u.searchParams.has('_HLS_msn') ? 'blocking_playlist' : 'playlist';
  }
  if (/^part\d+\.\d+\.m4s$/.test(name)) return 'part';
  if (/^init.*\.mp4$/.test(name) || name === 'init.mp4') return 'init';
  if (/\.(m4s|ts|aac|m4a|mp4|m4v)$/.test(name)) return 'segment';
  return 'other';
}

// ---------------------------------------------------------------- main
async function main() {
  let opts;
  try {
    opts = parseOptions();
  } catch (e) {
    log(`usage error: ${e.message} (try --help)`);
    report({ ok: false, error: `usage: ${e.message}` }, EXIT.usage);
    return;
  }
  if (!fs.existsSync(HLS_JS)) {
    const msg = `hls.js not installed (${HLS_JS} missing): run npm ci --prefix tests/browser`;
    log(msg);
    report({ ok: false, error: msg }, EXIT.launch);
    return;
  }
  if (!fs.existsSync(opts.chromium)) {
    const msg = `Chromium not found at ${opts.chromium}: apt-get install chromium`;
    log(msg);
    report({ ok: false, error: msg }, EXIT.launch);
    return;
  }

  let chromium;
  try {
    ({ chromium } = await import('playwright-core'));
  } catch (e) {
    const msg = `playwright-core not installed (${e.message}): run npm ci --prefix tests/browser`;
    log(msg);
    report({ ok: false, error: msg }, EXIT.launch);
    return;
  }

  let browser = null;
  let pageServer = null;
  const cleanup = async () => {
    const tasks = [];
    if (browser) tasks.push(browser.close().catch(() => {}));
    if (pageServer) { pageServer.closeAllConnections?.(); tasks.push(new Promise((r) => pageServer.close(() => r()))); }
    await Promise.race([Promise.all(tasks), new Promise((r) => setTimeout(r, 5000))]);
    browser = null; pageServer = null;
  };
  const watchdog = setTimeout(async () => {
    log(`hard timeout after ${opts.timeout} s: giving up`);
    report({ ok: false, error: `hard timeout after ${opts.timeout} s`, url: opts.url }, EXIT.timeout);
    await cleanup();
    process.exit(EXIT.timeout);
  }, opts.timeout * 1000);
  watchdog.unref();

  try {
    pageServer = await startPageServer();
    const pageOrigin = `http://127.0.0.1:${pageServer.address().port}`;

    try {
      // playwright-core's launch() gives every browser a fresh temporary user-data-dir
      // (playwright_chromiumdev_profile-*) and removes it on close.
      browser = await chromium.launch({
        executablePath: opts.chromium, args: CHROMIUM_ARGS, headless: true, timeout: 30000,
      });
    } catch (e) {
      const msg = `cannot launch Chromium (${opts.chromium}): ${e.message.split('\n')[0]}`;
      log(msg);
      report({ ok: false, error: msg }, EXIT.launch);
      return;
    }

    const context = await browser.newContext({ serviceWorkers: 'block', bypassCSP: false });
    const page = await context.newPage();
    page.setDefaultTimeout(15000);

    const console_ = [];
    page.on('console', (m) => {
      const line = `[${m.type()}] ${m.text()}`;
      if (opts.debug) log(`console ${line}`);
      if (m.type() === 'error' || m.type() === 'warning') {
        if (console_.length < 200) console_.push(line.slice(0, 500));
      }
    });
    page.on('pageerror', (e) => { console_.push(`[pageerror] ${e.message}`.slice(0, 500)); });

    // Every request the page makes to anything but its own origin: kind, status, timing.
    let tStart = Date.now();
    const requests = [];
    const byRequest = new Map();
    const rel = () => Math.round(Date.now() - tStart) / 1000;
    page.on('request', (r) => {
      if (r.url().startsWith(pageOrigin) || !/^https?:/.test(r.url())) return;
      const rec = { t: rel(), kind: classify(r.url()), url: r.url(), status: null, ms: null, failure: null };
      requests.push(rec);
      byRequest.set(r, rec);
    });
    page.on('response', (resp) => {
      const rec = byRequest.get(resp.request());
      if (rec) rec.status = resp.status();
    });
    page.on('requestfinished', (r) => {
      const rec = byRequest.get(r);
      if (rec) rec.ms = Math.round((rel() - rec.t) * 1000);
    });
    page.on('requestfailed', (r) => {
      const rec = byRequest.get(r);
      if (rec) { rec.ms = Math.round((rel() - rec.t) * 1000); rec.failure = r.failure()?.errorText ?? 'failed'; }
    });

    await page.goto(opts.page ?? `${pageOrigin}/page.html`, { waitUntil: 'load' });
    const hasContract = await page.evaluate(() => ['startPlayer', 'playerStatus', 'collect'].every((f) => typeof window[f] === 'function'));
    if (!hasContract) throw new Error('the page lacks window.startPlayer/playerStatus/collect');

    tStart = Date.now();
    await page.evaluate((o) => window.startPlayer(o), {
      src: opts.url, mode: opts.mode, hlsConfig: opts.hlsConfig, level: opts.level,
      startLevel: opts.startLevel, debug: opts.debug,
    });
    const pageStart = await page.evaluate(() => window.playerStatus().startedAt);

    // Play for the requested time, firing scheduled actions, stopping early on a fatal error.
    let fatalAt = null;
    let stopReason = 'time';
    while (rel() < opts.seconds) {
      await page.waitForTimeout(250);
      for (const a of opts.actions) {
        if (!a.done && rel() >= a.at) {
          a.done = true;
          a.ok = await page.evaluate((x) => window.playerAction(x), { kind: a.kind, value: a.value });
        }
      }
      const st = await page.evaluate(() => window.playerStatus());
      if (st.fatal && opts.stopOnFatal) {
        fatalAt ??= rel();
        if (rel() - fatalAt >= 2) { stopReason = 'fatal error'; break; }
      }
      if (st.ended && opts.untilEnded) { stopReason = 'ended'; break; }
    }

    const S = await page.evaluate(() => window.collect());
    const browserVersion = browser.version();
    await cleanup();

    // Page times are relative to its script start; report everything relative to startPlayer().
    const shift = (t) => (t == null ? null : Math.round((t - pageStart) * 1000) / 1000);
    for (const list of [S.errors, S.frags, S.levelLoads, S.levelSwitches, S.videoEvents, S.samples]) {
      for (const x of list) x.t = shift(x.t);
    }
    for (const s of S.stalls) { s.start = shift(s.start); s.end = shift(s.end); }
    const firstPlaying = shift(S.firstPlayingAt);

    const after = S.samples.filter((s) => s.t >= opts.warmup);
    const played = S.samples.filter((s) => s.t != null && s.currentTime != null);
    const firstT = played.find((s) => s.currentTime > 0) ?? played[0];
    const lastT = played[played.length - 1];

    const kinds = {};
    const statuses = {};
    for (const r of requests) {
      kinds[r.kind] = (kinds[r.kind] ?? 0) + 1;
      statuses[r.status ?? 'none'] = (statuses[r.status ?? 'none'] ?? 0) + 1;
    }
    const playlistUrls = requests.filter((r) => r.kind.endsWith('playlist')).map((r) => r.url);
    const withMsnAndPart = playlistUrls.filter((u) => /[?&]_HLS_msn=\d+/.test(u) && /[?&]_HLS_part=\d+/.test(u));
    const partOk = requests.filter((r) => r.kind === 'part' && r.status === 200 && !r.failure);
    const failed = requests.filter((r) => r.failure || (r.status != null && r.status >= 400));
    const blocking = requests.filter((r) => r.kind === 'blocking_playlist' && r.ms != null).map((r) => r.ms / 1000);

    const bufferStalled = S.errors.filter((e) => e.details === 'bufferStalledError');
    const result = {
      ok: true,
      mode: opts.mode,
      url: opts.url,
      page_origin: pageOrigin,
      versions: { hlsjs: S.hlsVersion, chromium: browserVersion, node: process.versions.node },
      hls_config: S.hlsConfig ?? null,
      seconds: opts.seconds,
      stop_reason: stopReason,
      warmup: opts.warmup,
      playback: {
        first_playing_at: firstPlaying,
        current_time_start: firstT ? firstT.currentTime : null,
        current_time_end: S.currentTime,
        advanced: firstT ? Math.round((S.currentTime - firstT.currentTime) * 1000) / 1000 : 0,
        wall_span: firstT && lastT ? Math.round((lastT.t - firstT.t) * 1000) / 1000 : 0,
        ended: S.ended,
        duration: S.duration,
        video_size: S.videoSize,
        frames: lastT ? lastT.frames ?? null : null,
        dropped_frames: lastT ? lastT.dropped ?? null : null,
      },
      latency: opts.mode !== 'live' ? null : {
        hls: stats(after.map((s) => s.latency)),
        wall: stats(after.map((s) => s.wallLatency)),
        target: S.targetLatency,
        final_hls: lastT ? lastT.latency ?? null : null,
        final_wall: lastT ? lastT.wallLatency ?? null : null,
      },
      stalls: {
        count: S.stalls.length + 0,
        waiting_after_start: S.stalls,
        buffer_stalled_errors: bufferStalled.length,
        total_seconds: Math.round(S.stalls.reduce((a, s) => a + (s.duration ?? 0), 0) * 1000) / 1000,
      },
      errors: {
        fatal: S.errors.filter((e) => e.fatal),
        non_fatal_count: S.errors.filter((e) => !e.fatal).length,
        non_fatal: S.errors.filter((e) => !e.fatal).slice(0, 100),
      },
      levels: S.levels,
      level_switches: S.levelSwitches,
      actions: opts.actions.map(({ kind, value, at, done, ok }) => ({ kind, value, at, done, ok: ok ?? null })),
      requests: {
        total: requests.length,
        by_kind: kinds,
        by_status: statuses,
        failed: failed.slice(0, 50),
        failed_count: failed.length,
        playlist_with_msn_and_part: withMsnAndPart.length,
        parts_loaded: new Set(partOk.map((r) => r.url)).size,
        blocking_seconds: stats(blocking),
        sample_blocking_urls: withMsnAndPart.slice(0, 5),
        sample_part_urls: partOk.slice(0, 5).map((r) => r.url),
        log: requests,
      },
      hls_frag_loads: S.frags,
      hls_level_loads: S.levelLoads,
      video_events: S.videoEvents,
      samples: S.samples,
      console: console_,
    };
    report(result, EXIT.ok);
  } catch (e) {
    log(`run failed: ${e.message.split('\n')[0]}`);
    report({ ok: false, error: e.message.split('\n')[0], url: opts.url }, EXIT.failed);
  } finally {
    clearTimeout(watchdog);
    await cleanup();
  }
}

for (const sig of ['SIGINT', 'SIGTERM']) {
  process.once(sig, () => {
    report({ ok: false, error: `interrupted by ${sig}` }, EXIT.failed);
    process.exit(EXIT.failed); // playwright kills the browser it launched on exit
  });
}
await main();
