// Startup benchmark (`npm run bench`): what one run of the action costs, whole process, against
//   - the floor: scripts/bench/floor.mjs, the same request with only node:https and node:crypto;
//   - the peer: scripts/bench/msal.mjs, an @azure/msal-node ConfidentialClientApplication script,
//     bundled with ncc at bench time as an action would ship it.
// All three get the runner's environment (INPUT_* variables, GITHUB_OUTPUT and friends) and talk
// to one local HTTPS token server started here. Runs are interleaved in rotating order, warm-up
// rounds are discarded, and ratios are medians of per-round ratios. Every run must exit 0, send
// exactly one token request and write the token it got to GITHUB_OUTPUT, or the bench stops.
//
//   npm run bench -- [--runs 30] [--warmup 3] [--node PATH] [--check]
import { spawn, spawnSync } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync
} from 'node:fs'
import { availableParallelism, cpus, release, tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { makeCert, makeTlsCert } from '../__tests__/support/certs.js'
import { parseFileCommand } from '../__tests__/support/run-action.js'
import { startTokenServer } from './bench/server.mjs'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')
const BENCH = join(ROOT, 'scripts', 'bench')
const DIST = join(ROOT, 'dist')
const KIB = 1024
const MIB = 1024 * 1024

const USAGE = `Usage: npm run bench -- [options]

  --runs N      measured rounds, each running all three once (default 30)
  --warmup N    rounds run first and discarded (default 3)
  --node PATH   run the three under this node binary (default: the one running the bench)
  --check       exit 1 when a target is missed (default: always exit 0, it is a measurement)
  --pfx         instead: the action loading NSS's 600,000-iteration 3DES PFX (the slowest real
                file) side by side with \`openssl pkcs12\` opening the same file (target: 1.5x)
  --pfx-file N  with --pfx: another file of the PFX corpus (__tests__/fixtures/pfx/N.pfx), with
                its password from corpus.json`

/** The targets, checked on the results (see README, "Startup and bundle size"). */
const TARGETS = {
  wallVsFloor: 1.15,
  wallVsMsal: 0.5,
  loadedBytes: 100 * KIB,
  distBytes: 300 * KIB,
  extraRssOverFloor: 10 * MIB,
  /** With identity-endpoint, the main step may take this much longer (it starts the service). */
  identityEndpointExtraMs: 150
}

const options = readOptions()
const started = process.hrtime.bigint()

if (!existsSync(join(DIST, 'index.js'))) {
  console.error('dist/index.js is missing: run `npm run package` first.')
  process.exit(1)
}

if (options.pfx) {
  await benchPfx()
  process.exit()
}

// Scratch files, the msal-node bundle among them, live outside the repository (lint, prettier).
const work = mkdtempSync(join(tmpdir(), 'bench-'))
/** @type {import('./bench/server.mjs').TokenServer | undefined} */
let server
try {
  console.log('Bundling the msal-node peer with ncc...')
  const msalScript = bundleMsal(join(work, 'msal'))
  const tls = makeTlsCert(work)
  server = await startTokenServer(tls)
  const contenders = [
    { title: 'this action', script: join(DIST, 'index.js') },
    { title: 'floor', script: join(BENCH, 'floor.mjs') },
    { title: 'msal-node', script: msalScript }
  ].map((c) => ({ ...c, clientId: randomUUID(), samples: /** @type {Sample[]} */ ([]) }))

  const runner = makeRunner(server, work, tls.caFile)
  const total = options.warmup + options.runs
  for (let round = 0; round < total; round++) {
    const measured = round >= options.warmup
    progress(`${measured ? 'Measuring' : 'Warming up'}: round ${round + 1} of ${total}`)
    // Rotate the order every round so no contender always runs first (or right after another).
    const order = contenders.map((_, i) => contenders[(round + i) % contenders.length])
    for (const contender of order) {
      const sample = await runner(contender)
      if (measured) contender.samples.push(sample)
    }
  }
  progress(`Ran ${total} rounds (${options.warmup} of them warm-up) of all three.\n`)

  const [action, floor, msal] = contenders
  const results = summarise(action, floor, msal)
  const machine = describeMachine()
  const service = await measureIdentityEndpoint(runner, action)
  console.log(`\n${markdownTable(results, machine)}`)
  console.log(`\n${service.text}`)
  console.log(`\n${detail(contenders)}`)
  console.log(`\n${describeRequests(server, contenders)}`)
  const failed = printTargets(results) || service.extraMs > TARGETS.identityEndpointExtraMs
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  console.log(`\nThe bench took ${seconds.toFixed(1)} s.`)
  if (options.check && failed) process.exitCode = 1
} catch (error) {
  console.error(`\nThe bench stopped: ${error instanceof Error ? error.message : error}`)
  process.exitCode = 1
} finally {
  await server?.close()
  rmSync(work, { recursive: true, force: true })
}

/**
 * One measured run of one contender.
 * @typedef {{ wallMs: number, cpuMs: number, rssBytes: number }} Sample
 * @typedef {{ title: string, script: string, clientId: string, samples: Sample[] }} Contender
 */

/**
 * Shows progress on one line of a terminal; elsewhere (CI logs, redirects) only the last message.
 * @param {string} message ending in a line break when it is the last
 */
function progress(message) {
  if (process.stderr.isTTY) process.stderr.write(`\r\x1b[K${message}`)
  else if (message.endsWith('\n')) process.stderr.write(message)
}

/**
 * @returns {{ runs: number, warmup: number, node: string, check: boolean, pfx: boolean,
 *   pfxFile: ReturnType<typeof corpusEntry> }}
 */
function readOptions() {
  /** @type {import('node:util').ParseArgsConfig['options']} */
  const spec = {
    runs: { type: 'string', default: '30' },
    warmup: { type: 'string', default: '3' },
    node: { type: 'string', default: process.execPath },
    check: { type: 'boolean', default: false },
    pfx: { type: 'boolean', default: false },
    'pfx-file': { type: 'string', default: 'nss-3des' },
    help: { type: 'boolean', default: false }
  }
  let values
  try {
    values = parseArgs({ options: spec }).values
  } catch (error) {
    console.error(`${error instanceof Error ? error.message : error}\n\n${USAGE}`)
    process.exit(2)
  }
  if (values.help) {
    console.log(USAGE)
    process.exit(0)
  }
  const count = (/** @type {string} */ name, /** @type {number} */ min) => {
    const value = Number(values[name])
    if (!Number.isInteger(value) || value < min) {
      console.error(`--${name} must be a whole number, at least ${min}.\n\n${USAGE}`)
      process.exit(2)
    }
    return value
  }
  const node = String(values.node)
  if (spawnSync(node, ['--version']).status !== 0) {
    console.error(`--node ${node}: not a node binary that runs.`)
    process.exit(2)
  }
  return {
    runs: count('runs', 1),
    warmup: count('warmup', 0),
    node,
    check: !!values.check,
    pfx: !!values.pfx,
    pfxFile: corpusEntry(String(values['pfx-file']))
  }
}

/**
 * Bundles scripts/bench/msal.mjs with ncc, as an action would ship it.
 * @param {string} out folder for the bundle
 * @returns {string} the bundle's path
 */
function bundleMsal(out) {
  const ncc = join(ROOT, 'node_modules', '@vercel', 'ncc', 'dist', 'ncc', 'cli.js')
  const build = spawnSync(
    process.execPath,
    [ncc, 'build', join(BENCH, 'msal.mjs'), '-o', out, '--quiet'],
    { cwd: ROOT, encoding: 'utf8' }
  )
  const bundle = join(out, 'index.mjs')
  if (build.status !== 0 || !existsSync(bundle)) {
    throw new Error(`ncc could not bundle scripts/bench/msal.mjs:\n${build.stdout}${build.stderr}`)
  }
  return bundle
}

/**
 * Makes the function that runs a contender once, the way the runner runs an action, and checks
 * that the run did the job: exit code 0, one token request to the server, its token in
 * GITHUB_OUTPUT.
 * @param {import('./bench/server.mjs').TokenServer} server
 * @param {string} dir scratch folder
 * @param {string} caFile the token server's certificate, for NODE_EXTRA_CA_CERTS
 * @returns {(contender: Contender, extra?: Record<string, string>) => Promise<Sample>}
 */
function makeRunner(server, dir, caFile) {
  const certificate = makeCert({ commonName: 'certificate-token-action bench' })
  const tenantId = randomUUID()
  const files = {
    GITHUB_OUTPUT: join(dir, 'output'),
    GITHUB_ENV: join(dir, 'env'),
    GITHUB_STATE: join(dir, 'state'),
    GITHUB_STEP_SUMMARY: join(dir, 'summary')
  }
  const usageFile = join(dir, 'usage.json')
  const preload = join(BENCH, 'usage.cjs')
  /** @type {Record<string, string>} */
  const inputs = {
    ...actionDefaults(),
    'tenant-id': tenantId,
    scope: 'api://bench/.default',
    certificate: certificate.keyPem + certificate.certPem,
    'authority-host': server.origin,
    'token-endpoint': `${server.origin}/${tenantId}/oauth2/v2.0/token`
  }
  /** @type {Record<string, string | undefined>} */
  const baseEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    GITHUB_WORKSPACE: dir,
    RUNNER_TEMP: dir,
    ...files,
    NODE_EXTRA_CA_CERTS: caFile,
    BENCH_USAGE_FILE: usageFile
  }
  for (const [name, value] of Object.entries(inputs)) baseEnv[`INPUT_${name.toUpperCase()}`] = value

  return async (contender, extra = {}) => {
    for (const file of [...Object.values(files), usageFile]) writeFileSync(file, '')
    const requestsBefore = server.requests.length
    const env = { ...baseEnv, 'INPUT_CLIENT-ID': contender.clientId, ...extra }
    const run = await timeChild(options.node, ['--require', preload, contender.script], env)
    // A token service started by the run (identity-endpoint) is stopped by the post step, untimed.
    const state = parseFileCommand(readFileSync(files.GITHUB_STATE, 'utf8'))['identity-endpoint']
    if (state) {
      await timeChild(options.node, [join(DIST, 'post.js')], {
        PATH: process.env.PATH,
        'STATE_identity-endpoint': state
      })
    }

    const fail = (/** @type {string} */ why) => {
      const printed = `${run.stdout}${run.stderr}`.trim().replace(/^/gm, '    ')
      throw new Error(`${contender.title}: ${why}\n${printed}`)
    }
    if (run.code !== 0) fail(`exited with ${run.code}`)
    const requests = server.requests.slice(requestsBefore)
    if (requests.length !== 1 || requests[0].clientId !== contender.clientId) {
      fail(`sent ${requests.map((r) => `${r.method} ${r.path}`).join(', ') || 'no request'}`)
    }
    const token = parseFileCommand(readFileSync(files.GITHUB_OUTPUT, 'utf8'))['access-token']
    if (!token || !server.issued.has(token)) fail('did not write the issued token to GITHUB_OUTPUT')
    const usage = readFileSync(usageFile, 'utf8')
    if (!usage) fail('left no resource usage (was the preload loaded?)')
    const { user, system, maxRSS } = JSON.parse(usage)
    return { wallMs: run.wallMs, cpuMs: (user + system) / 1000, rssBytes: maxRSS * KIB }
  }
}

