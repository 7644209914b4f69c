// identity-endpoint end to end, as the runner runs it: the main step (dist/index.js) starts the
// token service and ends; later steps, separate processes that read GITHUB_ENV, sign in with real
// client libraries (@azure/identity, msal-node, Python's azure-identity) and the terraform
// binary; then the post step (dist/post.js), with the STATE_* value the runner passes, stops it.
// Against the Entra-like HTTPS server, which checks every assertion as Entra does.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { execFile, spawnSync } from 'node:child_process'
import { createHash, randomUUID } from 'node:crypto'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { makeCert, makeTlsCert } from './support/certs.js'
import { startEntraServer } from './support/entra-server.js'
import { linuxOnly } from './support/platform.js'
import { ROOT, runAction, runnerLog, spawnNode } from './support/run-action.js'
import {
  isRunning,
  listening,
  startService,
  stopService,
  type Started
} from './support/token-service.js'
import { hasTerraform, initAzurermBackend } from './support/terraform.js'
import { containerNotFound, startInspectingProxy } from './support/inspecting-proxy.js'

type Server = Awaited<ReturnType<typeof startEntraServer>>

const CLIENT = randomUUID()
const TENANT = randomUUID()
const dir = mkdtempSync(join(tmpdir(), 'identity-endpoint-'))
const tls = makeTlsCert(dir)
const cert = makeCert({ commonName: 'identity endpoint app' })
/** Debian's Python, which has python3-azure (.ci/run installs it). */
// portable: where it is absent, python3 on PATH is tried, and the test is skipped without azure-identity.
const PYTHON = ['/usr/bin/python3'].find((python) => existsSync(python)) ?? 'python3'
const withAzureIdentity =
  spawnSync(PYTHON, ['-c', 'import azure.identity']).status === 0 ? it : it.skip
const withTerraform = hasTerraform ? it : it.skip
const RESOURCES = [
  'https://graph.microsoft.com',
  'https://vault.azure.net',
  'https://management.core.windows.net/'
]

let server: Server
let shortLived: Server

beforeAll(async () => {
  const app = { clientId: CLIENT, tenantId: TENANT, certificates: [cert.cert] }
  const options = {
    apps: [app],
    tls: { keyPem: tls.keyPem, certPem: tls.certPem },
    resources: [...RESOURCES, 'https://storage.azure.com']
  }
  server = await startEntraServer(options)
  // Tokens that live 2 s: every request finds the last one too close to its end (under 5 min).
  shortLived = await startEntraServer({ ...options, tokenLifetime: 2 })
})
afterAll(async () => {
  await server.close()
  await shortLived.close()
  rmSync(dir, { recursive: true, force: true })
})

/** The main step with identity-endpoint, as the runner runs it, against `on`. */
function start(
  on: Server = server,
  extra: Record<string, string> = {},
  env: Record<string, string> = {}
): Promise<Started> {
  return startService({
    dir,
    inputs: {
      'client-id': CLIENT,
      'tenant-id': TENANT,
      'authority-host': on.url,
      certificate: cert.keyPem + cert.certPem,
      scope: 'https://graph.microsoft.com/.default',
      ...extra
    },
    env: { NODE_EXTRA_CA_CERTS: tls.caFile, ...env }
  })
}

const post = stopService

/** One raw request to the service; its status and body. */
function ask(
  port: number,
  path: string,
  headers: Record<string, string>,
  method = 'GET'
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path, method, headers, setHost: false },
      (res) => {
        let body = ''
        res.on('data', (chunk: Buffer) => (body += chunk))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
      }
    )
    req.on('error', reject)
    req.end()
  })
}

/** Runs a program other than node, as a later step would, and returns what it printed. */
function spawnProgram(
  program: string,
  args: string[],
  env: Record<string, string | undefined>
): Promise<{ stdout: string }> {
  return new Promise((resolve, reject) => {
    execFile(program, args, { env: env as NodeJS.ProcessEnv, timeout: 60_000 }, (error, stdout) =>
      error && !stdout ? reject(error) : resolve({ stdout })
    )
  })
}

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex')

