// dist/index.js run as the runner runs it, over HTTPS (NODE_EXTRA_CA_CERTS), against the Entra-like
// server with injected faults: the retry decisions, the retry lines, the one-line errors, the time
// bounds, secret hygiene in every outcome, and concurrent runs. Real waits, kept short with
// Retry-After where the policy allows it.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals'
import { createPrivateKey, randomBytes, randomUUID } from 'node:crypto'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { request } from 'node:https'
import { createServer, type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { decodeJwt, decodeProtectedHeader } from 'jose'
import { makeCert, makeTlsCert } from './support/certs.js'
import { startEntraServer } from './support/entra-server.js'
import { startOidcProvider } from './support/oidc-provider.js'
import { findLeaks, ROOT, runAction, type ActionRun } from './support/run-action.js'

type Server = Awaited<ReturnType<typeof startEntraServer>>
type Recorded = Server['requests'][number]

const CLIENT = randomUUID()
const TENANT = randomUUID()
const SCOPE = 'https://graph.microsoft.com/.default'
const PASSWORD = `pw-${randomBytes(12).toString('base64url')}`
const cert = makeCert({ commonName: 'faults test' })
// The key as the workflow passes it: encrypted with certificate-password.
const encryptedKeyPem = createPrivateKey(cert.keyPem)
  .export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: PASSWORD })
  .toString()
const keyBase64Lines = [...cert.keyPem.split('\n'), ...encryptedKeyPem.split('\n')].filter(
  (line) => line.length > 40
)
const DEBUG = { RUNNER_DEBUG: '1', ACTIONS_STEP_DEBUG: 'true' }
const RETRY_LINES = /^Attempt \d+ of \d+ failed: .*$/gm
const IS_RETRY_LINE = /^Attempt \d+ of \d+ failed: /

let server: Server
let dir: string
let tls: ReturnType<typeof makeTlsCert>
let endpoint: string

beforeAll(async () => {
  if (!existsSync(join(ROOT, 'dist', 'index.js')))
    throw new Error('dist/index.js is missing: run `npm run package` first.')
  dir = mkdtempSync(join(tmpdir(), 'faults-'))
  tls = makeTlsCert(dir)
  server = await startEntraServer({
    apps: [{ clientId: CLIENT, tenantId: TENANT, certificates: [cert.cert] }],
    tls: { keyPem: tls.keyPem, certPem: tls.certPem }
  })
  endpoint = server.tokenUrl(TENANT)
})
afterAll(async () => {
  await server.close()
  rmSync(dir, { recursive: true, force: true })
})
beforeEach(() => {
  server.faults.length = 0
})

interface Outcome {
  run: ActionRun
  /** The requests this run sent, in order. */
  requests: Recorded[]
  /** The client assertions those requests carried, in order. */
  assertions: string[]
  /** Retry lines, as the runner shows them. */
  retries: string[]
  /** Every secret that exists in this run, for `findLeaks`. */
  secrets: string[]
  ms: number
}

/** Runs dist/index.js with the usual inputs (overridable), trusting the test TLS certificate. */
async function act(
  inputs: Record<string, string> = {},
  env: Record<string, string> = {},
  timeoutMs = 90_000
): Promise<Outcome> {
  const before = server.requests.length
  const start = Date.now()
  const run = await runAction(
    {
      'client-id': CLIENT,
      'tenant-id': TENANT,
      scope: SCOPE,
      certificate: encryptedKeyPem + cert.certPem,
      'certificate-password': PASSWORD,
      'authority-host': server.url,
      ...inputs
    },
    { env: { NODE_EXTRA_CA_CERTS: tls.caFile, ...env }, timeoutMs }
  )
  const ms = Date.now() - start
  const requests = server.requests.slice(before)
  const assertions = requests.map((r) => r.form.client_assertion).filter(Boolean)
  return {
    run,
    requests,
    assertions,
    retries: run.log.match(RETRY_LINES) ?? [],
    // What the run masked counts too: assertions sent to a host that never answered.
    secrets: [...server.issued, ...assertions, ...run.masked, ...keyBase64Lines, PASSWORD],
    ms
  }
}