/**
 * The main step's cost of identity-endpoint: the action with and without it, paired and in
 * rotating order, each run with identity-endpoint followed by its (untimed) post step.
 * @param {(contender: Contender, extra?: Record<string, string>) => Promise<Sample>} runner
 * @param {Contender} action
 * @returns {Promise<{ text: string, extraMs: number }>}
 */
async function measureIdentityEndpoint(runner, action) {
  const runs = Math.max(5, Math.min(options.runs, 15))
  /** @type {number[]} */
  const plain = []
  /** @type {number[]} */
  const served = []
  for (let round = 0; round < runs + 1; round++) {
    progress(`identity-endpoint: round ${round + 1} of ${runs + 1}`)
    const pair = [
      async () => (await runner(action)).wallMs,
      async () => (await runner(action, { 'INPUT_IDENTITY-ENDPOINT': 'true' })).wallMs
    ]
    const [first, second] = round % 2 ? [pair[1], pair[0]] : pair
    const a = await first()
    const b = await second()
    if (round === 0) continue // warm-up
    plain.push(round % 2 ? b : a)
    served.push(round % 2 ? a : b)
  }
  progress(`identity-endpoint: ${runs} rounds.\n`)
  const extraMs = median(served.map((ms, i) => ms - plain[i]))
  const met = extraMs <= TARGETS.identityEndpointExtraMs ? 'met' : 'MISSED'
  const text =
    `identity-endpoint (${runs} paired rounds): the main step takes ${median(plain).toFixed(0)} ms without, ` +
    `${median(served).toFixed(0)} ms with it (starting the token service and one request to it): ` +
    `${extraMs.toFixed(0)} ms more, target at most ${TARGETS.identityEndpointExtraMs} ms: ${met}.`
  return { text, extraMs }
}