/** A later step: a client library in its own process. */
async function client(
  started: Started,
  kind: 'managed-identity-credential' | 'default-azure-credential' | 'msal-node' | 'python',
  resources: string[]
): Promise<{ resource: string; sha256: string; expiresOn: number }[]> {
  const args =
    kind === 'python'
      ? [join(ROOT, '__tests__', 'support', 'mi_client.py'), ...resources]
      : [join(ROOT, '__tests__', 'support', 'mi-clients.mjs'), kind, ...resources]
  // Asynchronous, as the token server runs in this process.
  const { stdout: output } = await (kind === 'python'
    ? spawnProgram(PYTHON, args, started.stepEnv)
    : spawnNode(args, started.stepEnv, 60_000))
  return output
    .trim()
    .split(/\r?\n/)
    .map((line) => {
      if (line.startsWith('error:')) throw new Error(line)
      return JSON.parse(line) as { resource: string; sha256: string; expiresOn: number }
    })
}

describe('identity-endpoint: the token service for later steps', () => {
  it('serves tokens for two resources to each real client, and the post step stops it and reports', async () => {
    const started = await start()
    // The main step has exited and released its pipes (runAction waits for both), while the
    // service it started answers.
    expect(isRunning(started.pid)).toBe(true)
    expect(started.endpoint).toBe(`http://127.0.0.1:${started.port}/msi/token`)
    expect(started.main.masked).toContain(started.header)
    expect(started.main.outputs['identity-endpoint']).toBe(started.endpoint)

    const kinds = ['managed-identity-credential', 'default-azure-credential', 'msal-node'] as const
    for (const kind of kinds) {
      const tokens = await client(started, kind, RESOURCES.slice(1))
      expect(tokens.map((t) => t.resource)).toEqual(RESOURCES.slice(1))
      for (const token of tokens) {
        expect(server.issued.map(sha256)).toContain(token.sha256)
        expect(token.expiresOn).toBeGreaterThan(Date.now() + 3000_000)
      }
    }
    // Each resource was asked of the token server once; the main step's Graph token is served
    // from memory.
    const scopes = server.requests.filter((r) => r.form.scope).map((r) => r.form.scope)
    expect(scopes.filter((s) => s === 'https://vault.azure.net/.default')).toHaveLength(1)
    // Kept as each client sends it: @azure/identity drops the trailing slash, msal-node keeps it.
    const arm = scopes.filter((s) => s.startsWith('https://management.core.windows.net'))
    expect(arm.sort()).toEqual([
      'https://management.core.windows.net/.default',
      'https://management.core.windows.net//.default'
    ])

    const stopped = await post(started)
    expect(stopped.code).toBe(0)
    expect(stopped.stdout).toMatch(
      /^Stopped the token service for 'identity-endpoint': it served 1 token for https:\/\/graph\.microsoft\.com \(1 from the token server\); 3 tokens for https:\/\/vault\.azure\.net \(1 from the token server\); \d tokens? for https:\/\/management\.core\.windows\.net\/? \(1 from the token server\); \d tokens? for https:\/\/management\.core\.windows\.net\/? \(1 from the token server\)\.$/m
    )
    expect(stopped.summary).toContain('<h3>Token service (identity-endpoint)</h3>')
    expect(isRunning(started.pid)).toBe(false)
    expect(await listening(started.port)).toBe(false)
  })

  // .ci/run installs python3-azure; a machine without it reports this test as skipped.
  withAzureIdentity('serves Python azure-identity (Debian python3-azure)', async () => {
    const started = await start()
    try {
      const tokens = await client(started, 'python', RESOURCES.slice(0, 2))
      expect(tokens.map((t) => t.resource)).toEqual(RESOURCES.slice(0, 2))
      for (const token of tokens) expect(server.issued.map(sha256)).toContain(token.sha256)
    } finally {
      await post(started)
    }
  })

  // The flagship example's Terraform step, as written there (use_azuread_auth, use_msi, the
  // msi-endpoint output): the real binary takes a storage token from the service and sends it to
  // the storage account. The account's host is reached through a TLS-inspecting proxy on
  // loopback, the way a corporate runner reaches Azure, which records what Terraform sends.
  withTerraform(
    "serves the real Terraform binary's azurerm backend, whose storage request carries the service's token",
    async () => {
      const host = 'ctaflagshipci0000.blob.core.windows.net'
      const storageTls = makeCert({ commonName: host, altNames: [`DNS:${host}`] })
      const proxy = await startInspectingProxy({
        tls: storageTls,
        hosts: { [host]: containerNotFound }
      })
      const started = await start()
      try {
        const init = await initAzurermBackend({
          dir: mkdtempSync(join(started.temp, 'terraform-')),
          account: 'ctaflagshipci0000',
          signIn: 'use_msi',
          env: {
            ...started.stepEnv,
            ARM_USE_MSI: 'true',
            ARM_MSI_ENDPOINT: started.main.outputs['msi-endpoint'],
            ARM_CLIENT_ID: CLIENT,
            ARM_TENANT_ID: TENANT
          },
          proxy: { url: proxy.url, certPem: storageTls.certPem }
        })
        // The container does not exist (the proxy says so), so init fails: after the request.
        expect(init.code).toBe(1)
        expect(init.output).toContain('ContainerNotFound')
        // Terraform reached the service directly (Go never sends loopback to a proxy, though
        // HTTP_PROXY is set), and the storage account through the proxy, with the storage token
        // the service obtained.
        expect(new Set(proxy.connects)).toEqual(new Set([`CONNECT ${host}:443`]))
        expect(proxy.seen.length).toBeGreaterThan(0)
        const storageScopes = server.requests.filter(
          (r) => r.form.scope === 'https://storage.azure.com/.default'
        )
        expect(storageScopes).toHaveLength(1)
        for (const request of proxy.seen) {
          const [scheme, token] = request.authorization.split(' ')
          expect(scheme).toBe('Bearer')
          expect(server.issued).toContain(token)
          expect(
            JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString())
          ).toMatchObject({ aud: 'https://storage.azure.com' })
        }
      } finally {
        const stopped = await post(started)
        await proxy.close()
        expect(stopped.stdout).toMatch(
          / tokens? for https:\/\/storage\.azure\.com\/? \(1 from the token server\)/
        )
      }
    }
  )

  it('renews a token that has less than five minutes left, and shares one request among concurrent callers', async () => {
    const started = await start(shortLived)
    try {
      const asked = () =>
        shortLived.requests.filter((r) => r.form.scope === 'https://vault.azure.net/.default')
          .length
      const query = `/msi/token?resource=${encodeURIComponent('https://vault.azure.net')}&api-version=2019-08-01`
      const headers = { 'X-IDENTITY-HEADER': started.header, Host: `127.0.0.1:${started.port}` }
      const together = await Promise.all(
        Array.from({ length: 8 }, () => ask(started.port, query, headers))
      )
      expect(together.map((a) => a.status)).toEqual(Array(8).fill(200))
      const first = JSON.parse(together[0].body) as Record<string, string>
      expect(new Set(together.map((a) => JSON.parse(a.body).access_token)).size).toBe(1)
      expect(asked()).toBe(1)
      // After the first token's lifetime, a client still gets a valid one: a new one.
      await new Promise((resolve) => setTimeout(resolve, 2500))
      const later = JSON.parse((await ask(started.port, query, headers)).body) as Record<
        string,
        string
      >
      expect(asked()).toBe(2)
      expect(later.access_token).not.toBe(first.access_token)
      expect(Number(later.expires_on) * 1000).toBeGreaterThan(Date.now())
      expect(Object.keys(later).sort()).toEqual([
        'access_token',
        'client_id',
        'expires_on',
        'resource',
        'token_type'
      ])
      expect(later.client_id).toBe(CLIENT)
      expect(later.resource).toBe('https://vault.azure.net')
    } finally {
      await post(started)
    }
  })
})