/**
 * The backoff a run logged, in ms: the sum of its "retrying in N s" lines. Unlike the wall clock,
 * it does not depend on how busy the machine is.
 */
function waited(outcome: Outcome): number {
  return outcome.retries
    .map((line) => Number(/retrying in (\d+\.\d) s\.$/.exec(line)?.[1] ?? NaN) * 1000)
    .reduce((a, b) => a + b, 0)
}

/** Where `line` stands as a whole line in printed text, ended by LF or CRLF (os.EOL on Windows). */
function indexOfLine(text: string, line: string): number {
  const escaped = line.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
  return text.search(new RegExp(`^${escaped}\r?$`, 'm'))
}

/**
 * The client assertions a run signed (and masked) for its requests, in order: JWTs naming a
 * certificate, but the `client-assertion` output, which is signed for later steps, not sent.
 */
function signedAssertions(run: ActionRun): string[] {
  return run.masked.filter((value) => {
    if (value === run.outputs['client-assertion']) return false
    try {
      const header = decodeProtectedHeader(value)
      return header['x5t#S256'] !== undefined || header.x5t !== undefined
    } catch {
      return false
    }
  })
}

/** No secret printed, in the summary, or exported; every assertion and token masked in time. */
function expectClean(outcome: Outcome): void {
  const { run, assertions, secrets } = outcome
  expect(findLeaks(run, secrets)).toEqual([])
  expect(run.exported).toEqual({})
  for (const secret of secrets) expect(JSON.stringify(run.exported)).not.toContain(secret)
  const signed = signedAssertions(run)
  for (const assertion of assertions) expect(signed).toContain(assertion)
  // Masked as soon as it exists: before the line that reports the attempt it was sent with.
  const reports = [...run.stdout.matchAll(/^(Attempt \d+ of|::error::|Got a ).*$/gm)]
  expect(reports).toHaveLength(signed.length)
  signed.forEach((assertion, i) => {
    const maskedAt = indexOfLine(run.stdout, `::add-mask::${assertion}`)
    expect(maskedAt).toBeGreaterThanOrEqual(0)
    expect(maskedAt).toBeLessThan(reports[i].index)
  })
  const token = run.outputs['access-token']
  if (token !== undefined) {
    expect(run.masked).toContain(token)
    const maskedAt = indexOfLine(run.stdout, `::add-mask::${token}`)
    expect(maskedAt).toBeGreaterThanOrEqual(0)
    expect(maskedAt).toBeLessThan(run.stdout.indexOf('Got a '))
  }
}

/** The log lines that are not retry lines (nor empty). */
function otherLines(run: ActionRun): string[] {
  return run.log.split(/\r?\n/).filter((line) => line.trim() && !IS_RETRY_LINE.test(line))
}

/** The line a successful run ends with. */
function gotLine(run: ActionRun): string {
  return `Got a Bearer token for '${SCOPE}' from ${endpoint}; it expires at ${run.outputs['expires-on']}.`
}

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

/** POSTs a form over HTTPS trusting the test certificate; the status and the JSON answer. */
function postForm(url: string, form: Record<string, string>): Promise<[number, unknown]> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        ca: tls.certPem,
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' }
      },
      (res) => {
        let body = ''
        res.on('data', (chunk) => (body += chunk))
        res.on('end', () => resolve([res.statusCode ?? 0, JSON.parse(body)]))
      }
    )
    req.on('error', reject)
    req.end(new URLSearchParams(form).toString())
  })
}

