// Bundles the CLI (src/cli/main.ts) into dist/cli/main.js with esbuild: one file for yargs and the command
// declarations, and chunks that the command handlers load with import() (protocol code, stun, ora, cli-table3).
// Loading ~150 small ES modules one by one is most of an unbundled start-up; see bench/startup.mjs.
import { build } from 'esbuild';
import { readFileSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { NARROW_TEXT_SOURCE } from './narrow-text.mjs';

// string-width (under yargs' cliui, wrap-ansi and ora) builds an Intl.Segmenter when it is imported and runs text
// through it: loading ICU's segmentation data and compiling the emoji regexes cost 20-100 ms of every start-up
// (yargs renders the command's help on every run, to have it ready for errors). Two source edits, applied only to
// the bundle: build the segmenter on first use, and, before the segmenting loop, return the length of a string of
// one-column characters (NARROW_TEXT_SOURCE: printable ASCII, as string-width 8 does upstream, and the narrow
// symbols natscope's help uses, such as § × ≥ →; only with the default "ambiguous is narrow").
// The build fails if a line is not found, so a dependency update cannot silently undo them.
const SEGMENTER_LINE = 'const segmenter = new Intl.Segmenter();';
const LAZY_SEGMENTER = 'let segmenterInstance; const segmenter = { segment: (text) => (segmenterInstance ??= new Intl.Segmenter()).segment(text) };';
const LOOP_START = '\tlet width = 0;\n\tconst eastAsianWidthOptions = {ambiguousAsWide: !ambiguousIsNarrow};\n';
const NARROW_FAST_PATH = `\tif (ambiguousIsNarrow && /${NARROW_TEXT_SOURCE}/.test(string)) {\n\t\treturn string.length;\n\t}\n\n`;
const fastStringWidth = {
  name: 'fast-string-width',
  setup(build) {
    build.onLoad({ filter: /[\\/]string-width[\\/]index\.js$/ }, async ({ path }) => {
      let source = await readFile(path, 'utf8');
      if (!source.includes('Intl.Segmenter')) return undefined; // string-width 4 (cli-table3's) has none
      const fail = (what) => {
        throw new Error(`${path}: ${what} not found; update scripts/bundle-cli.mjs`);
      };
      if (!source.includes(SEGMENTER_LINE)) fail(`"${SEGMENTER_LINE}"`);
      source = source.replace(SEGMENTER_LINE, LAZY_SEGMENTER);
      if (!source.includes(LOOP_START)) fail('the start of the width loop');
      source = source.replace(LOOP_START, NARROW_FAST_PATH + LOOP_START);
      return { contents: source, loader: 'js' };
    });
  },
};

const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
rmSync(new URL('../dist/cli/chunks', import.meta.url), { recursive: true, force: true });
await build({
  // The STUN server's cluster workers start from their own entry (dist/cli/stun-worker.js, beside main.js).
  entryPoints: { main: 'src/cli/main.ts', 'stun-worker': 'src/cli/stun-worker.ts' },
  outdir: 'dist/cli',
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20.19',
  // Node 20 has the RegExp `v` flag; without this esbuild rewrites /…/v literals (string-width's \p{RGI_Emoji}) as
  // new RegExp(), which V8 compiles at import (~30 ms) instead of on first use (never, for plain text).
  supported: { 'regexp-set-notation': true },
  minify: true,
  sourcemap: true,
  legalComments: 'linked',
  // The version shown by --version and sent as SOFTWARE comes from package.json.
  define: { NATSCOPE_PACKAGE_VERSION: JSON.stringify(version) },
  // Bundled CommonJS dependencies (yargs' helpers, cli-table3, stun) call require() for Node's built-ins.
  banner: { js: "import { createRequire as __natscopeCreateRequire } from 'node:module'; const require = __natscopeCreateRequire(import.meta.url);" },
  plugins: [fastStringWidth],
  logLevel: 'warning',
});