/**
 * Spawns `node args` and times it from spawn to exit.
 * @param {string} node
 * @param {string[]} args
 * @param {Record<string, string | undefined>} env
 * @returns {Promise<{ code: number | null, wallMs: number, stdout: string, stderr: string }>}
 */
function timeChild(node, args, env) {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint()
    const child = spawn(node, args, {
      env: /** @type {NodeJS.ProcessEnv} */ (env),
      stdio: ['ignore', 'pipe', 'pipe']
    })
    let wallMs = 0
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk) => (stdout += chunk))
    child.stderr.on('data', (chunk) => (stderr += chunk))
    child.on('error', reject)
    child.on('exit', () => (wallMs = Number(process.hrtime.bigint() - start) / 1e6))
    child.on('close', (code) => resolve({ code, wallMs, stdout, stderr }))
  })
}

/** The inputs' defaults from action.yml, which the runner passes as INPUT_* like any input. */
function actionDefaults() {
  const yml = readFileSync(join(ROOT, 'action.yml'), 'utf8')
  const block = yml.slice(yml.indexOf('\ninputs:'), yml.indexOf('\noutputs:'))
  /** @type {Record<string, string>} */
  const defaults = {}
  let input = ''
  for (const line of block.split('\n')) {
    input = /^ {2}([\w-]+):\s*$/.exec(line)?.[1] ?? input
    const value = /^ {4}default:\s*'(.*)'\s*$/.exec(line)?.[1]
    if (input && value !== undefined) defaults[input] = value.replace(/''/g, "'")
  }
  return defaults
}