/** A loopback port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const probe = createServer()
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve))
  const { port } = probe.address() as AddressInfo
  await new Promise((resolve) => probe.close(resolve))
  return port
}

/** Entra's answer to a server fault: trace and correlation IDs in fields and in the text. */
function entraServerError(trace: string, correlation: string): string {
  return JSON.stringify({
    error: 'server_error',
    error_description: `AADSTS90033: A transient error has occurred. Please try again.\r\nTrace ID: ${trace}\r\nCorrelation ID: ${correlation}\r\nTimestamp: 2025-01-01 00:00:00Z`,
    error_codes: [90033],
    timestamp: '2025-01-01 00:00:00Z',
    trace_id: trace,
    correlation_id: correlation,
    error_uri: 'https://login.microsoftonline.com/error?code=90033'
  })
}

describe('transient faults are retried with a fresh assertion', () => {
  it('retries a 429 after its Retry-After and logs exactly one retry line', async () => {
    server.faults.push({ status: 429, retryAfter: '0' })
    const outcome = await act()
    const { run, requests, assertions } = outcome
    expect(run.code).toBe(0)
    expect(requests).toHaveLength(2)
    expect(run.outputs['access-token']).toBe(server.issued.at(-1))
    expect(outcome.retries).toEqual([
      'Attempt 1 of 4 failed: HTTP 429 (AADSTS50196); retrying in 0.0 s.'
    ])
    expect(otherLines(run)).toEqual([gotLine(run)])
    expect(run.errors).toEqual([])
    const jtis = assertions.map((a) => decodeJwt(a).jti)
    expect(jtis).toHaveLength(2)
    expect(new Set(jtis).size).toBe(2)
    expectClean(outcome)
  })

  it('retries a 503 and then a connection reset, logging one line for each', async () => {
    server.faults.push({ status: 503, retryAfter: '0' }, { reset: true })
    const outcome = await act()
    const { run, requests, assertions } = outcome
    expect(run.code).toBe(0)
    expect(requests).toHaveLength(3)
    expect(run.outputs['access-token']).toBe(server.issued.at(-1))
    expect(outcome.retries).toHaveLength(2)
    expect(outcome.retries[0]).toBe(
      'Attempt 1 of 4 failed: HTTP 503 (AADSTS90033); retrying in 0.0 s.'
    )
    // No Retry-After on a reset: the second backoff, 2 s with jitter (x0.5-1.0).
    expect(outcome.retries[1]).toMatch(
      /^Attempt 2 of 4 failed: ECONNRESET \(connection reset\); retrying in (1\.\d|2\.0) s\.$/
    )
    expect(otherLines(run)).toEqual([gotLine(run)])
    expect(new Set(assertions.map((a) => decodeJwt(a).jti)).size).toBe(3)
    expectClean(outcome)
  })

  it('waits out an attempt that gets no answer for 15 s, then succeeds', async () => {
    server.faults.push({ hang: true })
    const outcome = await act()
    const { run, requests } = outcome
    expect(run.code).toBe(0)
    expect(requests).toHaveLength(2)
    expect(run.outputs['access-token']).toBe(server.issued.at(-1))
    expect(outcome.retries).toHaveLength(1)
    expect(outcome.retries[0]).toMatch(
      /^Attempt 1 of 4 failed: no answer within 15 s; retrying in (0\.[5-9]|1\.0) s\.$/
    )
    expect(otherLines(run)).toEqual([gotLine(run)])
    // 15 s for the attempt and up to 1 s of backoff. That the process exits right after the token
    // (the abandoned socket holds nothing open) is exit code 0: a hung run is killed, with no code.
    expect(outcome.ms).toBeGreaterThanOrEqual(15_000)
    expect(waited(outcome)).toBeLessThanOrEqual(1_000)
    expectClean(outcome)
  })

  it('retries temporarily_unavailable even when it comes with a 400', async () => {
    server.faults.push({
      status: 400,
      retryAfter: '0',
      body: JSON.stringify({ error: 'temporarily_unavailable' })
    })
    const outcome = await act()
    const { run, requests } = outcome
    expect(run.code).toBe(0)
    expect(requests).toHaveLength(2)
    expect(outcome.retries).toHaveLength(1)
    expect(outcome.retries[0]).toMatch(
      /^Attempt 1 of 4 failed: HTTP 400\b.*; retrying in 0\.0 s\.$/
    )
    expect(run.outputs['access-token']).toBe(server.issued.at(-1))
    expectClean(outcome)
  })

  it('retries a 504 with an empty body after the first backoff', async () => {
    server.faults.push({ status: 504, body: '' })
    const outcome = await act()
    const { run, requests } = outcome
    expect(run.code).toBe(0)
    expect(requests).toHaveLength(2)
    // No Retry-After: the first backoff, 1 s with jitter (x0.5-1.0).
    expect(outcome.retries).toHaveLength(1)
    expect(outcome.retries[0]).toMatch(
      /^Attempt 1 of 4 failed: HTTP 504; retrying in (0\.[5-9]|1\.0) s\.$/
    )
    expect(run.outputs['access-token']).toBe(server.issued.at(-1))
    expectClean(outcome)
  })
})

