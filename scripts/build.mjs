// Builds dist/ with esbuild: the action as one CommonJS bundle, tree-shaken and minified, the
// PKCS#12 support as a second file that only a PFX loads, the token service and the post step
// (identity-endpoint) as two more; plus dist/package.json and
// dist/licenses.txt. Why esbuild and not ncc, and why CommonJS: see README, "Startup and bundle size".
import { build } from 'esbuild'
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const dist = join(root, 'dist')

/** @type {import('esbuild').BuildOptions} */
const common = {
  absWorkingDir: root,
  bundle: true,
  // CommonJS: Node loads built-in modules for require() without the ESM facade, which for node:http
  // reads every export, lazy getters included, and so loads Node's internal undici (~40 ms on
  // Node 24); and the CommonJS loader starts faster than the ESM one.
  format: 'cjs',
  platform: 'node',
  target: 'node24',
  minify: true,
  legalComments: 'none',
  metafile: true,
  logLevel: 'warning'
}

// @actions/core's summary module reads fs.promises when it loads, which makes Node load its
// promise-based fs (about 2 ms) on every run; this action writes the summary synchronously and
// never calls those functions. The patch reads fs.promises on first use instead.
const SUMMARY_LINE = 'const { access, appendFile, writeFile } = promises;'
/** @type {import('esbuild').Plugin} */
const lazySummaryFs = {
  name: 'lazy-summary-fs',
  setup(build) {
    build.onLoad({ filter: /@actions[\\/]core[\\/]lib[\\/]summary\.js$/ }, (args) => {
      const source = readFileSync(args.path, 'utf8')
      if (!source.includes(SUMMARY_LINE))
        throw new Error(`${args.path} changed: update lazySummaryFs`)
      const lazy = ['access', 'appendFile', 'writeFile'].map(
        (f) => `${f} = (...a) => promises.${f}(...a)`
      )
      return { contents: source.replace(SUMMARY_LINE, `const ${lazy.join(', ')};`), loader: 'js' }
    })
  }
}

// keys/credential.ts loads the PKCS#12 reader on demand (`import('./pkcs12/pfx.js')`); in dist/
// it is pfx.js beside index.js, its own file, so a run with a PEM never loads it.
/** @type {import('esbuild').Plugin} */
const pfxBeside = {
  name: 'pfx-beside',
  setup(build) {
    build.onResolve({ filter: /(^|\/)pfx\.js$/ }, () => ({ path: './pfx.js', external: true }))
  }
}

rmSync(dist, { recursive: true, force: true })
const results = await Promise.all([
  build({
    ...common,
    entryPoints: { index: 'src/index.ts' },
    outdir: 'dist',
    plugins: [lazySummaryFs, pfxBeside],
    alias: {
      undici: './scripts/stubs/undici.js',
      '@actions/exec': './scripts/stubs/exec.js',
      tunnel: './scripts/stubs/tunnel.cjs'
    }
  }),
  build({ ...common, entryPoints: { pfx: 'src/keys/pkcs12/pfx.ts' }, outdir: 'dist' }),
  // The worker thread that derives a PFX's keys beside the main one (keys/pkcs12/threads.ts): it
  // loads pfx.js for the KDF instead of a copy.
  build({
    ...common,
    entryPoints: { 'kdf-worker': 'src/keys/pkcs12/kdf-worker.ts' },
    outdir: 'dist',
    plugins: [pfxBeside]
  }),
  // The token service (identity-endpoint) and the post step that stops it: started only when
  // asked for, so a run without them loads neither.
  build({
    ...common,
    entryPoints: { service: 'src/service/index.ts', post: 'src/action/post.ts' },
    outdir: 'dist',
    plugins: [lazySummaryFs],
    alias: {
      undici: './scripts/stubs/undici.js',
      '@actions/exec': './scripts/stubs/exec.js',
      tunnel: './scripts/stubs/tunnel.cjs'
    }
  })
])

writeFileSync(join(dist, 'package.json'), '{ "type": "commonjs" }\n')

// Every package that ended up in the bundles, with its license text.
/** @type {Map<string, string>} */
const packages = new Map()
for (const result of results) {
  for (const output of Object.values(result.metafile?.outputs ?? {})) {
    for (const input of Object.keys(output.inputs)) {
      const match = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(input)
      if (match) packages.set(match[1], join(root, 'node_modules', match[1]))
    }
  }
}
const notices = [...packages].sort().map(([name, dir]) => {
  const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'))
  const file = ['LICENSE', 'LICENSE.md', 'LICENSE.txt', 'license']
    .map((f) => join(dir, f))
    .find(existsSync)
  const text = file
    ? readFileSync(file, 'utf8').trim()
    : `${manifest.license} (no license file shipped)`
  return `${name}@${manifest.version}\n${manifest.license}\n\n${text}\n`
})
writeFileSync(
  join(dist, 'licenses.txt'),
  notices.join('\n----------------------------------------\n\n')
)

for (const result of results) {
  for (const [file, output] of Object.entries(result.metafile?.outputs ?? {})) {
    console.log(`${String(output.bytes).padStart(8)}  ${file}`)
  }
}
