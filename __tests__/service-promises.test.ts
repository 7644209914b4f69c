// Promises about identity-endpoint and its neighbours as a user sees them: through the action's
// processes (dist/index.js, dist/post.js, dist/service.js) where the promise is about them.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { randomBytes, randomUUID } from 'node:crypto'
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { spawn } from 'node:child_process'
import { connect, createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DerError, parse } from '../src/keys/pkcs12/der.js'
import { coversLoopback, noProxyFor } from '../src/action/no-proxy.js'
import { createLog } from '../src/log.js'
import { serviceEnvironment } from '../src/service/start.js'
import { makeCert, makeTlsCert } from './support/certs.js'
import { startEntraServer } from './support/entra-server.js'
import { linuxOnly, posixOnly } from './support/platform.js'
import { ROOT, runAction, spawnNode } from './support/run-action.js'
import { isRunning } from './support/token-service.js'

const CLIENT = randomUUID()
const TENANT = randomUUID()
const dir = mkdtempSync(join(tmpdir(), 'service-promises-'))
const tls = makeTlsCert(dir)
const cert = makeCert({ commonName: 'service promises app' })
let server: Awaited<ReturnType<typeof startEntraServer>>

beforeAll(async () => {
  server = await startEntraServer({
    apps: [{ clientId: CLIENT, tenantId: TENANT, certificates: [cert.cert] }],
    tls: { keyPem: tls.keyPem, certPem: tls.certPem },
    resources: [
      'https://graph.microsoft.com',
      'https://vault.azure.net',
      'https://storage.azure.com',
      'https://management.azure.com'
    ]
  })
})
afterAll(async () => {
  await server.close()
  rmSync(dir, { recursive: true, force: true })
})

const inputs = (extra: Record<string, string>): Record<string, string> => ({
  'client-id': CLIENT,
  'tenant-id': TENANT,
  'authority-host': server.url,
  certificate: cert.keyPem + cert.certPem,
  scope: 'https://graph.microsoft.com/.default',
  ...extra
})

async function run(extra: Record<string, string>) {
  const temp = mkdtempSync(join(dir, 'runner-temp-'))
  return runAction(inputs(extra), { env: { NODE_EXTRA_CA_CERTS: tls.caFile, RUNNER_TEMP: temp } })
}

/** A raw request on a socket; the status line's code, or 0 when the connection fails. */
function raw(host: string, port: number, text: string): Promise<number> {
  return new Promise((resolve) => {
    const socket = connect({ host, port }, () => socket.write(text))
    let got = ''
    socket.on('data', (d: Buffer) => (got += d.toString('latin1')))
    socket.on('close', () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(got)?.[1] ?? 0)))
    socket.on('error', () => resolve(0))
    socket.setTimeout(5000, () => socket.destroy())
  })
}

describe('identity-endpoint as an input', () => {
  it("'false' starts nothing; a value neither true nor false, or with assertion-only, is refused", async () => {
    const off = await run({ 'identity-endpoint': 'false' })
    expect(off.errors).toEqual([])
    expect(off.state).toEqual({})
    expect(off.exported.IDENTITY_ENDPOINT).toBeUndefined()
    const odd = await run({ 'identity-endpoint': 'yes please' })
    expect(odd.code).toBe(1)
    expect(odd.errors).toHaveLength(1)
    expect(odd.errors[0]).toContain("'identity-endpoint'")
    expect(odd.state).toEqual({})
    const both = await run({ 'identity-endpoint': 'true', 'assertion-only': 'true' })
    expect(both.code).toBe(1)
    expect(both.errors).toEqual([
      "Input 'identity-endpoint' acts on the access token, and 'assertion-only' requests none: remove 'identity-endpoint', or 'assertion-only'."
    ])
    expect(both.state).toEqual({})
  })

  it('needs the state file when it starts the service', async () => {
    const temp = mkdtempSync(join(dir, 'runner-temp-'))
    const noState = await runAction(inputs({ 'identity-endpoint': 'true' }), {
      env: { NODE_EXTRA_CA_CERTS: tls.caFile, RUNNER_TEMP: temp, GITHUB_STATE: '' }
    })
    expect(noState.code).toBe(1)
    expect(noState.errors).toHaveLength(1)
    expect(noState.errors[0]).toMatch(/^GITHUB_STATE is not set/)
  })

  it('an export-variable name is matched from its start and to its end', async () => {
    for (const name of ['my_GRAPH_TOKEN', 'GRAPH_TOKEN\nPATH', 'PATH\nGRAPH_TOKEN']) {
      const refused = await run({ 'export-variable': name })
      expect({ name, code: refused.code, errors: refused.errors.length }).toEqual({
        name,
        code: 1,
        errors: 1
      })
      expect(refused.errors[0]).toContain("Input 'export-variable'")
      expect(refused.exported).toEqual({})
    }
  })
})