describe('identity-endpoint: refusals', () => {
  let started: Started
  let good: Record<string, string>
  const vault = `resource=${encodeURIComponent('https://vault.azure.net')}`
  beforeAll(async () => {
    started = await start()
    good = { 'X-IDENTITY-HEADER': started.header, Host: `127.0.0.1:${started.port}` }
  })
  afterAll(async () => {
    await post(started)
  })
  const tokenPath = (query: string): string => `/msi/token?api-version=2019-08-01&${query}`
  const description = (body: string): string =>
    (JSON.parse(body) as { error_description: string }).error_description

  it('answers a request without the header, or with a wrong one, with 401 and nothing else', async () => {
    const { Host } = good
    const wrong: Record<string, string>[] = [
      { Host },
      { Host, 'X-IDENTITY-HEADER': `${started.header}x` }
    ]
    for (const headers of wrong) {
      expect(await ask(started.port, tokenPath(vault), headers)).toEqual({ status: 401, body: '' })
    }
  })

  it('refuses another Host (DNS rebinding) and a relayed request', async () => {
    const rebound = await ask(started.port, tokenPath(vault), { ...good, Host: 'evil.test' })
    expect(rebound.status).toBe(421)
    expect(description(rebound.body)).toBe(`Host must be 127.0.0.1:${started.port}.`)
    const relayed = await ask(started.port, tokenPath(vault), {
      ...good,
      'X-Forwarded-For': '203.0.113.7'
    })
    expect(relayed.status).toBe(403)
    expect(description(relayed.body)).toBe(
      'Relayed requests (X-Forwarded-For, Forwarded) are refused.'
    )
  })

  it.each(['client_id=00000000-0000-0000-0000-000000000000', 'principal_id=x', 'mi_res_id=x'])(
    'refuses another identity (%s): this endpoint serves one app',
    async (identity) => {
      const answer = await ask(started.port, tokenPath(`${vault}&${identity}`), good)
      expect(answer.status).toBe(400)
      expect(description(answer.body)).toMatch(
        new RegExp(`^This endpoint serves one app, client ID ${CLIENT}: ask without `)
      )
    }
  )

  it('serves the app by its own client_id', async () => {
    const answer = await ask(started.port, tokenPath(`${vault}&client_id=${CLIENT}`), good)
    expect(answer.status).toBe(200)
  })

  it("passes on the token server's explanation of a resource it refuses, redacted", async () => {
    const answer = await ask(started.port, tokenPath('resource=https://unknown.example'), good)
    expect(answer.status).toBe(400)
    expect(description(answer.body)).toMatch(
      /^No token for https:\/\/unknown\.example: Token request to https:\/\/127\.0\.0\.1:\d+\/[\w-]+\/oauth2\/v2\.0\/token failed: HTTP 400 invalid_resource\. AADSTS500011: /
    )
    expect(answer.body).not.toMatch(/eyJ/)
  })

  it('refuses oversized requests, a body, and another method', async () => {
    const long = await ask(started.port, tokenPath(`${vault}&x=${'a'.repeat(3000)}`), good)
    expect(long.status).toBe(414)
    const huge = await ask(started.port, tokenPath(vault), { ...good, 'X-Pad': 'a'.repeat(20_000) })
    expect(huge.status).toBe(431)
    const withBody = await ask(started.port, tokenPath(vault), { ...good, 'Content-Length': '0' })
    expect(withBody.status).toBe(200)
    const posted = await ask(started.port, tokenPath(vault), good, 'POST')
    expect(posted.status).toBe(405)
  })

  it("answers Terraform's IMDS shape at the URL with a secret path, with expires_in", async () => {
    const url = new URL(started.main.outputs['msi-endpoint'])
    const pathSecret = url.pathname.split('/')[1]
    // Masked on its own: a line with the path alone (Terraform's TF_LOG=DEBUG request line) hides it.
    expect(started.main.masked).toContain(pathSecret)
    const tfLog = `[DEBUG] GET ${url.pathname}?api-version=2018-02-01 HTTP/1.1`
    expect(runnerLog(tfLog, started.main.masked)).toBe(
      '[DEBUG] GET /***/metadata/identity/oauth2/token?api-version=2018-02-01 HTTP/1.1'
    )
    const path = `${url.pathname}?api-version=2018-02-01&${vault}`
    const host = { Host: good.Host }
    const answer = await ask(started.port, path, { ...host, Metadata: 'true' })
    expect(answer.status).toBe(200)
    const body = JSON.parse(answer.body) as Record<string, string>
    expect(Number(body.expires_in)).toBeGreaterThan(3000)
    expect(await ask(started.port, path, host)).toMatchObject({ status: 400 })
    const wrong = path.replace(/^\/[^/]+/, '/not-the-secret')
    expect(await ask(started.port, wrong, { ...host, Metadata: 'true' })).toEqual({
      status: 401,
      body: ''
    })
  })
})

