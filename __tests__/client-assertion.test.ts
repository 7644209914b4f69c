// The action's `client-assertion` output (dist/index.js, run as the runner runs it) used by real
// clients not written here, @azure/identity's ClientAssertionCredential, @azure/msal-node's
// ConfidentialClientApplication, MSAL Python, the Azure CLI and Terraform's azurerm backend, each
// in its own process as a later workflow step, against the Entra-like HTTPS server; `assertion-only`, `assertion-lifetime`, and the one retry on the
// server's time when the runner's clock is off (AADSTS700024).
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals'
import { execFileSync, execFile, spawnSync } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { compactVerify, decodeJwt, decodeProtectedHeader } from 'jose'
import { makeCert, makeTlsCert } from './support/certs.js'
import { startEntraServer, type EntraServer } from './support/entra-server.js'
import {
  answer,
  containerNotFound,
  forwardTo,
  startInspectingProxy
} from './support/inspecting-proxy.js'
import { hasTerraform, initAzurermBackend } from './support/terraform.js'
import { findLeaks, ROOT, runAction, spawnNode, type ActionRun } from './support/run-action.js'

const CLIENT = randomUUID()
const TENANT = randomUUID()
const GRAPH = 'https://graph.microsoft.com/.default'
const TEST_API = 'api://test-resource/.default'
/** Resource Manager, the resource az signs in for. */
const ARM = 'https://management.core.windows.net/'
const cert = makeCert({ commonName: 'client assertion test' })
const tlsDir = mkdtempSync(join(tmpdir(), 'client-assertion-'))
const tls = makeTlsCert(tlsDir)
const env = { NODE_EXTRA_CA_CERTS: tls.caFile }
const CLIENTS = join(ROOT, '__tests__', 'support', 'assertion-clients.js')
const PYTHON_CLIENT = join(ROOT, '__tests__', 'support', 'assertion_client.py')

