/**
 * Headless Chromium for the console's browser tests: Debian's `chromium`
 * driven by playwright-core (its own browser download does not work here),
 * with the flags that keep it off the network, and a fresh profile per
 * launch (playwright's temporary user data directory).
 */
import { chromium, type Browser } from 'playwright-core';
import { findBinary } from './peers.js';

export const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

export async function launchChromium(): Promise<Browser> {
  const executablePath = findBinary('chromium');
  if (executablePath === undefined) throw new Error('chromium is not installed: run .ci/install-peers.sh (Debian package chromium)');
  return chromium.launch({ executablePath, args: CHROMIUM_FLAGS, headless: true, timeout: 30_000 });
}