describe('persistent faults end in one explained error line', () => {
  it('gives up on HTML 502 pages after 4 attempts, quoting a short tag-free excerpt', async () => {
    server.faults.push({ html502: true }, { html502: true }, { html502: true }, { html502: true })
    const outcome = await act()
    const { run, requests } = outcome
    expect(run.code).toBe(1)
    expect(requests).toHaveLength(4)
    expect(outcome.retries).toHaveLength(3)
    outcome.retries.forEach((line, i) =>
      expect(line).toMatch(
        new RegExp(`^Attempt ${i + 1} of 4 failed: HTTP 502; retrying in \\d\\.\\d s\\.$`)
      )
    )
    expect(run.errors).toHaveLength(1)
    const [error] = run.errors
    expect(error).not.toMatch(/[\r\n]/)
    expect(error).toContain('HTTP 502 (not JSON): "')
    expect(error).toContain('(gave up after 4 attempts)')
    const excerpt = /HTTP 502 \(not JSON\): "([^"]*)"/.exec(error)?.[1]
    expect(excerpt).toBe('502 Bad Gateway')
    expect(error).not.toContain('<')
    expect(error.length).toBeLessThan(400)
    expect(error).toBe(
      `Token request to ${endpoint} failed: HTTP 502 (not JSON): "502 Bad Gateway" (gave up after 4 attempts).`
    )
    // Backoff 1 + 2 + 4 s, each x0.5-1.0: as logged, and at least that long by the clock.
    expect(waited(outcome)).toBeGreaterThanOrEqual(3_300)
    expect(waited(outcome)).toBeLessThanOrEqual(7_200)
    expect(outcome.ms).toBeGreaterThanOrEqual(3_500)
    expect(otherLines(run)).toEqual([`::error::${error}`])
    expectClean(outcome)
  })

  it('gives up on a persistent 500 after 4 attempts, with the last trace and correlation IDs', async () => {
    const ids = [1, 2, 3, 4].map(() => [randomUUID(), randomUUID()])
    for (const [trace, correlation] of ids)
      server.faults.push({
        status: 500,
        retryAfter: '0',
        body: entraServerError(trace, correlation)
      })
    const outcome = await act()
    const { run, requests } = outcome
    expect(run.code).toBe(1)
    expect(requests).toHaveLength(4)
    expect(outcome.retries).toEqual(
      [1, 2, 3].map((n) => `Attempt ${n} of 4 failed: HTTP 500 (AADSTS90033); retrying in 0.0 s.`)
    )
    const [trace, correlation] = ids[3]
    expect(run.errors).toEqual([
      `Token request to ${endpoint} failed: HTTP 500 server_error. AADSTS90033: A transient error has occurred. Trace ID: ${trace}. Correlation ID: ${correlation} (gave up after 4 attempts).`
    ])
    expect(new Set(outcome.assertions.map((a) => decodeJwt(a).jti)).size).toBe(4)
    expectClean(outcome)
  })

  it('does not retry a 400 invalid_scope and says what to fix', async () => {
    // With token-endpoint the action leaves the scope to the server, which refuses it.
    const outcome = await act({
      'token-endpoint': endpoint,
      scope: 'https://graph.microsoft.com/User.Read'
    })
    const { run, requests } = outcome
    expect(run.code).toBe(1)
    expect(requests).toHaveLength(1)
    expect(outcome.retries).toEqual([])
    expect(run.errors).toHaveLength(1)
    expect(run.errors[0]).toMatch(
      new RegExp(
        `^Token request to ${escape(endpoint)} failed: HTTP 400 invalid_scope\\. AADSTS1002012: The provided value for scope https://graph\\.microsoft\\.com/User\\.Read is not valid\\. Hint: set 'scope' to one resource followed by /\\.default, e\\.g\\. https://graph\\.microsoft\\.com/\\.default\\. Trace ID: [0-9a-f-]{36}\\. Correlation ID: [0-9a-f-]{36}\\.$`
      )
    )
    expect(otherLines(run)).toEqual([`::error::${run.errors[0]}`])
    expectClean(outcome)
  })

  it('does not retry a 401 invalid_client and names the certificate to upload', async () => {
    const stranger = makeCert({ commonName: 'not uploaded' })
    const thumbprint = stranger.cert.fingerprint.replace(/:/g, '')
    const outcome = await act({
      certificate: stranger.keyPem + stranger.certPem,
      'certificate-password': ''
    })
    const { run, requests } = outcome
    expect(run.code).toBe(1)
    expect(requests).toHaveLength(1)
    expect(outcome.retries).toEqual([])
    expect(run.errors).toHaveLength(1)
    expect(run.errors[0]).toMatch(
      new RegExp(
        `^Token request to ${escape(endpoint)} failed: HTTP 401 invalid_client\\. AADSTS700027: Client assertion failed signature validation\\. Hint: upload this certificate \\(thumbprint ${thumbprint}\\) to the app registration .+\\. Trace ID: [0-9a-f-]{36}\\. Correlation ID: [0-9a-f-]{36}\\.$`
      )
    )
    expect(
      findLeaks(
        run,
        stranger.keyPem.split('\n').filter((line) => line.length > 40)
      )
    ).toEqual([])
    expectClean(outcome)
  })

  it('does not retry a plain OAuth 401 invalid_client from another server', async () => {
    server.faults.push({
      status: 401,
      body: JSON.stringify({
        error: 'invalid_client',
        error_description: 'client authentication failed'
      })
    })
    const outcome = await act({ 'token-endpoint': endpoint })
    const { run, requests } = outcome
    expect(run.code).toBe(1)
    expect(requests).toHaveLength(1)
    expect(outcome.retries).toEqual([])
    expect(run.errors).toEqual([
      `Token request to ${endpoint} failed: HTTP 401 invalid_client. client authentication failed. Hint: the server did not accept the client assertion: check 'client-id', that the certificate's public key is registered for the client, and 'audience'.`
    ])
    expectClean(outcome)
  })

  it.each([501, 505])('does not retry a %i, which will not change', async (status) => {
    server.faults.push({ status, retryAfter: '0', body: 'Not Implemented' })
    const outcome = await act()
    const { run, requests } = outcome
    expect(run.code).toBe(1)
    expect(requests).toHaveLength(1)
    expect(outcome.retries).toEqual([])
    expect(run.errors).toEqual([
      `Token request to ${endpoint} failed: HTTP ${status} (not JSON): "Not Implemented".`
    ])
    expectClean(outcome)
  })

  it('keeps a server description with line breaks and no full stop on one error line', async () => {
    // Other servers than Entra (and gateways) send descriptions like this one.
    server.faults.push({
      status: 400,
      body: JSON.stringify({
        error: 'invalid_request',
        error_description:
          'AADSTS90014: The required field is missing\r\nTrace ID: 0f1e2d3c\r\nCorrelation ID: 4b5a6978'
      })
    })
    const outcome = await act()
    const { run, requests } = outcome
    expect(run.code).toBe(1)
    expect(requests).toHaveLength(1)
    expect(run.errors).toHaveLength(1)
    expect(run.errors[0]).toMatch(
      new RegExp(
        `^Token request to ${escape(endpoint)} failed: HTTP 400 invalid_request\\. AADSTS90014: The required field is missing`
      )
    )
    expect(run.errors[0]).not.toMatch(/[\r\n]/)
    expectClean(outcome)
  })
})