/** @param {number[]} values */
function median(values) {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

/** @param {number[]} values @param {number} p 0..1 */
function quantile(values, p) {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.round(p * (sorted.length - 1)))]
}

/**
 * Medians, paired ratios and sizes.
 * @param {Contender} action
 * @param {Contender} floor
 * @param {Contender} msal
 */
function summarise(action, floor, msal) {
  /** @param {keyof Sample} metric */
  const row = (metric) => {
    const pick = (/** @type {Contender} */ c) => c.samples.map((s) => s[metric])
    /** @param {Contender} other */
    const ratio = (other) =>
      median(action.samples.map((s, i) => s[metric] / other.samples[i][metric]))
    return {
      action: median(pick(action)),
      floor: median(pick(floor)),
      msal: median(pick(msal)),
      vsFloor: ratio(floor),
      vsMsal: ratio(msal)
    }
  }
  const js = readdirSync(DIST).filter((f) => f.endsWith('.js'))
  const sizes = {
    action: js.reduce((sum, f) => sum + statSync(join(DIST, f)).size, 0),
    dist: readdirSync(DIST).reduce((sum, f) => sum + statSync(join(DIST, f)).size, 0),
    actionIndex: statSync(join(DIST, 'index.js')).size,
    actionAtStart: staticImports('index.js').reduce(
      (sum, f) => sum + statSync(join(DIST, f)).size,
      0
    ),
    actionFiles: js.length,
    floor: statSync(floor.script).size,
    msal: statSync(msal.script).size
  }
  return {
    runs: action.samples.length,
    wall: row('wallMs'),
    cpu: row('cpuMs'),
    rss: row('rssBytes'),
    extraRss: median(action.samples.map((s, i) => s.rssBytes - floor.samples[i].rssBytes)),
    sizes
  }
}

/** @typedef {ReturnType<typeof summarise>} Results */

/**
 * A file of dist/ and the chunks it imports statically, transitively: the JavaScript every run
 * loads. Chunks behind a dynamic import() (PFX support) are left out.
 * @param {string} file
 * @param {Set<string>} [seen]
 * @returns {string[]}
 */
