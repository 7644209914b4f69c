// run() in-process against the Entra-like server on loopback (plain http, which the action allows
// for loopback only): outputs, masking, summary, export, exchange, federation, explained errors.
import {
  afterAll,
  afterEach,
  beforeAll,
  beforeEach,
  describe,
  expect,
  it,
  jest
} from '@jest/globals'
import { randomUUID } from 'node:crypto'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { decodeJwt, jwtVerify, createLocalJWKSet } from 'jose'
import { run } from '../src/main.js'
import { DEFAULT_RETRY_POLICY } from '../src/retry.js'
import { makeCert } from './support/certs.js'
import { startEntraServer } from './support/entra-server.js'
import { findLeaks, parseFileCommand, runnerLog } from './support/run-action.js'

type Server = Awaited<ReturnType<typeof startEntraServer>>

const CLIENT = randomUUID()
const TENANT = randomUUID()
const cert = makeCert({ commonName: 'main test' })
const keyLines = cert.keyPem.split('\n').filter((l) => l.length > 40)
const FAST = {
  ...DEFAULT_RETRY_POLICY,
  baseDelayMs: 10,
  maxDelayMs: 50,
  attemptTimeoutMs: 1000,
  totalTimeMs: 5000
}

let server: Server
let dir: string
let printed: string
// core.summary remembers the first summary file it sees, so every test shares one.
const summaryFile = join(mkdtempSync(join(tmpdir(), 'summary-')), 'summary.md')

beforeAll(async () => {
  server = await startEntraServer({
    apps: [{ clientId: CLIENT, tenantId: TENANT, certificates: [cert.cert] }]
  })
})
afterAll(async () => server.close())

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'main-'))
  for (const name of Object.keys(process.env)) {
    if (name.startsWith('INPUT_') || name.startsWith('ACTIONS_ID_TOKEN')) delete process.env[name]
  }
  for (const file of ['GITHUB_OUTPUT', 'GITHUB_ENV']) {
    process.env[file] = join(dir, file)
    writeFileSync(join(dir, file), '')
  }
  process.env.GITHUB_STEP_SUMMARY = summaryFile
  writeFileSync(summaryFile, '')
  setInputs({
    'client-id': CLIENT,
    'tenant-id': TENANT,
    scope: 'https://graph.microsoft.com/.default',
    certificate: cert.keyPem + cert.certPem,
    'authority-host': server.url
  })
  printed = ''
  jest.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    printed += String(chunk)
    return true
  })
  process.exitCode = undefined
  server.faults.length = 0
})
afterEach(() => {
  jest.restoreAllMocks()
  process.exitCode = undefined
})

function setInputs(inputs: Record<string, string>): void {
  for (const [name, value] of Object.entries(inputs))
    process.env[`INPUT_${name.toUpperCase()}`] = value
}

/** What this run left: outputs, exported variables, summary, the log as the runner shows it. */
function result() {
  const masked = [...printed.matchAll(/^::add-mask::(.*)$/gm)].map((m) => m[1])
  const read = (name: string) =>
    readFileSync(name === 'GITHUB_STEP_SUMMARY' ? summaryFile : join(dir, name), 'utf8')
  const outputs = parseFileCommand(read('GITHUB_OUTPUT'))
  return {
    outputs,
    exported: parseFileCommand(read('GITHUB_ENV')),
    summary: read('GITHUB_STEP_SUMMARY'),
    masked,
    log: runnerLog(printed, masked),
    errors: [...printed.matchAll(/^::error::(.*)$/gm)].map((m) => m[1]),
    leaks: findLeaks(
      { stdout: printed, stderr: '', summary: read('GITHUB_STEP_SUMMARY') } as never,
      [
        outputs['access-token'] ?? 'no token',
        ...keyLines,
        ...server.requests.map((r) => r.form.client_assertion ?? '').filter(Boolean)
      ]
    )
  }
}