describe('unreachable servers', () => {
  it('gives up on a refused connection after 4 attempts, within the bounded time, naming the host', async () => {
    const port = await closedPort()
    const url = `https://127.0.0.1:${port}/token`
    const outcome = await act({ 'token-endpoint': url })
    const { run } = outcome
    expect(run.code).toBe(1)
    expect(outcome.retries).toHaveLength(3)
    outcome.retries.forEach((line, i) =>
      expect(line).toMatch(
        new RegExp(
          `^Attempt ${i + 1} of 4 failed: ECONNREFUSED \\(connection refused\\); retrying in \\d\\.\\d s\\.$`
        )
      )
    )
    expect(run.errors).toEqual([
      `Token request to ${url} failed: 127.0.0.1:${port} could not be reached: ECONNREFUSED (connection refused) (gave up after 4 attempts).`
    ])
    const jtis = signedAssertions(run).map((a) => decodeJwt(a).jti)
    expect(jtis).toHaveLength(4)
    expect(new Set(jtis).size).toBe(4)
    // Backoff 1 + 2 + 4 s, each x0.5-1.0, as logged; refusals are immediate.
    expect(waited(outcome)).toBeGreaterThanOrEqual(3_300)
    expect(waited(outcome)).toBeLessThanOrEqual(7_200)
    expect(outcome.ms).toBeGreaterThanOrEqual(3_500)
    expectClean(outcome)
  })

  it('fails at once on a host name that does not resolve, naming the host', async () => {
    const url = 'https://no-such-host.invalid/token'
    const outcome = await act({ 'token-endpoint': url })
    const { run } = outcome
    expect(run.code).toBe(1)
    expect(outcome.retries).toEqual([])
    expect(run.errors).toEqual([
      `Token request to ${url} failed: no-such-host.invalid could not be reached: ENOTFOUND (host not found). Check the URL, DNS, and the proxy (HTTPS_PROXY/NO_PROXY).`
    ])
    // At once: one attempt, no retry (the log has none), whatever the machine's speed.
    expect(signedAssertions(run)).toHaveLength(1)
    expectClean(outcome)
  })
})