function staticImports(file, seen = new Set()) {
  seen.add(file)
  const code = readFileSync(join(DIST, file), 'utf8')
  for (const [, chunk] of code.matchAll(/(?:\bfrom|\bimport)\s*["']\.\/([^"']+\.js)["']/g)) {
    if (!seen.has(chunk)) staticImports(chunk, seen)
  }
  return [...seen]
}

/** CPU, cores, OS and the children's node version. */
function describeMachine() {
  let cpu = cpus()[0]?.model ?? 'unknown CPU'
  try {
    const info = readFileSync('/proc/cpuinfo', 'utf8')
    cpu = /^model name\s*:\s*(.+)$/m.exec(info)?.[1].trim() ?? cpu
  } catch {
    // Not Linux: os.cpus() is good enough.
  }
  const node = spawnSync(options.node, ['-p', 'process.version'], {
    encoding: 'utf8'
  }).stdout.trim()
  return { cpu, cores: availableParallelism(), os: `${process.platform} ${release()}`, node }
}

/**
 * The table for the README.
 * @param {Results} r
 * @param {ReturnType<typeof describeMachine>} machine
 */
function markdownTable(r, machine) {
  const ms = (/** @type {number} */ v) => `${v.toFixed(1)} ms`
  const mib = (/** @type {number} */ v) => `${(v / MIB).toFixed(1)} MiB`
  const kib = (/** @type {number} */ v) => `${(v / KIB).toFixed(1)} KiB`
  const x = (/** @type {number} */ v) => `${v.toFixed(2)}×`
  /** @param {string} label @param {Results['wall']} row @param {(v: number) => string} unit */
  const line = (label, row, unit) =>
    `| ${label} | ${unit(row.action)} | ${unit(row.floor)} | ${unit(row.msal)} | ${x(row.vsFloor)} | ${x(row.vsMsal)} |`
  const s = r.sizes
  return [
    `| median of ${r.runs} runs | this action | floor | msal-node | action ÷ floor | action ÷ msal-node |`,
    '| --- | --: | --: | --: | --: | --: |',
    line('wall time, start to exit', r.wall, ms),
    line('CPU time, user + system', r.cpu, ms),
    line('peak memory (max RSS)', r.rss, mib),
    `| JavaScript shipped | ${kib(s.action)} in ${s.actionFiles} files (\`index.js\` ${kib(s.actionIndex)}) | ${kib(s.floor)} | ${kib(s.msal)} | | ${x(s.action / s.msal)} |`,
    '',
    `Node ${machine.node} on ${machine.cpu} (${machine.cores} cores), ${machine.os}. Floor: ` +
      '`scripts/bench/floor.mjs`, the same request with only `node:https` and `node:crypto`. ' +
      'msal-node: `scripts/bench/msal.mjs`, `@azure/msal-node` ' +
      `${msalVersion()} \`ConfidentialClientApplication\` bundled with ncc. ` +
      `${r.runs} rounds after warm-up, interleaved in rotating order against one local HTTPS ` +
      'token server; ratios are medians of the per-round ratios.'
  ].join('\n')
}

function msalVersion() {
  const manifest = join(ROOT, 'node_modules', '@azure', 'msal-node', 'package.json')
  return JSON.parse(readFileSync(manifest, 'utf8')).version
}

/**
 * The spread behind the medians (not for the README).
 * @param {Contender[]} contenders
 */
function detail(contenders) {
  const rows = contenders.map((c) => {
    const wall = c.samples.map((s) => s.wallMs)
    const cpu = c.samples.map((s) => s.cpuMs)
    return (
      `  ${c.title.padEnd(12)} wall min ${Math.min(...wall).toFixed(1)}, p25 ${quantile(wall, 0.25).toFixed(1)}, ` +
      `p75 ${quantile(wall, 0.75).toFixed(1)}, max ${Math.max(...wall).toFixed(1)} ms; ` +
      `CPU p25 ${quantile(cpu, 0.25).toFixed(1)}, p75 ${quantile(cpu, 0.75).toFixed(1)} ms`
    )
  })
  return ['Spread:', ...rows].join('\n')
}