describe('identity-endpoint: the service as later steps and post: meet it', () => {
  let started: Awaited<ReturnType<typeof run>>
  let pid: number
  let port: number
  let header: string
  beforeAll(async () => {
    started = await run({ 'identity-endpoint': 'true' })
    expect(started.errors).toEqual([])
    ;({ pid, port } = JSON.parse(started.state['identity-endpoint']) as {
      pid: number
      port: number
    })
    header = started.exported.IDENTITY_HEADER
  })

  linuxOnly('(Linux: /proc) runs in a process group of its own', () => {
    const stat = readFileSync(join('/proc', String(pid), 'stat'), 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    // state, ppid, pgrp, session (proc(5))
    expect(Number(fields[2])).toBe(pid)
  })

  linuxOnly(
    '(Linux: all of 127/8 is local) listens on 127.0.0.1 alone: 127.0.0.2 is refused',
    async () => {
      expect(await raw('127.0.0.2', port, 'GET / HTTP/1.1\r\n\r\n')).toBe(0)
    }
  )

  it('/stop needs the stop key: the identity header alone is refused', async () => {
    const status = await raw(
      '127.0.0.1',
      port,
      `POST /stop HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nX-IDENTITY-HEADER: ${header}\r\nX-Stop-Key: ${header}\r\nContent-Length: 0\r\n\r\n`
    )
    expect(status).toBeGreaterThanOrEqual(400)
    expect(isRunning(pid)).toBe(true)
  })

  it('refuses a request with a chunked body', async () => {
    const status = await raw(
      '127.0.0.1',
      port,
      `GET /msi/token?api-version=2019-08-01&resource=https://graph.microsoft.com HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nX-IDENTITY-HEADER: ${header}\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n`
    )
    expect(status).toBe(413)
  })

  posixOnly(
    '(POSIX: SIGSTOP) post: ends a service that does not answer the stop request',
    async () => {
      process.kill(pid, 'SIGSTOP')
      const post = await spawnNode(
        [join(ROOT, 'dist', 'post.js')],
        { PATH: process.env.PATH, 'STATE_identity-endpoint': started.state['identity-endpoint'] },
        30_000
      )
      await new Promise((resolve) => setTimeout(resolve, 500))
      const alive = isRunning(pid)
      if (alive) process.kill(pid, 'SIGKILL')
      expect(alive).toBe(false)
      expect(post.stdout).toContain('::warning::')
    },
    40_000
  )
})

describe("post:'s job summary", () => {
  it('escapes a resource a later step asked for (<img becomes &lt;img)', async () => {
    const started = await run({ 'identity-endpoint': 'true' })
    const state = started.state['identity-endpoint']
    const resource = 'https://graph.microsoft.com/<img src=x onerror=alert(1)>'
    const url = new URL(started.exported.IDENTITY_ENDPOINT)
    url.searchParams.set('api-version', '2019-08-01')
    url.searchParams.set('resource', resource)
    const answer = await fetch(url, {
      headers: { 'X-IDENTITY-HEADER': started.exported.IDENTITY_HEADER }
    })
    // The token server knows no such resource: a refusal, counted in the report.
    expect(answer.status).toBe(400)
    const summary = join(mkdtempSync(join(dir, 'post-summary-')), 'summary.md')
    const post = await spawnNode(
      [join(ROOT, 'dist', 'post.js')],
      {
        PATH: process.env.PATH,
        GITHUB_STEP_SUMMARY: summary,
        'STATE_identity-endpoint': state
      },
      30_000
    )
    expect(post.code).toBe(0)
    const text = readFileSync(summary, 'utf8')
    expect(text).toContain('https://graph.microsoft.com/&lt;img src=x onerror=alert(1)&gt;')
    expect(text).not.toContain('<img')
  })
})

describe("the service's log and post:", () => {
  it('show no token it obtained and no secret an error answer quotes, opaque ones included', async () => {
    const started = await run({ 'identity-endpoint': 'true' })
    const state = started.state['identity-endpoint']
    const { logFile } = JSON.parse(state) as { logFile: string }
    const ask = async (resource: string) => {
      const url = new URL(started.exported.IDENTITY_ENDPOINT)
      url.searchParams.set('api-version', '2019-08-01')
      url.searchParams.set('resource', resource)
      const answer = await fetch(url, {
        headers: { 'X-IDENTITY-HEADER': started.exported.IDENTITY_HEADER }
      })
      return { status: answer.status, body: await answer.text() }
    }
    // Opaque tokens, not JWTs: found only by the key that holds them.
    const opaque = () => randomBytes(120).toString('base64url')
    const in503 = opaque()
    const in400 = opaque()
    const quoting = (status: number, secret: string) => ({
      status,
      body: JSON.stringify({
        error: status === 503 ? 'temporarily_unavailable' : 'invalid_request',
        // The explanation quotes the token the answer holds: shown, it must read ***.
        error_description: `The token ${secret} is not accepted here.`,
        access_token: secret
      })
    })
    server.faults.push(quoting(503, in503), quoting(503, in503))
    const busy = await ask('https://vault.azure.net')
    server.faults.length = 0
    server.faults.push(quoting(400, in400))
    const refused = await ask('https://storage.azure.com')
    server.faults.length = 0
    const fine = await ask('https://management.azure.com')
    const obtained = (JSON.parse(fine.body) as { access_token: string }).access_token

    expect([busy.status, refused.status, fine.status]).toEqual([503, 400, 200])
    expect(server.issued).toContain(obtained)
    const log = readFileSync(logFile, 'utf8')
    const post = await spawnNode(
      [join(ROOT, 'dist', 'post.js')],
      { PATH: process.env.PATH, 'STATE_identity-endpoint': state },
      30_000
    )
    for (const text of [log, post.stdout, post.stderr, busy.body, refused.body]) {
      for (const secret of [in503, in400, obtained]) expect(text).not.toContain(secret)
    }
    expect(log).toContain('https://vault.azure.net')
    expect(log).toContain('https://storage.azure.com')
  })
})

describe('post: and a PID taken since', () => {
  it("leaves alone the process that now holds a gone service's PID", async () => {
    // A process of the user's that took the PID of a service gone long ago, and a port where
    // nothing listens any more.
    const other = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60_000)'], {
      stdio: 'ignore'
    })
    const free = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const { port } = probe.address() as { port: number }
        probe.close(() => resolve(port))
      })
    })
    const state = JSON.stringify({
      pid: other.pid,
      port: free,
      stopKey: randomBytes(32).toString('base64url'),
      logFile: join(dir, 'gone.log')
    })
    const post = await spawnNode(
      [join(ROOT, 'dist', 'post.js')],
      { PATH: process.env.PATH, 'STATE_identity-endpoint': state },
      30_000
    )
    const alive = isRunning(other.pid!)
    other.kill('SIGKILL')
    expect(alive).toBe(true)
    expect(post.stdout).toContain('::warning::')
  })
})