describe('secret hygiene with step debug logging on', () => {
  it('keeps a success clean', async () => {
    server.faults.push({ status: 429, retryAfter: '0' })
    const outcome = await act({}, DEBUG)
    const { run } = outcome
    expect(run.code).toBe(0)
    // Debug logging is really on: the assertion's header and claims are shown.
    expect(run.stdout).toMatch(/^::debug::Client assertion header /m)
    expect(outcome.retries).toEqual([
      'Attempt 1 of 4 failed: HTTP 429 (AADSTS50196); retrying in 0.0 s.'
    ])
    expect(run.outputs['access-token']).toBe(server.issued.at(-1))
    expectClean(outcome)
  })

  it('keeps a failure clean', async () => {
    server.faults.push(
      { status: 503, retryAfter: '0' },
      { status: 401, body: JSON.stringify({ error: 'invalid_client' }) }
    )
    const outcome = await act({}, DEBUG)
    const { run } = outcome
    expect(run.code).toBe(1)
    expect(run.stdout).toMatch(/^::debug::Client assertion header /m)
    expect(outcome.requests).toHaveLength(2)
    expect(run.errors).toHaveLength(1)
    expect(run.errors[0]).toMatch(/^Token request to .+ failed: HTTP 401 invalid_client\. Hint: /)
    expectClean(outcome)
  })
})