/**
 * What the token server saw, warm-up included: each kind of request, and from whom.
 * @param {import('./bench/server.mjs').TokenServer} server
 * @param {Contender[]} contenders
 */
function describeRequests(server, contenders) {
  /** @type {Map<string, Map<string, number>>} */
  const kinds = new Map()
  for (const request of server.requests) {
    const path = request.path.replace(/^\/[^/]+/, '/<tenant>')
    const kind = `${request.method} ${path} → ${request.status}`
    const from = contenders.find((c) => c.clientId === request.clientId)?.title ?? 'no client_id'
    const counts = kinds.get(kind) ?? new Map()
    counts.set(from, (counts.get(from) ?? 0) + 1)
    kinds.set(kind, counts)
  }
  const lines = [...kinds].map(
    ([kind, counts]) => `  ${kind}: ${[...counts].map(([from, n]) => `${from} ${n}`).join(', ')}`
  )
  return [`Token server, ${server.requests.length} requests in all:`, ...lines].join('\n')
}

/**
 * Prints PASS/FAIL per target; returns whether any failed.
 * @param {Results} r
 */
function printTargets(r) {
  const checks = [
    [
      `wall time: action ≤ ${TARGETS.wallVsFloor.toFixed(2)} × floor`,
      r.wall.vsFloor <= TARGETS.wallVsFloor,
      `${r.wall.vsFloor.toFixed(2)} ×`
    ],
    [
      `wall time: action ≤ ${TARGETS.wallVsMsal.toFixed(2)} × msal-node`,
      r.wall.vsMsal <= TARGETS.wallVsMsal,
      `${r.wall.vsMsal.toFixed(2)} ×`
    ],
    [
      `all of dist/ ≤ ${TARGETS.distBytes / KIB} KiB`,
      r.sizes.dist <= TARGETS.distBytes,
      `${(r.sizes.dist / KIB).toFixed(1)} KiB`
    ],
    [
      `dist/*.js loaded on every run ≤ ${TARGETS.loadedBytes / KIB} KiB`,
      r.sizes.actionAtStart <= TARGETS.loadedBytes,
      `${(r.sizes.actionAtStart / KIB).toFixed(1)} KiB`
    ],
    [
      `peak memory: action ≤ floor + ${TARGETS.extraRssOverFloor / MIB} MiB`,
      r.extraRss <= TARGETS.extraRssOverFloor,
      `${r.extraRss >= 0 ? '+' : ''}${(r.extraRss / MIB).toFixed(1)} MiB`
    ]
  ]
  console.log('\nTargets:')
  for (const [name, pass, value] of checks) {
    console.log(`  ${pass ? 'PASS' : 'FAIL'}  ${String(name).padEnd(40)} ${value}`)
  }
  console.log(
    '  (the rest of dist/*.js is loaded only when asked for: the PKCS#12 reader for a PFX, the token service and its post step with identity-endpoint)'
  )
  const floorVsMsal = r.wall.vsMsal / r.wall.vsFloor
  if (floorVsMsal > TARGETS.wallVsMsal) {
    console.log(
      `  (the floor itself is ${floorVsMsal.toFixed(2)} × msal-node here: no implementation can reach ${TARGETS.wallVsMsal.toFixed(2)} ×)`
    )
  }
  return checks.some(([, pass]) => !pass)
}

/**
 * A file of the PFX corpus by name, with its password (corpus.json).
 * @param {string} name
 * @returns {{ name: string, file: string, password: string, options: string }}
 */
function corpusEntry(name) {
  const corpus = join(ROOT, '__tests__', 'fixtures', 'pfx')
  /** @type {{ name: string, options: string, password?: string }[]} */
  const entries = JSON.parse(readFileSync(join(corpus, 'corpus.json'), 'utf8'))
  const entry = entries.find((e) => e.name === name)
  if (!entry || !existsSync(join(corpus, `${name}.pfx`))) {
    console.error(`--pfx-file ${name}: no such file in ${corpus}.\n\n${USAGE}`)
    process.exit(2)
  }
  const file = join(corpus, `${name}.pfx`)
  return { name, file, password: entry.password ?? '', options: entry.options }
}

