// Builds dist/ with esbuild: one ESM bundle, tree-shaken and minified, PKCS#12 support split into
// its own chunk (loaded only for a PFX), plus dist/package.json and dist/licenses.txt.
// Why not ncc: see README, "Startup and bundle size".
import { build } from 'esbuild'
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'

const root = join(dirname(new URL(import.meta.url).pathname), '..')
const dist = join(root, 'dist')

rmSync(dist, { recursive: true, force: true })
const result = await build({
  absWorkingDir: root,
  entryPoints: ['src/index.ts'],
  outdir: 'dist',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node24',
  minify: true,
  legalComments: 'none',
  chunkNames: '[name]-[hash]',
  alias: { undici: './scripts/stubs/undici.js' },
  // CommonJS dependencies (tunnel, node-forge) call require() for Node's built-in modules.
  banner: {
    js: "import{createRequire as __createRequire}from'node:module';const require=__createRequire(import.meta.url);"
  },
  metafile: true,
  logLevel: 'warning'
})

writeFileSync(join(dist, 'package.json'), '{ "type": "module" }\n')

// Every package that ended up in the bundle, with its license text.
const packages = new Map()
for (const output of Object.values(result.metafile.outputs)) {
  for (const input of Object.keys(output.inputs)) {
    const match = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(input)
    if (match) packages.set(match[1], join(root, 'node_modules', match[1]))
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

for (const [file, output] of Object.entries(result.metafile.outputs)) {
  console.log(`${String(output.bytes).padStart(8)}  ${file}`)
}
