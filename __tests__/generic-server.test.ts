// The built action (dist/index.js) run as the runner runs it, against a real, independent OAuth 2.0
// server: oidc-provider with private_key_jwt and the client_credentials grant (`token-endpoint`).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { decodeJwt } from 'jose'
import { makeCert, makeTlsCert, type TestCert } from './support/certs.js'
import { startOidcProvider, type OidcProvider, type OidcRequest } from './support/oidc-provider.js'
import { findLeaks, runAction, type ActionRun, type RunOptions } from './support/run-action.js'

const SCOPE = 'profile-search'
const TTL = 1800
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/
const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'

const rsa = makeCert()
const rsaRs256 = makeCert()
const p256 = makeCert({ curve: 'P-256' })
const p384 = makeCert({ curve: 'P-384' })
const stranger = makeCert()

const CLIENTS = {
  ps256: { clientId: 'search-ps256', cert: rsa, alg: 'PS256' },
  rs256: { clientId: 'search-rs256', cert: rsaRs256, alg: 'RS256' },
  es256: { clientId: 'search-es256', cert: p256, alg: 'ES256' },
  es384: { clientId: 'search-es384', cert: p384, alg: 'ES384' }
} as const
type ClientName = keyof typeof CLIENTS

/** The base64 lines of a private key PEM: none may show up in any log. */
const keyLines = (cert: TestCert) => cert.keyPem.split('\n').filter((l) => l && !l.startsWith('-'))
const allKeyLines = [rsa, rsaRs256, p256, p384, stranger].flatMap(keyLines)

function registration(name: ClientName) {
  const { clientId, cert, alg } = CLIENTS[name]
  return { clientId, publicKeyPem: cert.certPem, alg }
}

let server: OidcProvider
beforeAll(async () => {
  server = await startOidcProvider({
    clients: (Object.keys(CLIENTS) as ClientName[]).map(registration),
    tokenTtl: TTL
  })
})
afterAll(() => server?.close())

/** Inputs for a client of `on`, signing with `cert` (the client's own by default). */
function inputsFor(
  on: OidcProvider,
  name: ClientName,
  extra: Record<string, string> = {},
  cert: TestCert = CLIENTS[name].cert
): Record<string, string> {
  return {
    'client-id': CLIENTS[name].clientId,
    'token-endpoint': on.tokenEndpoint,
    scope: SCOPE,
    certificate: cert.keyPem + cert.certPem,
    ...extra
  }
}

/** Runs the action and returns the run with the token requests the provider answered meanwhile. */
async function runCounting(
  inputs: Record<string, string>,
  options: RunOptions = {},
  on: OidcProvider = server
): Promise<{ run: ActionRun; sent: OidcRequest[] }> {
  const before = on.requests.length
  const run = await runAction(inputs, options)
  await on.sync()
  return { run, sent: on.requests.slice(before) }
}

/** Every secret a run could leak: the token, every assertion sent, every line of every key. */
function leaks(run: ActionRun, sent: OidcRequest[]): string[] {
  const assertions = sent.map((r) => r.assertion).filter((a): a is string => Boolean(a))
  return findLeaks(run, [run.outputs['access-token'] ?? 'no token', ...assertions, ...allKeyLines])
}

/**
 * Checks a successful run end to end: exit 0, one accepted request, the exact outputs, and that the
 * access token is the one the provider issued to this client for the scope (its own store says so).
 */