/** A Python 3 that has MSAL Python (Debian: python3-msal), or undefined. */
// portable: each is tried, and the test is skipped where none has MSAL Python.
const PYTHON_MSAL = ['python3', '/usr/bin/python3'].find((python) => {
  try {
    execFileSync(python, ['-c', 'import msal'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
})

let server: EntraServer
/** How far the server's clock (and its `Date` header) is from this machine's, in ms. */
let shiftMs = 0

beforeAll(async () => {
  server = await startEntraServer({
    apps: [{ clientId: CLIENT, tenantId: TENANT, certificates: [cert.cert] }],
    tls: { keyPem: tls.keyPem, certPem: tls.certPem },
    resources: [
      'https://graph.microsoft.com',
      'api://test-resource',
      ARM,
      'https://storage.azure.com'
    ],
    now: () => Date.now() + shiftMs
  })
})
afterAll(async () => {
  await server.close()
  rmSync(tlsDir, { recursive: true, force: true })
})
beforeEach(() => {
  shiftMs = 0
  server.requests.length = 0
  server.faults.length = 0
})

/** Runs the action with the usual inputs, `extra` on top (undefined removes one). */
async function runWith(
  extra: Record<string, string | undefined> = {},
  extraEnv: Record<string, string> = {}
): Promise<ActionRun> {
  const inputs = Object.fromEntries(
    Object.entries({
      'client-id': CLIENT,
      'tenant-id': TENANT,
      scope: GRAPH,
      certificate: cert.keyPem + cert.certPem,
      'authority-host': server.url,
      ...extra
    }).filter(([, v]) => v !== undefined)
  ) as Record<string, string>
  return runAction(inputs, { env: { ...env, ...extraEnv } })
}

interface ClientResult {
  scope: string
  ok: boolean
  token?: string
  error?: string
}

/** A later step: a real client library signs in with the assertion, one token per scope. */
async function signInWith(
  client: 'identity' | 'msal',
  assertion: string,
  scopes: string[]
): Promise<ClientResult[]> {
  const { code, stdout, stderr } = await spawnNode(
    [CLIENTS, client],
    {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      NODE_EXTRA_CA_CERTS: tls.caFile,
      AUTHORITY_HOST: server.url,
      TENANT_ID: TENANT,
      CLIENT_ID: CLIENT,
      CLIENT_ASSERTION: assertion,
      SCOPES: scopes.join(',')
    },
    60_000
  )
  if (code !== 0) throw new Error(`${client} client failed: ${stderr}`)
  return stdout
    .trim()
    .split(/\r?\n/)
    .map((line) => JSON.parse(line) as ClientResult)
}

/** The same step in Python, with MSAL Python (what `az login --federated-token` uses). */
async function signInWithPython(assertion: string, scopes: string[]): Promise<ClientResult[]> {
  // Asynchronously: the server answers from this process.
  const { stdout } = await promisify(execFile)(PYTHON_MSAL ?? 'python3', [PYTHON_CLIENT], {
    encoding: 'utf8',
    timeout: 60_000,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      REQUESTS_CA_BUNDLE: tls.caFile,
      AUTHORITY_HOST: server.url,
      TENANT_ID: TENANT,
      CLIENT_ID: CLIENT,
      CLIENT_ASSERTION: assertion,
      SCOPES: scopes.join(',')
    }
  })
  return stdout
    .trim()
    .split(/\r?\n/)
    .map((line) => JSON.parse(line) as ClientResult)
}

/** The token requests the server received (discovery GETs aside). */
const tokenRequests = () =>
  server.requests.filter((r) => r.path.split('?')[0].endsWith('/oauth2/v2.0/token'))

/** An Entra AADSTS700024 answer with a `Date` header `offsetMs` away from this machine's clock. */
function timeRangeRefusal(offsetMs: number) {
  return {
    status: 401,
    headers: { Date: new Date(Date.now() + offsetMs).toUTCString() },
    body: JSON.stringify({
      error: 'invalid_client',
      error_description:
        'AADSTS700024: Client assertion is not within its valid time range. Current time: 2026-11-23 10:10:00Z, assertion valid from 2026-11-23 10:00:00Z, expiry time of assertion 2026-11-23 10:01:00Z.\r\nTrace ID: 0d5a6c1e-7c55-4d7c-9d63-5b9e4c0e2a00\r\nCorrelation ID: 5f2b3c4d-1111-4222-8333-944455556666\r\nTimestamp: 2026-11-23 10:10:00Z',
      error_codes: [700024],
      trace_id: '0d5a6c1e-7c55-4d7c-9d63-5b9e4c0e2a00',
      correlation_id: '5f2b3c4d-1111-4222-8333-944455556666'
    })
  }
}

const REFUSAL_TEXT = (url: string) =>
  `Token request to ${url} failed: HTTP 401 invalid_client. AADSTS700024: Client assertion is not within its valid time range. Hint: the assertion is outside its valid time range: the runner's clock is off. Trace ID: 0d5a6c1e-7c55-4d7c-9d63-5b9e4c0e2a00. Correlation ID: 5f2b3c4d-1111-4222-8333-944455556666.`

const SKEW_WARNING = (seconds: string, direction: 'ahead of' | 'behind') =>
  new RegExp(
    `^The token endpoint's clock is ${seconds} s \\(10 min\\) ${direction} this runner's: it refused the client assertion as outside its valid time range \\(AADSTS700024\\)\\. Signing it again on the server's time and retrying once; set the runner's clock right \\(NTP\\)\\.$`
  )

describe('client-assertion output', () => {
  it('is a fresh, masked assertion for the token endpoint, with its expiry', async () => {
    const before = Math.floor(Date.now() / 1000)
    const run = await runWith()
    expect(run.errors).toEqual([])
    expect(run.code).toBe(0)
    const assertion = run.outputs['client-assertion']
    const { payload } = await compactVerify(assertion, cert.cert.publicKey)
    const claims = JSON.parse(Buffer.from(payload).toString())
    expect(claims).toMatchObject({ aud: server.tokenUrl(TENANT), iss: CLIENT, sub: CLIENT })
    expect(claims.nbf).toBeGreaterThanOrEqual(before)
    expect(claims.exp - claims.nbf).toBe(600)
    expect(decodeProtectedHeader(assertion)).toMatchObject({ alg: 'PS256', typ: 'JWT' })
    expect(run.outputs['client-assertion-expires-on']).toBe(
      new Date(claims.exp * 1000).toISOString()
    )
    // Not the one the action sent: its own jti.
    const sent = tokenRequests()
    expect(sent).toHaveLength(1)
    expect(claims.jti).not.toBe(sent[0].assertion?.payload.jti)
    expect(run.masked).toContain(assertion)
    expect(findLeaks(run, [assertion, run.outputs['access-token']])).toEqual([])
  })

  it.each(['identity', 'msal'] as const)(
    'signs in %s for two resources with one assertion (reused within its lifetime)',
    async (client) => {
      const run = await runWith()
      const assertion = run.outputs['client-assertion']
      server.requests.length = 0
      const results = await signInWith(client, assertion, [GRAPH, TEST_API])
      expect(results.map((r) => [r.scope, r.ok, r.error])).toEqual([
        [GRAPH, true, undefined],
        [TEST_API, true, undefined]
      ])
      expect(results.map((r) => decodeJwt(r.token ?? '').aud)).toEqual([
        'https://graph.microsoft.com',
        'api://test-resource'
      ])
      expect(results.map((r) => r.token)).toEqual(server.issued.slice(-2))
      // Both requests carried the action's assertion, unchanged.
      const sent = tokenRequests()
      expect(sent.map((r) => [r.form.client_id, r.form.scope, r.form.client_assertion])).toEqual([
        [CLIENT, GRAPH, assertion],
        [CLIENT, TEST_API, assertion]
      ])
    }
  )

  it.each(['identity', 'msal'] as const)(
    'is refused to %s with AADSTS700024 once it has expired',
    async (client) => {
      const run = await runWith({ 'assertion-lifetime': '60' })
      const assertion = run.outputs['client-assertion']
      const claims = decodeJwt(assertion)
      expect((claims.exp ?? 0) - (claims.nbf ?? 0)).toBe(60)
      // The server's clock moves past exp and Entra's 5 minutes of allowed skew.
      shiftMs = (60 + 300 + 5) * 1000
      const [result] = await signInWith(client, assertion, [GRAPH])
      expect(result.ok).toBe(false)
      expect(result.error).toContain(
        'AADSTS700024: Client assertion is not within its valid time range. The assertion has expired.'
      )
    }
  )
})

/** The Azure CLI, where it is installed (.ci/run installs Debian's; GitHub's images have one). */
// portable: on Windows az is az.cmd, which execFile starts only through a shell: skipped there.
const hasAzureCli =
  process.platform !== 'win32' && spawnSync('az', ['version'], { stdio: 'ignore' }).status === 0

// The Azure CLI as docs/tools.md has it sign in: `az login --service-principal --federated-token`
// with the assertion the action signed for the public cloud. az talks only to Azure's own hosts,
// so it runs here as on a corporate runner: through a proxy that inspects TLS (the CA it trusts
// is in REQUESTS_CA_BUNDLE), which passes login.microsoftonline.com to this Entra-like server
// and answers Resource Manager's subscription list (none).
const describeAzureCli = hasAzureCli ? describe : describe.skip
describeAzureCli('client-assertion with the Azure CLI', () => {
  it('signs az in on the public cloud with the assertion, and az gets a Graph token with it', async () => {
    const run = await runWith({
      'assertion-only': 'true',
      scope: undefined,
      'authority-host': undefined
    })
    const assertion = run.outputs['client-assertion']
    expect(decodeJwt(assertion).aud).toBe(
      `https://login.microsoftonline.com/${TENANT}/oauth2/v2.0/token`
    )
    const hosts = ['login.microsoftonline.com', 'management.azure.com']
    const proxyTls = makeCert({ commonName: hosts[0], altNames: hosts.map((h) => `DNS:${h}`) })
    const home = mkdtempSync(join(tmpdir(), 'azure-cli-'))
    writeFileSync(join(home, 'proxy-ca.pem'), proxyTls.certPem)
    const proxy = await startInspectingProxy({
      tls: proxyTls,
      hosts: {
        'login.microsoftonline.com': forwardTo(server.url, tls.certPem),
        'management.azure.com': answer(200, { value: [] })
      }
    })
    const az = async (...args: string[]) =>
      (
        await promisify(execFile)('az', args, {
          encoding: 'utf8',
          timeout: 120_000,
          env: {
            PATH: process.env.PATH,
            HOME: home,
            AZURE_CONFIG_DIR: join(home, 'azure'),
            AZURE_CORE_COLLECT_TELEMETRY: 'no',
            AZURE_CORE_ONLY_SHOW_ERRORS: 'true',
            HTTPS_PROXY: proxy.url,
            REQUESTS_CA_BUNDLE: join(home, 'proxy-ca.pem')
          }
        })
      ).stdout.trim()
    try {
      await az(
        'login',
        '--service-principal',
        '-u',
        CLIENT,
        '--tenant',
        TENANT,
        '--federated-token',
        assertion,
        '--allow-no-subscriptions',
        '--output',
        'none'
      )
      const account = await az('account', 'show', '--query', '[tenantId, user.name]', '-o', 'tsv')
      expect(account.split(/\s+/)).toEqual([TENANT, CLIENT])
      const token = await az(
        'account',
        'get-access-token',
        '--resource',
        'https://graph.microsoft.com',
        '--query',
        'accessToken',
        '-o',
        'tsv'
      )
      expect(server.issued).toContain(token)
      expect(decodeJwt(token).aud).toBe('https://graph.microsoft.com')
      // Both of az's token requests carried the action's assertion, unchanged.
      expect(tokenRequests().map((r) => [r.form.client_id, r.form.client_assertion])).toEqual([
        [CLIENT, assertion],
        [CLIENT, assertion]
      ])
      expect(tokenRequests().at(-1)?.form.scope).toBe('https://graph.microsoft.com/.default')
      // Every sign-in went through the proxy (az also asks hosts of its own, which get a 502).
      expect(new Set(proxy.seen.map((r) => r.host))).toEqual(new Set(hosts))
    } finally {
      await proxy.close()
      rmSync(home, { recursive: true, force: true })
    }
  })
})

// Terraform's azurerm backend as docs/tools.md has it sign in: ARM_USE_OIDC with the assertion in
// ARM_OIDC_TOKEN. Like az, it talks to Azure's own hosts only, here through the proxy that
// inspects TLS: login.microsoftonline.com goes to this server, and the storage account answers as
// for a container that does not exist, after Terraform has sent it the token.
const describeTerraform = hasTerraform ? describe : describe.skip
describeTerraform('client-assertion with Terraform', () => {
  it('signs the azurerm backend in with ARM_OIDC_TOKEN, and its storage request carries the token', async () => {
    const run = await runWith({
      'assertion-only': 'true',
      scope: undefined,
      'authority-host': undefined
    })
    const assertion = run.outputs['client-assertion']
    const storage = 'ctaassertionci000.blob.core.windows.net'
    const hosts = ['login.microsoftonline.com', storage]
    const proxyTls = makeCert({ commonName: hosts[0], altNames: hosts.map((h) => `DNS:${h}`) })
    const proxy = await startInspectingProxy({
      tls: proxyTls,
      hosts: {
        'login.microsoftonline.com': forwardTo(server.url, tls.certPem),
        [storage]: containerNotFound
      }
    })
    const work = mkdtempSync(join(tmpdir(), 'terraform-'))
    try {
      const init = await initAzurermBackend({
        dir: work,
        account: 'ctaassertionci000',
        signIn: 'use_oidc',
        env: {
          PATH: process.env.PATH,
          ARM_USE_OIDC: 'true',
          ARM_OIDC_TOKEN: assertion,
          ARM_CLIENT_ID: CLIENT,
          ARM_TENANT_ID: TENANT
        },
        proxy: { url: proxy.url, certPem: proxyTls.certPem }
      })
      expect(init.code).toBe(1)
      expect(init.output).toContain('ContainerNotFound')
      // Terraform posted the action's assertion, unchanged, for a storage token ...
      expect(
        tokenRequests().map((r) => [r.form.client_id, r.form.scope, r.form.client_assertion])
      ).toEqual([[CLIENT, 'https://storage.azure.com/.default', assertion]])
      // ... and sent that token to the storage account.
      const sent = proxy.seen.filter((r) => r.host === storage)
      expect(sent.length).toBeGreaterThan(0)
      for (const request of sent)
        expect(request.authorization).toBe(`Bearer ${server.issued.at(-1)}`)
    } finally {
      await proxy.close()
      rmSync(work, { recursive: true, force: true })
    }
  })
})

// MSAL Python runs where it is installed (Debian's python3-msal); CI's Node machine may lack it.
const describePython = PYTHON_MSAL ? describe : describe.skip
describePython('client-assertion with MSAL Python', () => {
  it('gets tokens for two resources with one assertion, and is refused once it has expired', async () => {
    const run = await runWith({ 'assertion-only': 'true', 'assertion-lifetime': '60' })
    const assertion = run.outputs['client-assertion']
    const results = await signInWithPython(assertion, [GRAPH, TEST_API])
    expect(results.map((r) => [r.scope, r.ok, r.error])).toEqual([
      [GRAPH, true, undefined],
      [TEST_API, true, undefined]
    ])
    expect(results.map((r) => r.token)).toEqual(server.issued.slice(-2))
    expect(tokenRequests().map((r) => r.form.client_assertion)).toEqual([assertion, assertion])
    shiftMs = (60 + 300 + 5) * 1000
    const [expired] = await signInWithPython(assertion, [GRAPH])
    expect(expired.ok).toBe(false)
    expect(expired.error).toContain(
      'invalid_client: AADSTS700024: Client assertion is not within its valid time range. The assertion has expired.'
    )
  })
})

describe('assertion-only', () => {
  it('signs the assertion without a scope and sends no request at all', async () => {
    const run = await runWith({ 'assertion-only': 'true', scope: undefined })
    expect(run.errors).toEqual([])
    expect(run.code).toBe(0)
    expect(server.requests).toEqual([])
    expect(run.outputs['access-token']).toBeUndefined()
    const assertion = run.outputs['client-assertion']
    const claims = decodeJwt(assertion)
    expect(claims.aud).toBe(server.tokenUrl(TENANT))
    expect(run.outputs['client-assertion-expires-on']).toBe(
      new Date((claims.exp ?? 0) * 1000).toISOString()
    )
    expect(run.log).toContain(
      `Signed a client assertion for ${server.tokenUrl(TENANT)}; it expires at ${run.outputs['client-assertion-expires-on']}. No token was requested (assertion-only).`
    )
    expect(run.masked).toContain(assertion)
    expect(run.summary).toContain('<h3>Client assertion</h3>')
    for (const row of [
      ['Client ID', CLIENT],
      ['Assertion audience', server.tokenUrl(TENANT)],
      ['Credential', 'certificate'],
      ['Assertion expires', run.outputs['client-assertion-expires-on']],
      ['Certificate thumbprint (SHA-1)', cert.cert.fingerprint.replace(/:/g, '')]
    ])
      expect(run.summary).toContain(`<tr><td>${row[0]}</td><td>${row[1]}</td></tr>`)
    expect(findLeaks(run, [assertion])).toEqual([])
    // And it works for a tool afterwards.
    const [result] = await signInWith('msal', assertion, [GRAPH])
    expect(result.ok).toBe(true)
  })

  it('still needs scope without assertion-only, and says so before any request', async () => {
    const run = await runWith({ scope: undefined })
    expect(run.code).toBe(1)
    expect(run.errors).toEqual(["Input 'scope' is required: set it in the step's 'with:' block."])
    expect(server.requests).toEqual([])
  })

  it("outputs the runner's GitHub OIDC token as the assertion when there is no certificate", async () => {
    const run = await runWith(
      { 'assertion-only': 'true', scope: undefined, certificate: undefined },
      {
        ACTIONS_ID_TOKEN_REQUEST_URL: server.oidcRequestUrl,
        ACTIONS_ID_TOKEN_REQUEST_TOKEN: server.oidcRequestToken
      }
    )
    expect(run.errors).toEqual([])
    expect(run.outputs['client-assertion']).toBe(server.idTokens.at(-1))
    const claims = decodeJwt(run.outputs['client-assertion'])
    expect(claims.aud).toBe('api://AzureADTokenExchange')
    expect(run.outputs['client-assertion-expires-on']).toBe(
      new Date((claims.exp ?? 0) * 1000).toISOString()
    )
    expect(server.requests.map((r) => r.path)).toEqual([
      '/oidc-token?api-version=2.0&audience=api%3A%2F%2FAzureADTokenExchange'
    ])
    expect(run.log).toContain(
      `Got a GitHub OIDC token for api://AzureADTokenExchange as the client assertion; it expires at ${run.outputs['client-assertion-expires-on']}. No token was requested (assertion-only).`
    )
    for (const row of [
      ['Assertion audience', 'api://AzureADTokenExchange'],
      ['Credential', 'GitHub OIDC token (federation)']
    ])
      expect(run.summary).toContain(`<tr><td>${row[0]}</td><td>${row[1]}</td></tr>`)
  })
})

describe('assertion-lifetime', () => {
  it.each(['59', '601', '3600', '0', 'ten', '300.5', '-60'])('refuses %s', async (value) => {
    const run = await runWith({ 'assertion-lifetime': value })
    expect(run.code).toBe(1)
    expect(run.errors).toEqual([
      `Input 'assertion-lifetime' must be a whole number of seconds from 60 to 600 (Microsoft Entra ID: an assertion valid "5-10 minutes after nbf at most"); got '${value}'.`
    ])
    expect(server.requests).toEqual([])
  })

  it.each([60, 600])('signs every assertion with a lifetime of %i s', async (seconds) => {
    const run = await runWith({ 'assertion-lifetime': String(seconds) })
    expect(run.errors).toEqual([])
    const lifetime = (jwt: string) => (decodeJwt(jwt).exp ?? 0) - (decodeJwt(jwt).nbf ?? 0)
    expect(lifetime(run.outputs['client-assertion'])).toBe(seconds)
    expect(lifetime(tokenRequests()[0].form.client_assertion)).toBe(seconds)
  })

  it('is refused without a certificate: GitHub sets its OIDC token lifetime', async () => {
    const run = await runWith(
      { certificate: undefined, 'assertion-lifetime': '300' },
      {
        ACTIONS_ID_TOKEN_REQUEST_URL: server.oidcRequestUrl,
        ACTIONS_ID_TOKEN_REQUEST_TOKEN: server.oidcRequestToken
      }
    )
    expect(run.errors).toEqual([
      "Input 'assertion-lifetime' applies to assertions signed with a certificate; without one the assertion is the GitHub OIDC token, whose lifetime GitHub sets. Remove it, or set 'certificate'."
    ])
    expect(server.requests).toEqual([])
  })
})

describe("a runner whose clock is off (AADSTS700024 and the server's Date)", () => {
  it('retries once on the server time when the server is 10 minutes ahead, and warns', async () => {
    shiftMs = 10 * 60_000
    // 120 s: an assertion that has expired, Entra's 5 minutes of skew included, on the server.
    const run = await runWith({ 'assertion-lifetime': '120' })
    expect(run.errors).toEqual([])
    expect(run.code).toBe(0)
    expect(run.warnings).toHaveLength(1)
    expect(run.warnings[0]).toMatch(SKEW_WARNING('(599|600|601)', 'ahead of'))
    const sent = tokenRequests()
    expect(sent).toHaveLength(2)
    const nbf = sent.map((r) => r.assertion?.payload.nbf ?? 0)
    expect(nbf[1] - nbf[0]).toBeGreaterThanOrEqual(598)
    expect(nbf[1] - nbf[0]).toBeLessThanOrEqual(602)
    expect(run.outputs['access-token']).toBe(server.issued.at(-1))
    // The assertion for later steps is on the server's time too.
    const output = decodeJwt(run.outputs['client-assertion'])
    expect(Math.abs((output.nbf ?? 0) - nbf[1])).toBeLessThanOrEqual(2)
  })

  it('retries once on the server time when the server is 10 minutes behind', async () => {
    shiftMs = -10 * 60_000
    const run = await runWith()
    expect(run.errors).toEqual([])
    expect(run.warnings).toHaveLength(1)
    expect(run.warnings[0]).toMatch(SKEW_WARNING('(599|600|601)', 'behind'))
    expect(tokenRequests()).toHaveLength(2)
  })

  it('stops after that one retry when the server keeps refusing', async () => {
    server.faults.push(timeRangeRefusal(600_000), timeRangeRefusal(600_000))
    server.faults.push(timeRangeRefusal(600_000))
    const run = await runWith()
    expect(run.code).toBe(1)
    expect(tokenRequests()).toHaveLength(2)
    expect(server.faults).toHaveLength(1)
    expect(run.warnings).toHaveLength(1)
    expect(run.errors).toEqual([REFUSAL_TEXT(server.tokenUrl(TENANT))])
  })

  it('does not retry when the clocks are less than a minute apart', async () => {
    server.faults.push(timeRangeRefusal(30_000))
    const run = await runWith()
    expect(run.code).toBe(1)
    expect(tokenRequests()).toHaveLength(1)
    expect(run.warnings).toEqual([])
    expect(run.errors).toEqual([REFUSAL_TEXT(server.tokenUrl(TENANT))])
  })
})
