// The landing page in a real browser: Debian's headless Chromium driven by playwright-core.
// A file chosen with the picker and a file dropped on the zone are ingested and their public
// parameters shown; a broken file shows its line and reason; a file over the limit is stopped
// before it is sent. Screenshots go to test-artifacts/ at the repository root.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { startLandingZone, type LandingRequestEntry, type LandingZone } from '../src/landing.ts';
import {
  brokenConf,
  brokenLine,
  makeDirs,
  providerConf,
  repoRoot,
  type Dirs,
} from './fixtures/landing/helpers.ts';

const CHROMIUM = '/usr/bin/chromium';
const skip = existsSync(CHROMIUM)
  ? undefined
  : `${CHROMIUM} is missing (apt-get install chromium; scripts/setup.sh does)`;
if (skip) console.log(`landing page browser tests skipped: ${skip}`);
const it = skip ? test.skip : test;

const artifacts = join(repoRoot, 'test-artifacts');
const phone = { width: 390, height: 844 };
const desktop = { width: 1100, height: 760 };

let dirs: Dirs;
let zone: LandingZone;
let profile: string;
let context: BrowserContext;
const requests: LandingRequestEntry[] = [];
const problems: string[] = [];

test.before(async () => {
  if (skip) return;
  dirs = makeDirs();
  zone = await startLandingZone({
    listen: '127.0.0.1:0',
    landingDir: dirs.landing,
    keyDir: dirs.keyDir,
    configDir: dirs.configDir,
    watch: false,
    log: (entry) => {
      if (entry.kind === 'request') requests.push(entry);
    },
  });
  profile = mkdtempSync(join(tmpdir(), 'nv-chromium-'));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport: phone,
    deviceScaleFactor: 2,
  });
  mkdirSync(artifacts, { recursive: true });
});

test.after(async () => {
  await context?.close();
  await zone?.close();
  dirs?.remove();
  if (profile) rmSync(profile, { recursive: true, force: true });
});

async function openPage(viewport = phone): Promise<Page> {
  const page = await context.newPage();
  await page.setViewportSize(viewport);
  page.on('console', (message) => {
    // Chromium reports every answer that is not 2xx; a refusal (422) is expected.
    if (message.type() === 'error' && !/status of 422/.test(message.text())) {
      problems.push(message.text());
    }
  });
  page.on('pageerror', (error) => problems.push(error.message));
  await page.goto(zone.url);
  return page;
}

it('the page renders with nothing blocked by its policy', async () => {
  const page = await openPage();
  try {
    assert.is(await page.title(), 'netvault · landing zone');
    assert.ok(await page.isVisible('text=Drop a WireGuard'));
    assert.ok(await page.isVisible('label.button'));
    const width = (await page.evaluate('document.documentElement.scrollWidth')) as number;
    assert.ok(width <= phone.width, `no sideways scrolling on a phone (${width}px)`);
    await page.screenshot({
      path: join(artifacts, 'landing-zone-empty-phone.png'),
      fullPage: true,
    });
    assert.equal(problems, []);
  } finally {
    await page.close();
  }
});

it('a file from the picker is ingested and its public parameters shown, never the key', async () => {
  const page = await openPage();
  try {
    const provider = providerConf();
    await page.setInputFiles('#file', {
      name: 'nl-ams-01.conf',
      mimeType: 'text/plain',
      buffer: Buffer.from(provider.text),
    });
    const card = page.locator('.card.ok');
    await card.waitFor({ timeout: 10_000 });
    const text = await card.innerText();
    assert.match(text, /Ingested nl-ams-01\.conf/);
    assert.match(text, /10\.34\.0\.7\/32, fd7d:76ee:e68f:a993::7\/128/);
    assert.match(text, /198\.18\.0\.53, 2001:db8::53/);
    assert.match(text, /198\.18\.10\.20:51820/);
    assert.ok(text.includes(provider.peerKey));
    assert.match(text, /0600/);
    const html = await page.content();
    assert.not.ok(html.includes(provider.privateKey), 'the private key is not on the page');
    assert.not.ok(html.includes(provider.presharedKey));
    await page.screenshot({
      path: join(artifacts, 'landing-zone-ingested-phone.png'),
      fullPage: true,
    });
    assert.equal(problems, []);
  } finally {
    await page.close();
  }
});

it('a file dropped on the zone is ingested too', async () => {
  const page = await openPage(desktop);
  try {
    const provider = providerConf();
    // Runs in the page; the workspace is type-checked without the DOM library.
    const transfer = await page.evaluateHandle((text) => {
      const page = globalThis as any;
      const data = new page.DataTransfer();
      data.items.add(new page.File([text], 'dropped.conf', { type: 'text/plain' }));
      return data;
    }, provider.text);
    await page.dispatchEvent('#zone', 'dragover', { dataTransfer: transfer });
    await page.dispatchEvent('#zone', 'drop', { dataTransfer: transfer });
    await page.locator('.card.ok').waitFor({ timeout: 10_000 });
    assert.match(await page.locator('.card.ok').innerText(), /Ingested dropped\.conf/);
    await page.screenshot({ path: join(artifacts, 'landing-zone-ingested-desktop.png') });
  } finally {
    await page.close();
  }
});

it('a broken file shows the line number and the reason', async () => {
  const page = await openPage();
  try {
    await page.setInputFiles('#file', {
      name: 'broken.conf',
      mimeType: 'text/plain',
      buffer: Buffer.from(brokenConf().text),
    });
    const card = page.locator('.card.bad');
    await card.waitFor({ timeout: 10_000 });
    const text = await card.innerText();
    assert.match(text, /Refused broken\.conf/);
    assert.match(text, new RegExp(`Line ${brokenLine}, PersistentKeepalive`));
    assert.match(text, new RegExp(`broken\\.conf:${brokenLine}: PersistentKeepalive: expected`));
    await page.screenshot({
      path: join(artifacts, 'landing-zone-refused-phone.png'),
      fullPage: true,
    });
    assert.equal(problems, []);
  } finally {
    await page.close();
  }
});

it('a file over 64 KiB is stopped in the page, before it is sent', async () => {
  const page = await openPage();
  try {
    const before = requests.filter((e) => e.path === '/upload').length;
    await page.setInputFiles('#file', {
      name: 'huge.conf',
      mimeType: 'text/plain',
      buffer: Buffer.alloc(70_000, 0x23),
    });
    await page.locator('.card.bad').waitFor({ timeout: 10_000 });
    assert.match(await page.locator('.card.bad').innerText(), /Too large/);
    assert.is(requests.filter((e) => e.path === '/upload').length, before);
  } finally {
    await page.close();
  }
});

test.run();