describe('load', () => {
  it('serves 12 simultaneous runs, each with its own assertion and token', async () => {
    const before = server.requests.length
    const issuedBefore = server.issued.length
    const runs = await Promise.all(
      Array.from({ length: 12 }, () =>
        runAction(
          {
            'client-id': CLIENT,
            'tenant-id': TENANT,
            scope: SCOPE,
            certificate: encryptedKeyPem + cert.certPem,
            'certificate-password': PASSWORD,
            'authority-host': server.url
          },
          { env: { NODE_EXTRA_CA_CERTS: tls.caFile }, timeoutMs: 60_000 }
        )
      )
    )
    expect(runs.map((r) => r.code)).toEqual(Array(12).fill(0))
    const requests = server.requests.slice(before)
    expect(requests).toHaveLength(12)
    const issued = server.issued.slice(issuedBefore)
    const tokens = runs.map((r) => r.outputs['access-token'])
    expect(new Set(tokens).size).toBe(12)
    for (const token of tokens) expect(issued).toContain(token)
    const assertions = requests.map((r) => r.form.client_assertion)
    expect(new Set(assertions.map((a) => decodeJwt(a).jti)).size).toBe(12)
    const secrets = [...issued, ...assertions, ...keyBase64Lines, PASSWORD]
    for (const run of runs) {
      expect(findLeaks(run, secrets)).toEqual([])
      expect(run.exported).toEqual({})
      expect(run.masked).toContain(run.outputs['access-token'])
      expect(run.errors).toEqual([])
    }
  })

  it('gets 5 tokens in a row from oidc-provider, which refuses a reused jti', async () => {
    const provider = await startOidcProvider({
      clients: [{ clientId: 'faults-client', publicKeyPem: cert.certPem, alg: 'PS256' }],
      tls: { keyPem: tls.keyPem, certPem: tls.certPem }
    })
    try {
      const runs: ActionRun[] = []
      for (let i = 0; i < 5; i++) {
        runs.push(
          await runAction(
            {
              'client-id': 'faults-client',
              'token-endpoint': provider.tokenEndpoint,
              scope: 'profile-search',
              certificate: encryptedKeyPem + cert.certPem,
              'certificate-password': PASSWORD
            },
            { env: { NODE_EXTRA_CA_CERTS: tls.caFile }, timeoutMs: 60_000 }
          )
        )
      }
      expect(runs.map((r) => r.code)).toEqual([0, 0, 0, 0, 0])
      expect(runs.map((r) => r.errors)).toEqual([[], [], [], [], []])
      expect(provider.requests).toHaveLength(5)
      expect(provider.requests.map((r) => r.error)).toEqual(Array(5).fill(undefined))
      const jtis = provider.requests.map((r) => r.payload?.jti)
      expect(new Set(jtis).size).toBe(5)
      const tokens = runs.map((r) => r.outputs['access-token'])
      expect(new Set(tokens).size).toBe(5)
      for (const token of tokens) {
        expect(await provider.introspect(token)).toMatchObject({
          active: true,
          clientId: 'faults-client',
          scope: 'profile-search'
        })
      }
      await provider.sync()
      const assertions = provider.requests.map((r) => r.assertion ?? '')
      // Replay detection is on: the first run's assertion, sent again, is refused.
      const [status, answer] = await postForm(provider.tokenEndpoint, {
        grant_type: 'client_credentials',
        scope: 'profile-search',
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        client_assertion: assertions[0]
      })
      expect([status, answer]).toMatchObject([401, { error: 'invalid_client' }])
      await provider.sync()
      expect(provider.requests.at(-1)?.error?.detail).toBe(
        'client assertion tokens must only be used once'
      )
      const secrets = [...tokens, ...assertions, ...keyBase64Lines, PASSWORD]
      runs.forEach((run, i) => {
        expect(findLeaks(run, secrets)).toEqual([])
        expect(run.exported).toEqual({})
        expect(run.masked).toContain(tokens[i])
        expect(run.masked).toContain(assertions[i])
      })
    } finally {
      await provider.close()
    }
  })
})