describe('identity-endpoint: what it leaves and what it holds', () => {
  it('writes no key, token or header to its log, and the post step shows none', async () => {
    const started = await start()
    const tokens = await client(started, 'msal-node', ['https://vault.azure.net'])
    expect(tokens).toHaveLength(1)
    const keyLines = cert.keyPem.split('\n').filter((l) => l.length > 40)
    const secrets = [started.header, ...keyLines, ...server.issued.slice(-3)]
    const logs = readdirSync(started.temp).filter((f) => f.startsWith('identity-endpoint-'))
    expect(logs).toHaveLength(1)
    const log = readFileSync(join(started.temp, logs[0]), 'utf8')
    const stopped = await post(started)
    expect(log).toMatch(/Got a token for https:\/\/vault\.azure\.net; it expires at /)
    for (const text of [log, stopped.stdout, stopped.summary]) {
      for (const secret of secrets) expect(text).not.toContain(secret.slice(0, 16))
    }
  })

  linuxOnly(
    '(Linux: /proc) has a command line and an environment without secrets or inputs',
    async () => {
      const started = await start()
      try {
        const cmdline = readFileSync(`/proc/${started.pid}/cmdline`, 'utf8').split('\0')
        expect(cmdline.slice(1).filter(Boolean)).toEqual([
          '--disable-sigusr1',
          join(ROOT, 'dist', 'service.js')
        ])
        const environ = readFileSync(`/proc/${started.pid}/environ`, 'utf8').split('\0')
        const names = environ.filter(Boolean).map((v) => v.slice(0, v.indexOf('=')))
        expect(names.filter((n) => n.startsWith('INPUT_'))).toEqual([])
        expect(names).toContain('RUNNER_TRACKING_ID')
        const text = environ.join('\n')
        for (const secret of [
          started.header,
          ...cert.keyPem.split('\n').filter((l) => l.length > 40)
        ]) {
          expect(text).not.toContain(secret)
        }
      } finally {
        await post(started)
      }
    }
  )

  it('reports a service that was killed mid-job: clients get a clear failure, the post step says so', async () => {
    const started = await start()
    process.kill(started.pid, 'SIGKILL')
    await new Promise((resolve) => setTimeout(resolve, 200))
    await expect(client(started, 'msal-node', ['https://vault.azure.net'])).rejects.toThrow(
      /^error: /
    )
    const stopped = await post(started)
    expect(stopped.code).toBe(0)
    expect(stopped.stdout).toContain(
      "::warning::The token service for 'identity-endpoint' had stopped before the end of the job: steps after that got no token from it. Its log:"
    )
    expect(stopped.stdout).toMatch(/Listening on 127\.0\.0\.1:\d+ for /)
  })

  it('starts nothing and exports nothing without identity-endpoint, and the post step prints nothing', async () => {
    const temp = mkdtempSync(join(dir, 'runner-temp-'))
    const main = await runAction(
      {
        'client-id': CLIENT,
        'tenant-id': TENANT,
        'authority-host': server.url,
        certificate: cert.keyPem + cert.certPem,
        scope: 'https://graph.microsoft.com/.default'
      },
      { env: { NODE_EXTRA_CA_CERTS: tls.caFile, RUNNER_TEMP: temp } }
    )
    expect(main.code).toBe(0)
    expect(main.exported).toEqual({})
    expect(main.state).toEqual({})
    expect(readdirSync(temp)).toEqual([])
    const stopped = await spawnNode(
      [join(ROOT, 'dist', 'post.js')],
      { PATH: process.env.PATH },
      30_000
    )
    expect(stopped).toMatchObject({ code: 0, stdout: '', stderr: '' })
  })
})
