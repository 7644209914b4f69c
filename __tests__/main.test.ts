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
import { createPrivateKey, randomUUID } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { decodeJwt, decodeProtectedHeader, jwtVerify, createLocalJWKSet } from 'jose'
import { run } from '../src/action/main.js'
import { DEFAULT_RETRY_POLICY } from '../src/oauth/retry.js'
import { makeCert } from './support/certs.js'
import { startEntraServer } from './support/entra-server.js'
import { answer, startHostileServer } from './support/hostile-server.js'
import { findLeaks, parseFileCommand, ROOT, runnerLog } from './support/run-action.js'

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
const summaryDir = mkdtempSync(join(tmpdir(), 'summary-'))
const summaryFile = join(summaryDir, 'summary.md')

beforeAll(async () => {
  server = await startEntraServer({
    apps: [{ clientId: CLIENT, tenantId: TENANT, certificates: [cert.cert] }]
  })
})
afterAll(async () => {
  await server.close()
  rmSync(summaryDir, { recursive: true, force: true })
})

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
  delete process.env.GITHUB_STATE
  rmSync(dir, { recursive: true, force: true })
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
        .split(/\r?\n/)
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

  it("stops opening a PFX at the step's deadline, and sends nothing", async () => {
    // NSS's 600,000-iteration 3DES file takes hundreds of ms to open; the step allows 20.
    setInputs({
      certificate: '',
      'certificate-file': join(ROOT, '__tests__', 'fixtures', 'pfx', 'nss-3des.pfx'),
      'certificate-password': 'corpus-pw'
    })
    const requests = server.requests.length
    await run({ policy: { ...FAST, totalTimeMs: 20 } })
    expect(process.exitCode).toBe(1)
    expect(result().errors).toEqual([
      "The PFX in 'certificate-file' took longer to open than the step's time allows: export it again with fewer key derivation iterations (openssl pkcs12 -export with its default of 2048)."
    ])
    expect(server.requests.length).toBe(requests)
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
    expect(printed.split(/\r?\n/)).toContain(
      'No certificate was given, so the GitHub OIDC token is the assertion (federation); a certificate from an empty secret looks the same.'
    )
  })

  it('says both ways out when there is neither a certificate nor an OIDC token', async () => {
    delete process.env.INPUT_CERTIFICATE
    const count = server.requests.length
    await run()
    expect(server.requests.length).toBe(count)
    expect(result().errors).toEqual([
      "No credential: 'certificate' and 'certificate-file' are empty, and the job has no GitHub OIDC token. If the certificate comes from a secret, that secret is empty in this run: pull requests from forks and Dependabot get no secrets, the secret's name may be misspelt, or it is an environment secret and the job has no 'environment:' naming that environment. To sign in without a certificate, add 'permissions: id-token: write' to the job to use GitHub OIDC federation."
    ])
  })
})

