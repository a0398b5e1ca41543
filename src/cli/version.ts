import { readFileSync } from 'node:fs';

// The bundle (npm run build) replaces this with package.json's version; unbundled code reads package.json.
declare const NATSCOPE_PACKAGE_VERSION: string | undefined;

/** natscope's version, from package.json (the one place it is written). */
export function natscopeVersion(): string {
  if (typeof NATSCOPE_PACKAGE_VERSION === 'string') return NATSCOPE_PACKAGE_VERSION;
  // src/cli/version.ts and dist/cli/version.js both sit two folders below package.json.
  const manifest = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
  if (typeof manifest.version !== 'string') throw new Error('package.json has no version');
  return manifest.version;
}
