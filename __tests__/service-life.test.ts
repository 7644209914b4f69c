// The token service's life on real runners, through the action's processes (dist/): behind a
// corporate proxy with real clients, against a real `kill -USR1` and a job's NODE_OPTIONS, with a
// worker that exits, and what it leaves on disk and in the log.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { execFile, spawnSync } from 'node:child_process'
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
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { makeCert, makeTlsCert } from './support/certs.js'
import { startEntraServer } from './support/entra-server.js'
import { posixOnly } from './support/platform.js'
import { startRecordingProxy } from './support/recording-proxy.js'
import {
  isRunning,
  listening,
  startService,
  stopService,
  type Started
} from './support/token-service.js'
import { ACTION, ROOT, parseFileCommand, spawnNode } from './support/run-action.js'

const CLIENT = randomUUID()
const TENANT = randomUUID()
const VAULT = 'https://vault.azure.net'
const dir = mkdtempSync(join(tmpdir(), 'service-life-'))
const tls = makeTlsCert(dir)
const cert = makeCert({ commonName: 'service life app' })
// portable: where /usr/bin/python3 is absent, python3 on PATH; skipped without azure-identity.
const PYTHON = ['/usr/bin/python3'].find((python) => existsSync(python)) ?? 'python3'
const hasAzureIdentity = spawnSync(PYTHON, ['-c', 'import azure.identity']).status === 0
const hasCurl = spawnSync('curl', ['--version']).status === 0

let server: Awaited<ReturnType<typeof startEntraServer>>

beforeAll(async () => {
  server = await startEntraServer({
    apps: [{ clientId: CLIENT, tenantId: TENANT, certificates: [cert.cert] }],
    tls: { keyPem: tls.keyPem, certPem: tls.certPem },
    resources: ['https://graph.microsoft.com', VAULT]
  })
})
afterAll(async () => {
  await server.close()
  rmSync(dir, { recursive: true, force: true })
})

const INPUTS = (): Record<string, string> => ({
  'client-id': CLIENT,
  'tenant-id': TENANT,
  'authority-host': server.url,
  certificate: cert.keyPem + cert.certPem,
  scope: 'https://graph.microsoft.com/.default',
  'identity-endpoint': 'true'
})

/** The main step with identity-endpoint, as the runner runs it, in a job with `env`. */
function start(env: Record<string, string> = {}): Promise<Started> {
  return startService({ dir, inputs: INPUTS(), env: { NODE_EXTRA_CA_CERTS: tls.caFile, ...env } })
}

const post = stopService