/**
 * The PFX side (`--pfx`): the whole action (dist/index.js, as the runner starts it, getting a token
 * from the local server) with `certificate-file` set to NSS's 600,000-iteration 3DES file (or
 * `--pfx-file`), against `openssl pkcs12 -nodes` opening the same file, in turn, ratios taken pair
 * by pair.
 */
async function benchPfx() {
  const PFX_TARGET = 1.5
  const { file, password } = options.pfxFile
  const dir = mkdtempSync(join(tmpdir(), 'bench-pfx-'))
  const tls = makeTlsCert(dir)
  const pfxServer = await startTokenServer(tls)
  try {
    const tenantId = randomUUID()
    const output = join(dir, 'output')
    /** @type {Record<string, string | undefined>} */
    const env = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      GITHUB_WORKSPACE: dir,
      RUNNER_TEMP: dir,
      GITHUB_OUTPUT: output,
      GITHUB_STEP_SUMMARY: join(dir, 'summary'),
      NODE_EXTRA_CA_CERTS: tls.caFile
    }
    const inputs = {
      ...actionDefaults(),
      'client-id': randomUUID(),
      'tenant-id': tenantId,
      scope: 'api://bench/.default',
      'certificate-file': file,
      'certificate-password': password,
      'token-endpoint': `${pfxServer.origin}/${tenantId}/oauth2/v2.0/token`
    }
    for (const [name, value] of Object.entries(inputs)) env[`INPUT_${name.toUpperCase()}`] = value
    const action = async () => {
      writeFileSync(output, '')
      const run = await timeChild(options.node, [join(DIST, 'index.js')], env)
      const token = parseFileCommand(readFileSync(output, 'utf8'))['access-token']
      if (run.code !== 0 || !token || !pfxServer.issued.has(token)) {
        throw new Error(`the action did not get a token with ${file}:\n${run.stdout}${run.stderr}`)
      }
      return run.wallMs
    }
    const openssl = async () => {
      const args = [
        'pkcs12',
        '-in',
        file,
        '-passin',
        `pass:${password}`,
        '-nodes',
        '-out',
        join(dir, 'out.pem')
      ]
      const run = await timeChild('openssl', args, { PATH: process.env.PATH })
      if (run.code !== 0) throw new Error(`openssl pkcs12 failed:\n${run.stderr}`)
      return run.wallMs
    }
    /** @type {{ action: number, openssl: number }[]} */
    const pairs = []
    for (let round = 0; round < options.warmup + options.runs; round++) {
      progress(`PFX: round ${round + 1} of ${options.warmup + options.runs}`)
      // Alternate which goes first, so neither always runs on a machine warmed by the other.
      const first = round % 2 ? await openssl() : await action()
      const second = round % 2 ? await action() : await openssl()
      const pair =
        round % 2 ? { action: second, openssl: first } : { action: first, openssl: second }
      if (round >= options.warmup) pairs.push(pair)
    }
    progress('\n')
    const ratio = median(pairs.map((p) => p.action / p.openssl))
    const ms = (/** @type {number} */ v) => `${v.toFixed(0)} ms`
    console.log(
      `\n${options.pfxFile.name}.pfx (${options.pfxFile.options}): ${options.runs} pairs, node ${options.node}`
    )
    console.log(`| | median wall | p90 |`)
    console.log(`| --- | --- | --- |`)
    for (const key of /** @type {const} */ (['action', 'openssl'])) {
      const values = pairs.map((p) => p[key])
      const title =
        key === 'action' ? 'this action (whole run, token included)' : '`openssl pkcs12 -nodes`'
      console.log(`| ${title} | ${ms(median(values))} | ${ms(quantile(values, 0.9))} |`)
    }
    // The target is for the slowest real file; a faster one is mostly the action's startup.
    const targeted = options.pfxFile.name === 'nss-3des'
    const met = !targeted || ratio <= PFX_TARGET
    const verdict = targeted ? ` (target <= ${PFX_TARGET}: ${met ? 'met' : 'MISSED'})` : ''
    console.log(`\naction / openssl, median of pair ratios: ${ratio.toFixed(2)}${verdict}`)
    if (options.check && !met) process.exitCode = 1
  } finally {
    await pfxServer.close()
    rmSync(dir, { recursive: true, force: true })
  }
}