async function expectIssued(
  run: ActionRun,
  sent: OidcRequest[],
  clientId: string,
  on: OidcProvider = server
): Promise<string> {
  expect(run.errors).toEqual([])
  expect(run.code).toBe(0)
  expect(sent).toHaveLength(1)
  expect(sent[0].error).toBeUndefined()
  expect(run.outputs).toEqual({
    'access-token': expect.any(String),
    'token-type': 'Bearer',
    'expires-in': String(TTL),
    'expires-on': expect.stringMatching(ISO),
    'client-assertion': expect.any(String),
    'client-assertion-expires-on': expect.stringMatching(ISO)
  })
  const token = run.outputs['access-token']
  const found = await on.introspect(token)
  expect(found).toEqual({ active: true, clientId, scope: SCOPE, exp: expect.any(Number) })
  // expires-on is counted from when the request was sent; exp from when the server issued it
  // (whole seconds), which is later by however long a busy machine takes to answer.
  const expiresOn = Date.parse(run.outputs['expires-on']) / 1000
  const { exp } = found as { exp: number }
  expect(expiresOn).toBeLessThanOrEqual(exp + 1)
  expect(expiresOn).toBeGreaterThan(exp - 60)
  expect(run.masked).toContain(token)
  expect(run.log).toContain(`Got a Bearer token for '${SCOPE}' from ${on.tokenEndpoint}`)
  expect(run.log).not.toContain(token)
  expect(leaks(run, sent)).toEqual([])
  expect(on.log()).toBe('') // the server printed no warning either
  return token
}

/** Posts a client credentials request with `assertion` straight to the provider. */
async function postAssertion(clientId: string, assertion: string) {
  const response = await fetch(server.tokenEndpoint, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/x-www-form-urlencoded',
      Accept: 'application/json'
    },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: clientId,
      scope: SCOPE,
      client_assertion_type: JWT_BEARER,
      client_assertion: assertion
    })
  })
  return { status: response.status, json: (await response.json()) as Record<string, unknown> }
}

describe('dist/index.js against oidc-provider (token-endpoint)', () => {
  it('gets a token with an RSA certificate and PS256 by default', async () => {
    const { run, sent } = await runCounting(inputsFor(server, 'ps256'))
    await expectIssued(run, sent, CLIENTS.ps256.clientId)
    const { header, payload } = sent[0]
    expect(header).toEqual({ alg: 'PS256', typ: 'JWT', 'x5t#S256': expect.any(String) })
    expect(payload).toMatchObject({
      iss: CLIENTS.ps256.clientId,
      sub: CLIENTS.ps256.clientId,
      aud: server.tokenEndpoint
    })
    expect(run.warnings).toEqual([])
  })

  it('gets a token with RS256 (and x5t)', async () => {
    const { run, sent } = await runCounting(inputsFor(server, 'rs256', { algorithm: 'RS256' }))
    await expectIssued(run, sent, CLIENTS.rs256.clientId)
    expect(sent[0].header).toEqual({ alg: 'RS256', typ: 'JWT', x5t: expect.any(String) })
  })

  it.each([
    ['ES256', 'P-256', 'es256'],
    ['ES384', 'P-384', 'es384']
  ] as const)('gets a token with %s and an EC %s key', async (algorithm, _curve, name) => {
    const { run, sent } = await runCounting(inputsFor(server, name, { algorithm }))
    await expectIssued(run, sent, CLIENTS[name].clientId)
    expect(sent[0].header).toEqual({ alg: algorithm, typ: 'JWT', 'x5t#S256': expect.any(String) })
  })

  it.each([
    ['the issuer identifier', () => server.issuer],
    ['the token endpoint URL', () => server.tokenEndpoint]
  ])('accepts audience set to %s', async (_what, audience) => {
    const { run, sent } = await runCounting(inputsFor(server, 'ps256', { audience: audience() }))
    await expectIssued(run, sent, CLIENTS.ps256.clientId)
    expect(sent[0].payload?.aud).toBe(audience())
  })

  it.each([
    [
      'a certificate that is not registered for the client',
      () => inputsFor(server, 'ps256', {}, stranger),
      'signature verification failed'
    ],
    [
      'a client ID the server does not know',
      () => ({ ...inputsFor(server, 'ps256'), 'client-id': 'nobody' }),
      'client not found'
    ],
    [
      'an audience the server is not',
      () => inputsFor(server, 'ps256', { audience: `${server.issuer}/elsewhere` }),
      'audience (aud) must equal the endpoint url, issuer identifier or token endpoint url'
    ],
    ['another algorithm than the registered one', () => inputsFor(server, 'rs256'), 'alg mismatch']
  ])('explains the refusal of %s and exits 1', async (_what, inputs, detail) => {
    const { run, sent } = await runCounting(inputs())
    expect(run.code).toBe(1)
    // One request: a 4xx other than 429 is never retried.
    expect(sent).toHaveLength(1)
    expect(sent[0].error).toEqual({
      error: 'invalid_client',
      description: 'client authentication failed',
      detail
    })
    expect(run.errors).toEqual([
      `Token request to ${server.tokenEndpoint} failed: HTTP 401 invalid_client. client authentication failed. Hint: the server did not accept the client assertion: check 'client-id', that the certificate's public key is registered for the client, and 'audience'.`
    ])
    expect(run.outputs).toEqual({})
    expect(run.log).not.toMatch(/\n\s+at /) // no stack trace
    expect(leaks(run, sent)).toEqual([])
  })

  it('succeeds on consecutive runs: a fresh jti each time, and the server refuses a replay', async () => {
    const runs = []
    for (let i = 0; i < 5; i++)
      runs.push(await runCounting(inputsFor(server, 'es256', { algorithm: 'ES256' })))
    const tokens = []
    for (const { run, sent } of runs)
      tokens.push(await expectIssued(run, sent, CLIENTS.es256.clientId))
    expect(new Set(tokens).size).toBe(5)
    const jtis = runs.map(({ sent }) => sent[0].payload?.jti)
    expect(jtis.every((jti) => typeof jti === 'string' && jti.length > 0)).toBe(true)
    expect(new Set(jtis).size).toBe(5)

    // Replay detection is on: the last run's own assertion, still unexpired, is refused a second time.
    const replayed = runs[4].sent[0].assertion as string
    const answer = await postAssertion(CLIENTS.es256.clientId, replayed)
    await server.sync()
    expect(answer).toEqual({
      status: 401,
      json: { error: 'invalid_client', error_description: 'client authentication failed' }
    })
    expect(server.requests.at(-1)?.error?.detail).toBe(
      'client assertion tokens must only be used once'
    )
  })

  it('outputs a client-assertion with its own jti, which this replay-refusing server accepts', async () => {
    const { run, sent } = await runCounting(inputsFor(server, 'ps256'))
    await expectIssued(run, sent, CLIENTS.ps256.clientId)
    const assertion = run.outputs['client-assertion']
    expect(decodeJwt(assertion).jti).not.toBe(sent[0].payload?.jti)
    expect(decodeJwt(assertion).aud).toBe(server.tokenEndpoint)
    const answer = await postAssertion(CLIENTS.ps256.clientId, assertion)
    expect(answer.status).toBe(200)
    expect(answer.json.access_token).toEqual(expect.any(String))
  })
})