describe('run', () => {
  it('gets a token, masks it before the outputs, and sets every output', async () => {
    const before = Date.now()
    await run()
    const r = result()
    expect(process.exitCode).toBeUndefined()
    expect(r.outputs['access-token']).toBe(server.issued.at(-1))
    expect(r.outputs['token-type']).toBe('Bearer')
    expect(r.outputs['expires-in']).toBe('3599')
    const expiresOn = Date.parse(r.outputs['expires-on'])
    expect(expiresOn).toBeGreaterThanOrEqual(before + 3599_000 - 1000)
    expect(expiresOn).toBeLessThanOrEqual(Date.now() + 3599_000)
    expect(r.masked).toContain(r.outputs['access-token'])
    expect(printed.indexOf(`::add-mask::${r.outputs['access-token']}`)).toBeGreaterThanOrEqual(0)
    expect(r.leaks).toEqual([])
    const claims = decodeJwt(r.outputs['access-token'])
    expect(claims).toMatchObject({
      aud: 'https://graph.microsoft.com',
      appid: CLIENT,
      roles: ['Application.Read.All']
    })
  })

  it('sends the client credentials form with a verified assertion', async () => {
    await run()
    const request = server.requests.at(-1)!
    expect(request.path).toBe(`/${TENANT}/oauth2/v2.0/token`)
    expect(Object.keys(request.form)).toEqual([
      'grant_type',
      'client_id',
      'scope',
      'client_assertion_type',
      'client_assertion'
    ])
    expect(request.form).toMatchObject({
      grant_type: 'client_credentials',
      client_id: CLIENT,
      scope: 'https://graph.microsoft.com/.default',
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'
    })
    const { payload } = await jwtVerify(request.form.client_assertion, cert.cert.publicKey, {
      algorithms: ['PS256']
    })
    expect(payload).toMatchObject({ aud: server.tokenUrl(TENANT), iss: CLIENT, sub: CLIENT })
    expect(result().masked).toContain(request.form.client_assertion)
  })

  it('writes a summary with the token claims and the certificate, never the token', async () => {
    await run()
    const { summary, outputs } = result()
    expect(summary).toContain('<td>Token audience</td><td>https://graph.microsoft.com</td>')
    expect(summary).toContain('<td>Token roles</td><td>Application.Read.All</td>')
    expect(summary).toContain(
      `<td>Certificate thumbprint (SHA-1)</td><td>${cert.cert.fingerprint.replace(/:/g, '')}</td>`
    )
    expect(summary).toContain(`<td>Client ID</td><td>${CLIENT}</td>`)
    expect(summary).not.toContain(outputs['access-token'])
  })

  it('exports the token only when export-variable is set', async () => {
    await run()
    expect(result().exported).toEqual({})
    writeFileSync(join(dir, 'GITHUB_OUTPUT'), '')
    setInputs({ 'export-variable': 'GRAPH_TOKEN' })
    await run()
    const r = result()
    expect(r.exported).toEqual({ GRAPH_TOKEN: r.outputs['access-token'] })
  })

  it('explains an unregistered certificate with the AADSTS code, hint and IDs, without retrying', async () => {
    const stranger = makeCert({ commonName: 'stranger' })
    setInputs({ certificate: stranger.keyPem + stranger.certPem })
    const count = server.requests.length
    await run({ policy: FAST })
    const r = result()
    expect(process.exitCode).toBe(1)
    expect(server.requests.length - count).toBe(1)
    expect(r.errors).toHaveLength(1)
    expect(r.errors[0]).toMatch(
      new RegExp(
        `^Token request to ${server.tokenUrl(TENANT).replace(/[.?]/g, '\\$&')} failed: HTTP 401 invalid_client\\. AADSTS700027: .+\\. Hint: upload this certificate \\(thumbprint ${stranger.cert.fingerprint.replace(/:/g, '')}\\) to the app registration.+ Trace ID: [0-9a-f-]{36}\\. Correlation ID: [0-9a-f-]{36}\\.$`
      )
    )
    expect(r.leaks).toEqual([])
  })

  it('fails on a bad input with one error line and sends nothing', async () => {
    setInputs({ 'tenant-id': 'a/b' })
    const count = server.requests.length
    await run()
    expect(process.exitCode).toBe(1)
    expect(server.requests.length).toBe(count)
    expect(
      printed
        .trim()
        .split('\n')
        .filter((l) => !l.startsWith('::add-mask::'))
    ).toEqual([
      "::error::Input 'tenant-id' must be a directory (tenant) ID GUID such as 72f988bf-86f1-41af-91ab-2d7cd011db47 or a verified domain such as contoso.onmicrosoft.com; got 'a/b'."
    ])
  })

  it('warns about a certificate that expires soon and still gets the token', async () => {
    const soon = makeCert({ notAfter: new Date(Date.now() + 5 * 86_400_000 + 3_600_000) })
    server.apps[0].certificates.push(soon.cert)
    setInputs({ certificate: soon.keyPem + soon.certPem })
    await run()
    expect(printed).toMatch(/^::warning::The certificate in 'certificate' expires in 5 days \(/m)
    expect(result().outputs['access-token']).toBe(server.issued.at(-1))
  })

  it('retries a throttled request with a fresh assertion and logs the retry', async () => {
    server.faults.push({ status: 429, retryAfter: '0' })
    await run({ policy: FAST })
    const r = result()
    expect(process.exitCode).toBeUndefined()
    expect(r.log).toMatch(
      /^Attempt 1 of 4 failed: HTTP 429 \(AADSTS50196\); retrying in 0\.0 s\.$/m
    )
    const [first, second] = server.requests
      .slice(-2)
      .map((q) => decodeJwt(q.form.client_assertion).jti)
    expect(first).not.toBe(second)
    expect(r.outputs['access-token']).toBe(server.issued.at(-1))
  })

  it('never quotes a success answer that has no access_token', async () => {
    const hidden = 'hidden-token-value-0123456789'
    server.faults.push({
      status: 201,
      body: JSON.stringify({ accessToken: hidden, expiresIn: 3599 })
    })
    await run({ policy: FAST })
    expect(process.exitCode).toBe(1)
    expect(result().errors).toEqual([
      `Token request to ${server.tokenUrl(TENANT)} failed: HTTP 201 without an access_token (fields: accessToken, expiresIn).`
    ])
    expect(printed).not.toContain(hidden)
  })

  it('redacts token-like fields of an error body it shows', async () => {
    const hidden = 'hidden-refresh-token-0123456789'
    server.faults.push({
      status: 400,
      body: JSON.stringify({ detail: 'no', refresh_token: hidden })
    })
    await run({ policy: FAST })
    expect(result().errors[0]).toContain('HTTP 400. body: {"detail":"no","refresh_token":"***"}.')
    expect(printed).not.toContain(hidden)
  })

  it('takes only a plain token_type and a believable lifetime from the server', async () => {
    server.faults.push({
      status: 200,
      body: JSON.stringify({
        access_token: 'opaque-token-0123456789',
        token_type: 'Bearer\n::warning::injected',
        expires_in: 1e17
      })
    })
    await run()
    const r = result()
    expect(process.exitCode).toBeUndefined()
    expect(r.outputs['token-type']).toBe('Bearer')
    expect(r.outputs['expires-in']).toBe('3600')
    expect(printed).not.toContain('::warning::injected')
  })

  it('exchanges the token at exchange-url and masks the result', async () => {
    setInputs({
      scope: 'https://api.partner.microsoft.com/.default',
      'exchange-url': server.exchangeUrl
    })
    await run()
    const r = result()
    expect(process.exitCode).toBeUndefined()
    const exchange = server.requests.at(-1)!
    expect(exchange.headers.authorization).toBe(`Bearer ${r.outputs['access-token']}`)
    expect(exchange.body).toBe('grant_type=jwt_token')
    expect(r.outputs['exchanged-token']).toBe(server.issued.at(-1))
    expect(r.outputs['exchanged-expires-in']).toBe('899')
    expect(r.masked).toContain(r.outputs['exchanged-token'])
  })

  it('explains a refused exchange', async () => {
    setInputs({ 'exchange-url': server.exchangeUrl }) // a Graph token: Partner Center refuses it
    await run({ policy: FAST })
    expect(process.exitCode).toBe(1)
    expect(result().errors[0]).toMatch(
      new RegExp(
        `^Token exchange to ${server.exchangeUrl.replace(/[.?]/g, '\\$&')} failed: HTTP 401 invalid_grant\\. `
      )
    )
  })

  it('uses the GitHub OIDC token as the assertion when no certificate is given', async () => {
    server.apps[0].federated = {}
    delete process.env.INPUT_CERTIFICATE
    process.env.ACTIONS_ID_TOKEN_REQUEST_URL = server.oidcRequestUrl
    process.env.ACTIONS_ID_TOKEN_REQUEST_TOKEN = server.oidcRequestToken
    try {
      await run()
    } finally {
      delete server.apps[0].federated
    }
    const r = result()
    expect(process.exitCode).toBeUndefined()
    const assertion = server.requests.at(-1)!.form.client_assertion
    expect(assertion).toBe(server.idTokens.at(-1))
    const { payload } = await jwtVerify(assertion, createLocalJWKSet(server.githubJwks))
    expect(payload.aud).toBe('api://AzureADTokenExchange')
    expect(r.masked).toContain(assertion)
    expect(r.outputs['access-token']).toBe(server.issued.at(-1))
  })

  it('says both ways out when there is neither a certificate nor an OIDC token', async () => {
    delete process.env.INPUT_CERTIFICATE
    const count = server.requests.length
    await run()
    expect(server.requests.length).toBe(count)
    expect(result().errors).toEqual([
      "No credential: set 'certificate' (or 'certificate-file') to the app's certificate, or add 'permissions: id-token: write' to the job to use GitHub OIDC federation."
    ])
  })
})