describe('post: and a service that died', () => {
  posixOnly('(POSIX: SIGKILL) warns, and shows the last lines of a long service log', async () => {
    const started = await run({ 'identity-endpoint': 'true' })
    const state = started.state['identity-endpoint']
    const { pid, logFile } = JSON.parse(state) as { pid: number; logFile: string }
    process.kill(pid, 'SIGKILL')
    const lines = Array.from({ length: 80 }, (_, i) => `line ${i + 1}`)
    appendFileSync(logFile, lines.join('\n') + '\n')
    const post = await spawnNode(
      [join(ROOT, 'dist', 'post.js')],
      { PATH: process.env.PATH, 'STATE_identity-endpoint': state },
      30_000
    )
    const printed = post.stdout.split(/\r?\n/)
    expect(printed.filter((l) => l.startsWith('::warning::'))).toHaveLength(1)
    expect(printed).toContain('  line 80')
    expect(printed).not.toContain('  line 1')
    expect(printed.filter((l) => /^ {2}line \d+$/.test(l))).toHaveLength(50)
    expect(existsSync(logFile)).toBe(false)
  })
})

describe("the service's start", () => {
  it('passes on only the variables it needs, each name matched whole', () => {
    const job = {
      PATH: 'the-path',
      PATH_TOKEN: 'x',
      MYPATH: 'x',
      HOME: 'the-home',
      HTTPS_PROXY: 'http://proxy:3128',
      no_proxy: 'localhost',
      NO_PROXY_EXTRA: 'x',
      NODE_OPTIONS: '--require=/tmp/x.js',
      NODE_EXTRA_CA_CERTS: '/ca.pem',
      NODE_INSPECT_RESUME_ON_START: '1',
      RUNNER_TRACKING_ID: 'github_1',
      RUNNER_ENVIRONMENT: 'self-hosted',
      RUNNER_TOKEN: 'x',
      INPUT_CERTIFICATE: 'x',
      ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'x'
    }
    expect(serviceEnvironment(job)).toEqual({
      PATH: 'the-path',
      HOME: 'the-home',
      HTTPS_PROXY: 'http://proxy:3128',
      no_proxy: 'localhost',
      NODE_EXTRA_CA_CERTS: '/ca.pem',
      RUNNER_TRACKING_ID: 'github_1',
      RUNNER_ENVIRONMENT: 'self-hosted'
    })
  })

  it('adds 127.0.0.1 to NO_PROXY unless `*` or 127.0.0.1 is already there', () => {
    expect(noProxyFor({ NO_PROXY: 'localhost' })).toEqual({})
    expect(noProxyFor({ HTTPS_PROXY: 'http://p:1', NO_PROXY: 'localhost,.corp.example' })).toEqual({
      NO_PROXY: 'localhost,.corp.example,127.0.0.1',
      no_proxy: 'localhost,.corp.example,127.0.0.1'
    })
    expect(noProxyFor({ ALL_PROXY: 'socks5://p:1', NO_PROXY: 'a', no_proxy: 'b,' })).toEqual({
      NO_PROXY: 'a,127.0.0.1',
      no_proxy: 'b,127.0.0.1'
    })
    expect(noProxyFor({ http_proxy: 'http://p:1' })).toEqual({
      NO_PROXY: '127.0.0.1',
      no_proxy: '127.0.0.1'
    })
    expect(
      noProxyFor({ http_proxy: 'http://p:1', NO_PROXY: '*', no_proxy: 'x, 127.0.0.1' })
    ).toEqual({})
    // Not read alike by every client: added all the same.
    expect(coversLoopback('127.0.0.0/8')).toBe(false)
    expect(coversLoopback('127.0.0.10')).toBe(false)
    expect(coversLoopback('localhost')).toBe(false)
  })
})

describe('older promises', () => {
  it('a DER element whose length runs one byte past its parent is refused', () => {
    // SEQUENCE of 3 bytes holding an OCTET STRING that claims 2 bytes of content with 1 left.
    expect(() => parse(Buffer.from([0x30, 0x03, 0x04, 0x02, 0xaa, 0xbb]))).toThrow(DerError)
  })

  it("a short secret that ends inside a longer one leaves none of the longer one's tail", () => {
    const printed: string[] = []
    const masked: string[] = []
    const print = (line: string): void => void printed.push(line)
    const log = createLog({
      info: print,
      warning: print,
      error: print,
      debug: print,
      setFailed: print,
      setSecret: (value) => void masked.push(value),
      isDebug: () => false
    })
    const long = 'LONGSECRET-0123456789-abcdefghij'
    const short = 'xyzLONGSEC'
    log.secret(long)
    log.secret(short)
    log.info(`before xyz${long} after`)
    expect(printed).toEqual(['before *** after'])
    expect(masked).toEqual([long, short])
  })
})