describe('dist/index.js against oidc-provider over HTTPS', () => {
  const dir = mkdtempSync(join(tmpdir(), 'oidc-tls-'))
  const tls = makeTlsCert(dir)
  let https: OidcProvider
  beforeAll(async () => {
    https = await startOidcProvider({
      clients: [registration('ps256')],
      tls: { keyPem: tls.keyPem, certPem: tls.certPem },
      tokenTtl: TTL
    })
  })
  afterAll(async () => {
    await https?.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('gets a token when the server certificate is trusted through NODE_EXTRA_CA_CERTS', async () => {
    expect(https.tokenEndpoint).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/token$/)
    const { run, sent } = await runCounting(
      inputsFor(https, 'ps256'),
      { env: { NODE_EXTRA_CA_CERTS: tls.caFile } },
      https
    )
    await expectIssued(run, sent, CLIENTS.ps256.clientId, https)
    expect(sent[0].payload?.aud).toBe(https.tokenEndpoint)
  })

  it('explains an untrusted server certificate and sends nothing', async () => {
    const { run, sent } = await runCounting(inputsFor(https, 'ps256'), {}, https)
    expect(run.code).toBe(1)
    expect(sent).toEqual([])
    expect(run.errors).toHaveLength(1)
    expect(run.errors[0]).toContain(`Token request to ${https.tokenEndpoint} failed`)
    expect(run.errors[0]).toContain('TLS certificate not trusted')
    expect(leaks(run, sent)).toEqual([])
  })
})