describe('run: the runner, the log and the summary', () => {
  const info = () => printed.split(/\r?\n/).filter((l) => l && !l.startsWith('::'))

  it.each([
    ['GITHUB_OUTPUT', {}],
    ['GITHUB_ENV', { 'export-variable': 'GRAPH_TOKEN' }],
    ['GITHUB_ENV', { 'identity-endpoint': 'true' }],
    ['GITHUB_STATE', { 'identity-endpoint': 'true' }]
  ])(
    'refuses to run without %s (with %j), before anything is sent',
    async (name, inputs: Record<string, string>) => {
      setInputs(inputs)
      process.env.GITHUB_STATE = join(dir, 'GITHUB_STATE')
      delete process.env[name]
      const count = server.requests.length
      await run()
      expect(process.exitCode).toBe(1)
      expect(server.requests.length).toBe(count)
      expect(printed.split(/\r?\n/).filter((l) => l.startsWith('::error::'))).toEqual([
        `::error::${name} is not set: run this action on a GitHub Actions runner (v2.327.1 or later, for node24). The token is written to the runner's files, never printed.`
      ])
    }
  )

  it('needs no GITHUB_ENV and no summary file when it exports nothing', async () => {
    delete process.env.GITHUB_ENV
    delete process.env.GITHUB_STEP_SUMMARY
    await run()
    expect(process.exitCode).toBeUndefined()
    expect(result().outputs['access-token']).toBe(server.issued.at(-1))
    expect(readFileSync(summaryFile, 'utf8')).toBe('')
  })

  it('logs the token, the exchange and the export in one line each', async () => {
    setInputs({
      scope: 'https://api.partner.microsoft.com/.default',
      'exchange-url': server.exchangeUrl,
      'export-variable': 'PARTNER_TOKEN'
    })
    await run()
    const r = result()
    expect(process.exitCode).toBeUndefined()
    expect(info()).toEqual([
      `Got a Bearer token for 'https://api.partner.microsoft.com/.default' from ${server.tokenUrl(TENANT)}; it expires at ${r.outputs['expires-on']}.`,
      expect.stringMatching(
        new RegExp(
          `^Exchanged it at ${server.exchangeUrl.replace(/[.?]/g, '\\$&')}; the new token expires at \\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z\\.$`
        )
      ),
      'Exported the token as $PARTNER_TOKEN for later steps.'
    ])
    expect(r.exported).toEqual({ PARTNER_TOKEN: r.outputs['access-token'] })
  })

  it('sets a fresh client assertion beside the token, with its expiry', async () => {
    const now = new Date()
    await run({ now: () => now })
    const r = result()
    expect(process.exitCode).toBeUndefined()
    const sent = server.requests.at(-1)!.form.client_assertion
    const output = r.outputs['client-assertion']
    expect(output).not.toBe(sent)
    const { payload } = await jwtVerify(output, cert.cert.publicKey, { algorithms: ['PS256'] })
    const at = Math.floor(now.getTime() / 1000)
    expect(payload).toMatchObject({ iss: CLIENT, iat: at, nbf: at, exp: at + 600 })
    expect(decodeJwt(sent)).toMatchObject({ iat: at, exp: at + 600 })
    expect(r.outputs['client-assertion-expires-on']).toBe(new Date((at + 600) * 1000).toISOString())
    expect(r.masked).toContain(output)
  })

  it('writes one summary per run: a heading, a header row and the rows', async () => {
    await run()
    await run()
    // The two runs differ only in the token's expiry.
    const summary = readFileSync(summaryFile, 'utf8').replace(
      /<td>Token expires<\/td><td>[^<]*</g,
      '<td>Token expires</td><td>T<'
    )
    const one = summary.slice(0, summary.length / 2)
    expect(summary).toBe(one + one)
    expect(one).toMatch(
      new RegExp(
        `^<h3>Access token</h3>\\r?\\n<table><tr><th>Field</th><th>Value</th></tr><tr><td>Client ID</td><td>${CLIENT}</td></tr><tr><td>Tenant</td><td>${TENANT}</td></tr>`
      )
    )
    expect(summary.match(/<h3>/g)).toHaveLength(2)
  })

  it('signs only, logs the expiry and writes the assertion summary with assertion-only', async () => {
    const now = new Date('2026-11-23T10:00:00.000Z')
    const valid = makeCert({
      commonName: 'assertion only',
      notBefore: new Date('2026-01-01T00:00:00Z'),
      notAfter: new Date('2027-01-01T00:00:00Z')
    })
    setInputs({
      'assertion-only': 'true',
      'assertion-lifetime': '120',
      certificate: valid.keyPem + valid.certPem
    })
    delete process.env.INPUT_SCOPE
    const count = server.requests.length
    await run({ now: () => now })
    const r = result()
    expect(process.exitCode).toBeUndefined()
    expect(server.requests.length).toBe(count)
    expect(r.outputs['client-assertion-expires-on']).toBe('2026-11-23T10:02:00.000Z')
    expect(decodeJwt(r.outputs['client-assertion'])).toMatchObject({
      iat: Date.parse('2026-11-23T10:00:00Z') / 1000,
      exp: Date.parse('2026-11-23T10:02:00Z') / 1000
    })
    expect(info()).toEqual([
      `Signed a client assertion for ${server.tokenUrl(TENANT)}; it expires at 2026-11-23T10:02:00.000Z. No token was requested (assertion-only).`
    ])
    expect(r.summary).toMatch(/^<h3>Client assertion<\/h3>\r?\n<table><tr><th>Field<\/th>/)
    expect(r.summary).toContain(
      '<tr><td>Assertion expires</td><td>2026-11-23T10:02:00.000Z</td></tr>'
    )
  })

  it('warns from the given clock, naming certificate-file when the certificate is a file', async () => {
    const file = join(dir, 'cert.pem')
    writeFileSync(file, cert.keyPem + cert.certPem)
    delete process.env.INPUT_CERTIFICATE
    setInputs({ 'certificate-file': file, 'assertion-only': 'true' })
    const validTo = new Date(cert.cert.validTo)
    await run({ now: () => new Date(validTo.getTime() - 3 * 86_400_000 - 3_600_000) })
    expect(process.exitCode).toBeUndefined()
    expect(printed).toMatch(
      /^::warning::The certificate in 'certificate-file' expires in 3 days \(/m
    )
  })

  it.each([
    ['private-key', 'for a key given on its own'],
    ['certificate', 'for a key beside its certificate']
  ])('names %s %s', async (input) => {
    const ec = makeCert({ curve: 'P-256' })
    setInputs(
      input === 'private-key'
        ? { certificate: ec.certPem, 'private-key': ec.keyPem }
        : { certificate: ec.keyPem + ec.certPem }
    )
    await run()
    expect(process.exitCode).toBe(1)
    expect(result().errors).toEqual([
      `The key in '${input}' is an EC key; Microsoft Entra ID accepts RSA certificates only. Create an RSA certificate (2048 bits or more).`
    ])
  })

  it('masks each line of a password of several lines, as the runner masks line by line', async () => {
    const encrypted = makeCert({ commonName: 'encrypted key' })
    const password = 'first-line-of-it\nsecond-line-of-it'
    const key = createPrivateKey(encrypted.keyPem).export({
      type: 'pkcs8',
      format: 'pem',
      cipher: 'aes-256-cbc',
      passphrase: password
    })
    server.apps[0].certificates.push(encrypted.cert)
    setInputs({ certificate: `${key}${encrypted.certPem}`, 'certificate-password': password })
    await run()
    const r = result()
    expect(process.exitCode).toBeUndefined()
    expect(r.masked).toContain('first-line-of-it')
    expect(r.masked).toContain('second-line-of-it')
  })

  it('logs the assertion header and claims at debug level, with the jti hidden', async () => {
    process.env.RUNNER_DEBUG = '1'
    try {
      await run()
    } finally {
      delete process.env.RUNNER_DEBUG
    }
    const sent = server.requests.at(-1)!.form.client_assertion
    const debug = printed.split(/\r?\n/).filter((l) => l.startsWith('::debug::Client assertion'))
    expect(debug).toEqual([
      `::debug::Client assertion header ${JSON.stringify(decodeProtectedHeader(sent))}, claims ${JSON.stringify({ ...decodeJwt(sent), jti: '***' })}`
    ])
  })

  it('logs no assertion without debug', async () => {
    await run()
    expect(printed).not.toContain('::debug::')
  })

  it("reports any other failure as unexpected, with the error's name", async () => {
    // A runner file that is gone (@actions/core checks): the same error on every system.
    const output = join(dir, 'gone', 'output')
    process.env.GITHUB_OUTPUT = output
    await run()
    expect(process.exitCode).toBe(1)
    expect(result().errors).toEqual([`Unexpected error: Error: Missing file at path: ${output}`])
  })
})

describe('run: a token endpoint whose clock is off', () => {
  const T = Date.parse('2026-11-23T10:00:00.000Z')
  const refusal = (offsetMs: number) => ({
    status: 401,
    headers: { Date: new Date(T + offsetMs).toUTCString() },
    body: JSON.stringify({
      error: 'invalid_client',
      error_description: 'AADSTS700024: Client assertion is not within its valid time range.',
      error_codes: [700024]
    })
  })
  // Only Date is fixed (timers run as usual), so the measured offset is exact.
  const atFixedTime = async (offsetMs: number) => {
    jest.useFakeTimers({
      now: T,
      doNotFake: [
        'hrtime',
        'nextTick',
        'performance',
        'queueMicrotask',
        'requestAnimationFrame',
        'cancelAnimationFrame',
        'requestIdleCallback',
        'cancelIdleCallback',
        'setImmediate',
        'clearImmediate',
        'setInterval',
        'clearInterval',
        'setTimeout',
        'clearTimeout'
      ]
    })
    const valid = makeCert({
      notBefore: new Date('2026-01-01T00:00:00Z'),
      notAfter: new Date('2027-01-01T00:00:00Z')
    })
    server.apps[0].certificates.push(valid.cert)
    setInputs({ certificate: valid.keyPem + valid.certPem })
    server.faults.push(refusal(offsetMs))
    try {
      await run()
    } finally {
      jest.useRealTimers()
    }
    return result()
  }
  const warning = (text: string) =>
    `The token endpoint's clock is ${text} this runner's: it refused the client assertion as outside its valid time range (AADSTS700024). Signing it again on the server's time and retrying once; set the runner's clock right (NTP).`

  it('says 120 s ahead in minutes too, and signs the output assertion on its time', async () => {
    // The Date header has whole seconds: the middle of its second is taken, 119.5 s here.
    const r = await atFixedTime(119_000)
    expect(r.errors).toEqual([])
    expect(printed.split(/\r?\n/).filter((l) => l.startsWith('::warning::'))).toEqual([
      `::warning::${warning('120 s (2 min) ahead of')}`
    ])
    const at = T / 1000 + 119
    expect(decodeJwt(server.requests.at(-1)!.form.client_assertion)).toMatchObject({ iat: at })
    expect(decodeJwt(r.outputs['client-assertion'])).toMatchObject({ iat: at, exp: at + 600 })
    expect(r.outputs['client-assertion-expires-on']).toBe('2026-11-23T10:11:59.000Z')
  })

  it('says 119 s behind in seconds alone', async () => {
    expect((await atFixedTime(-119_000)).errors).toEqual([]) // -118.5 s
    expect(printed.split(/\r?\n/).filter((l) => l.startsWith('::warning::'))).toEqual([
      `::warning::${warning('119 s behind')}`
    ])
  })
})

describe('run: GitHub OIDC federation', () => {
  beforeEach(() => {
    delete process.env.INPUT_CERTIFICATE
  })

  it.each(['ACTIONS_ID_TOKEN_REQUEST_URL', 'ACTIONS_ID_TOKEN_REQUEST_TOKEN'])(
    'needs %s too',
    async (missing) => {
      process.env.ACTIONS_ID_TOKEN_REQUEST_URL = server.oidcRequestUrl
      process.env.ACTIONS_ID_TOKEN_REQUEST_TOKEN = server.oidcRequestToken
      delete process.env[missing]
      const count = server.requests.length
      await run()
      expect(server.requests.length).toBe(count)
      expect(result().errors).toEqual([
        "No credential: 'certificate' and 'certificate-file' are empty, and the job has no GitHub OIDC token. If the certificate comes from a secret, that secret is empty in this run: pull requests from forks and Dependabot get no secrets, the secret's name may be misspelt, or it is an environment secret and the job has no 'environment:' naming that environment. To sign in without a certificate, add 'permissions: id-token: write' to the job to use GitHub OIDC federation."
      ])
    }
  )

  it('says what to check when the runner refuses the OIDC token', async () => {
    process.env.ACTIONS_ID_TOKEN_REQUEST_URL = server.oidcRequestUrl
    process.env.ACTIONS_ID_TOKEN_REQUEST_TOKEN = 'wrong-request-token'
    setInputs({ 'oidc-audience': 'api://custom' })
    await run({ policy: FAST })
    expect(process.exitCode).toBe(1)
    expect(result().errors).toEqual([
      "Could not get a GitHub OIDC token for audience 'api://custom' from the runner within 1 s: check that the job has 'permissions: id-token: write', or set 'certificate'."
    ])
  })

  it('outputs the OIDC token it sent, without asking for another', async () => {
    server.apps[0].federated = {}
    process.env.ACTIONS_ID_TOKEN_REQUEST_URL = server.oidcRequestUrl
    process.env.ACTIONS_ID_TOKEN_REQUEST_TOKEN = server.oidcRequestToken
    const count = server.idTokens.length
    try {
      await run()
    } finally {
      delete server.apps[0].federated
    }
    const r = result()
    expect(process.exitCode).toBeUndefined()
    expect(server.idTokens.length - count).toBe(1)
    expect(r.outputs['client-assertion']).toBe(server.idTokens.at(-1))
    expect(r.outputs['client-assertion-expires-on']).toBe(
      new Date((decodeJwt(server.idTokens.at(-1)!).exp ?? 0) * 1000).toISOString()
    )
    expect(r.summary).toContain(
      '<tr><td>Credential</td><td>GitHub OIDC token (federation)</td></tr>'
    )
  })

  /** An assertion-only run whose runner answers the OIDC token request with `value`. */
  const withRunnerToken = async (value: string) => {
    const runner = await startHostileServer({
      oidc: (_req, socket) => answer(socket, 200, JSON.stringify({ value }))
    })
    process.env.ACTIONS_ID_TOKEN_REQUEST_URL = `${runner.url}/oidc?api-version=2.0`
    process.env.ACTIONS_ID_TOKEN_REQUEST_TOKEN = 'request-token-0123456789'
    setInputs({ 'assertion-only': 'true' })
    try {
      await run()
    } finally {
      await runner.close()
    }
    return result()
  }

  it('reports an OIDC token that is not a JWT as unexpected, with the error name', async () => {
    expect((await withRunnerToken('not-a-jwt')).errors).toEqual([
      'Unexpected error: JWTInvalid: Invalid JWT'
    ])
  })

  it('refuses an OIDC token with a line break before it is used, and prints none of its lines', async () => {
    const r = await withRunnerToken('eyJhbGciOiJub25lIn0.e30.c2ln\n::warning::from the token')
    expect(r.errors).toEqual([
      "The runner's OIDC endpoint answered a GitHub OIDC token that is not a token (RFC 6749 appendix A.12: visible ASCII characters only): check ACTIONS_ID_TOKEN_REQUEST_URL, or set 'certificate'."
    ])
    expect(r.outputs).toEqual({})
    expect(printed).not.toMatch(/^::warning::from the token/m)
  })

  it('outputs an OIDC token without exp as it is, with no expiry', async () => {
    const claims = Buffer.from('{"aud":"api://AzureADTokenExchange"}').toString('base64url')
    const value = `eyJhbGciOiJub25lIn0.${claims}.c2ln`
    const r = await withRunnerToken(value)
    expect(r.errors).toEqual([])
    expect(r.outputs['client-assertion']).toBe(value)
    expect(r.outputs['client-assertion-expires-on']).toBe('')
  })

  it('gets one OIDC token as the assertion with assertion-only, and says so', async () => {
    process.env.ACTIONS_ID_TOKEN_REQUEST_URL = server.oidcRequestUrl
    process.env.ACTIONS_ID_TOKEN_REQUEST_TOKEN = server.oidcRequestToken
    setInputs({ 'assertion-only': 'true', 'oidc-audience': 'api://custom' })
    const count = server.idTokens.length
    const posts = () => server.requests.filter((q) => q.method === 'POST').length
    const requests = posts()
    await run()
    const r = result()
    expect(process.exitCode).toBeUndefined()
    expect(server.idTokens.length - count).toBe(1)
    expect(posts()).toBe(requests)
    const idToken = server.idTokens.at(-1)!
    expect(decodeJwt(idToken).aud).toBe('api://custom')
    expect(r.outputs['client-assertion']).toBe(idToken)
    const expiresOn = new Date((decodeJwt(idToken).exp ?? 0) * 1000).toISOString()
    expect(r.outputs['client-assertion-expires-on']).toBe(expiresOn)
    expect(r.masked).toContain(idToken)
    expect(r.log).toContain(
      `Got a GitHub OIDC token for api://custom as the client assertion; it expires at ${expiresOn}. No token was requested (assertion-only).`
    )
    expect(r.summary).toContain('<tr><td>Assertion audience</td><td>api://custom</td></tr>')
  })
})
