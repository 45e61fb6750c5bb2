// Bundle the console into OUTDIR (default dist/): app.js, app.css, index.html.
// Usage: node build.mjs [OUTDIR].  Everything comes from npm packages in
// node_modules: no CDN, so the console works on a closed network.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = resolve(process.argv[2] || join(here, 'dist'));
mkdirSync(out, { recursive: true });
await build({
  entryPoints: [join(here, 'src/main.js')],
  bundle: true,
  minify: true,
  sourcemap: false,
  target: ['chrome110', 'firefox110'],
  outfile: join(out, 'app.js'),
  legalComments: 'linked',
  logLevel: 'warning',
});
await build({
  entryPoints: [join(here, 'src/app.css')],
  bundle: true,
  minify: true,
  outfile: join(out, 'app.css'),
  logLevel: 'warning',
});
copyFileSync(join(here, 'src/index.html'), join(out, 'index.html'));
console.log(`console assets written to ${out}`);