async function until(done: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms
  while (Date.now() < end) {
    if (done()) return true
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
  return done()
}

/** A request for a token as App Service's clients send it; the status. */
function askToken(started: Started): Promise<number> {
  const url = new URL(started.stepEnv.IDENTITY_ENDPOINT!)
  url.search = `api-version=2019-08-01&resource=${encodeURIComponent(VAULT)}`
  return new Promise((resolve) => {
    const req = request(url, { headers: { 'X-IDENTITY-HEADER': started.stepEnv.IDENTITY_HEADER! } })
    req.on('response', (res) => {
      res.resume()
      resolve(res.statusCode ?? 0)
    })
    req.on('error', () => resolve(0))
    req.end()
  })
}

/** A later step's program; its first output line (a token's hash, or `error: …`). */
function later(
  program: string,
  args: string[],
  env: Record<string, string | undefined>
): Promise<string> {
  return new Promise((resolve) => {
    execFile(program, args, { env: env as NodeJS.ProcessEnv, timeout: 60_000 }, (_, stdout) =>
      resolve(stdout.split(/\r?\n/)[0])
    )
  })
}

describe('identity-endpoint behind a proxy', () => {
  it('exports NO_PROXY and no_proxy with 127.0.0.1: every real client reaches the service, the proxy sees nothing', async () => {
    const proxy = await startRecordingProxy()
    try {
      const started = await start({
        HTTP_PROXY: proxy.url,
        HTTPS_PROXY: proxy.url,
        // curl reads only the lowercase spelling for http:// URLs.
        http_proxy: proxy.url,
        NO_PROXY: 'localhost,.corp.example'
      })
      expect(started.main.exported.NO_PROXY).toBe('localhost,.corp.example,127.0.0.1')
      expect(started.main.exported.no_proxy).toBe('localhost,.corp.example,127.0.0.1')
      expect(started.main.warnings).toEqual([])
      const env = started.stepEnv
      const clients: [string, string, string[]][] = [
        [
          'ManagedIdentityCredential',
          process.execPath,
          [
            join(ROOT, '__tests__', 'support', 'mi-clients.mjs'),
            'managed-identity-credential',
            VAULT
          ]
        ],
        [
          'DefaultAzureCredential',
          process.execPath,
          [join(ROOT, '__tests__', 'support', 'mi-clients.mjs'), 'default-azure-credential', VAULT]
        ]
      ]
      if (hasAzureIdentity) {
        clients.push([
          'azure-identity (Python)',
          PYTHON,
          [join(ROOT, '__tests__', 'support', 'mi_client.py'), VAULT]
        ])
      }
      if (hasCurl) {
        const url = `${env.IDENTITY_ENDPOINT}?api-version=2019-08-01&resource=${VAULT}`
        clients.push([
          'curl',
          'curl',
          [
            '-s',
            '-o',
            join(dir, 'curl-body'),
            '-w',
            '%{http_code}',
            '-H',
            `X-IDENTITY-HEADER: ${env.IDENTITY_HEADER}`,
            url
          ]
        ])
      }
      const reached: Record<string, boolean> = {}
      for (const [name, program, args] of clients) {
        const line = await later(program, args, env)
        reached[name] = name === 'curl' ? line === '200' : line.includes('"sha256"')
      }
      expect(reached).toEqual(Object.fromEntries(clients.map(([name]) => [name, true])))
      expect(proxy.seen).toEqual([])
      await post(started)
    } finally {
      await proxy.close()
    }
  })

  it('keeps a NO_PROXY that already covers 127.0.0.1, and exports nothing without a proxy', async () => {
    const covered = await start({
      https_proxy: 'http://127.0.0.1:9',
      NO_PROXY: '*',
      no_proxy: 'x,127.0.0.1'
    })
    expect(covered.main.exported.NO_PROXY).toBeUndefined()
    expect(covered.main.exported.no_proxy).toBeUndefined()
    await post(covered)
    const none = await start({ NO_PROXY: 'localhost' })
    expect(none.main.exported.NO_PROXY).toBeUndefined()
    expect(none.main.exported.no_proxy).toBeUndefined()
    await post(none)
  })
})

describe('identity-endpoint: no inspector, no preload', () => {
  posixOnly(
    '(POSIX: signals) a real kill -USR1 opens no inspector, and the service still serves',
    async () => {
      const started = await start()
      try {
        const before = await listening(9229)
        process.kill(started.pid, 'SIGUSR1')
        await new Promise((resolve) => setTimeout(resolve, 1000))
        expect(isRunning(started.pid)).toBe(true)
        // An inspector client starts by connecting to 9229: nothing answers there, as before.
        expect({ before, after: await listening(9229) }).toEqual({ before: false, after: false })
        expect(await askToken(started)).toBe(200)
      } finally {
        await post(started)
      }
    }
  )

  it("a job's NODE_OPTIONS (--require, --inspect) does not reach the service", async () => {
    const marks = join(dir, `marks-${randomUUID()}`)
    const preload = join(dir, `preload-${randomUUID()}.cjs`)
    writeFileSync(marks, '')
    writeFileSync(
      preload,
      `require('node:fs').appendFileSync(${JSON.stringify(marks)}, process.pid + '\\n')\n`
    )
    const started = await start({ NODE_OPTIONS: `--require=${preload}` })
    try {
      const pids = readFileSync(marks, 'utf8').split(/\r?\n/).filter(Boolean).map(Number)
      // The main step ran it, as the runner's node does; the service did not.
      expect(pids).toHaveLength(1)
      expect(pids).not.toContain(started.pid)
      expect(await askToken(started)).toBe(200)
    } finally {
      await post(started)
    }
    const inspected = await start({ NODE_OPTIONS: '--inspect=0' })
    try {
      expect(await askToken(inspected)).toBe(200)
      if (process.platform === 'linux') {
        const environ = readFileSync(`/proc/${inspected.pid}/environ`, 'utf8')
        expect(environ.split('\0').filter((v) => v.startsWith('NODE_'))).toEqual([
          'NODE_EXTRA_CA_CERTS=' + tls.caFile
        ])
      }
    } finally {
      await post(inspected)
    }
  })
})

describe('identity-endpoint: its log and the main step log', () => {
  it('shows the endpoint as a readable URL and masks the path secret on its own', async () => {
    const started = await start()
    await post(started)
    const endpoint = started.main.exported.IDENTITY_ENDPOINT
    expect(started.main.log).toContain(
      `Serving fresh tokens to later steps at ${endpoint} (IDENTITY_ENDPOINT`
    )
    const pathSecret = new URL(started.main.outputs['msi-endpoint']).pathname.split('/')[1]
    expect(pathSecret).toMatch(/^[\w-]{43}$/)
    expect(started.main.masked).toContain(pathSecret)
    expect(started.main.log).not.toContain(pathSecret)
  })

  posixOnly('(POSIX: file modes) creates its log 0600, and the post step removes it', async () => {
    const started = await start()
    const logs = readdirSync(started.temp).filter((f) => f.startsWith('identity-endpoint-'))
    expect(logs).toHaveLength(1)
    expect(statSync(join(started.temp, logs[0])).mode & 0o777).toBe(0o600)
    await post(started)
    expect(readdirSync(started.temp).filter((f) => f.startsWith('identity-endpoint-'))).toEqual([])
  })
})

describe('identity-endpoint: its lifetime follows the job', () => {
  it("serves well after 15 s while the runner's worker lives, and ends within 20 s of the worker's exit", async () => {
    // The worker: a process that runs the main step as the runner's worker does, then exits.
    const temp = mkdtempSync(join(dir, 'runner-temp-'))
    const files = Object.fromEntries(
      ['GITHUB_OUTPUT', 'GITHUB_ENV', 'GITHUB_STATE', 'GITHUB_STEP_SUMMARY'].map((name) => {
        const file = join(temp, name.toLowerCase())
        writeFileSync(file, '')
        return [name, file]
      })
    )
    const inputs = Object.fromEntries(
      Object.entries(INPUTS()).map(([name, value]) => [`INPUT_${name.toUpperCase()}`, value])
    )
    const holdMs = 17_000
    const worker = `const r = require('node:child_process').spawnSync(process.execPath, [${JSON.stringify(ACTION)}], { stdio: 'ignore' }); setTimeout(() => process.exit(r.status ?? 1), ${holdMs})`
    const exited = spawnNode(
      ['-e', worker],
      {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        NODE_EXTRA_CA_CERTS: tls.caFile,
        RUNNER_TEMP: temp,
        ...files,
        ...inputs
      },
      60_000
    )
    expect(
      await until(() => readFileSync(files.GITHUB_STATE, 'utf8').includes('pid'), 30_000)
    ).toBe(true)
    const state = parseFileCommand(readFileSync(files.GITHUB_STATE, 'utf8'))['identity-endpoint']
    const exportedEnv = parseFileCommand(readFileSync(files.GITHUB_ENV, 'utf8'))
    const { pid, port } = JSON.parse(state) as { pid: number; port: number }
    const started = { stepEnv: exportedEnv, pid, port } as unknown as Started
    await new Promise((resolve) => setTimeout(resolve, 15_500))
    // Past the first watches (every 15 s): it watches the worker, not itself or the main step.
    expect(await askToken(started)).toBe(200)
    expect((await exited).code).toBe(0)
    expect(await until(() => !isRunning(pid), 20_000)).toBe(true)
    expect(await listening(port)).toBe(false)
  }, 90_000)

  it("ends when the runner empties RUNNER_TEMP at the job's end (a container job's watch)", async () => {
    const started = await start()
    expect(isRunning(started.pid)).toBe(true)
    rmSync(started.temp, { recursive: true, force: true })
    expect(await until(() => !isRunning(started.pid), 20_000)).toBe(true)
  }, 60_000)
})
