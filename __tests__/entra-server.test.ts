// The Entra-like test server checks what it claims to check: assertions are signed here with jose
// directly (not with the action's code), so a lenient server cannot hide a lenient action.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { createHash, randomUUID } from 'node:crypto'
import { createLocalJWKSet, jwtVerify, SignJWT, type JWTHeaderParameters } from 'jose'
import { makeCert, type TestCert } from './support/certs.js'
import { startEntraServer, type EntraServer } from './support/entra-server.js'

const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47'
const CLIENT = '11111111-2222-3333-4444-555555555555'
const FEDERATED_CLIENT = '66666666-7777-8888-9999-000000000000'
const GRAPH = 'https://graph.microsoft.com/.default'
const PARTNER_CENTER = 'https://api.partner.microsoft.com/.default'
const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'

const cert = makeCert()
const other = makeCert()
const thumbprint = (c: TestCert, algorithm: 'sha1' | 'sha256') =>
  createHash(algorithm).update(c.cert.raw).digest('base64url')

let server: EntraServer
beforeAll(async () => {
  server = await startEntraServer({
    apps: [{ clientId: CLIENT, tenantId: TENANT, certificates: [cert.certPem], roles: ['A.B'] }]
  })
  // Added after start: the federated credential names the server's own GitHub issuer and keys.
  server.apps.push({
    clientId: FEDERATED_CLIENT,
    tenantId: TENANT,
    certificates: [],
    federated: {
      issuer: server.githubIssuer,
      subject: 'repo:octo/repo:ref:refs/heads/main',
      jwks: server.githubJwks
    }
  })
})
afterAll(() => server.close())

interface AssertionOptions {
  header?: JWTHeaderParameters
  claims?: Record<string, unknown>
  signer?: TestCert
}

/** A PS256 assertion for CLIENT as Entra documents it; parts overridable. */
function sign(options: AssertionOptions = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000)
  const header = options.header ?? {
    alg: 'PS256',
    typ: 'JWT',
    'x5t#S256': thumbprint(cert, 'sha256')
  }
  return new SignJWT({
    iss: CLIENT,
    sub: CLIENT,
    aud: server.tokenUrl(TENANT),
    jti: randomUUID(),
    iat: now,
    nbf: now,
    exp: now + 600,
    ...options.claims
  })
    .setProtectedHeader(header)
    .sign((options.signer ?? cert).key)
}

interface Answer {
  status: number
  headers: Headers
  text: string
  json: Record<string, unknown>
}

async function post(
  url: string,
  form: Record<string, string>,
  headers: Record<string, string> = {}
): Promise<Answer> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(form).toString()
  })
  const text = await response.text()
  let json: Record<string, unknown> = {}
  try {
    json = JSON.parse(text)
  } catch {
    // not JSON: left empty
  }
  return { status: response.status, headers: response.headers, text, json }
}

/** The client credentials request the action sends, with `assertion`; fields overridable. */
async function requestToken(
  assertion: string | Promise<string>,
  fields: Record<string, string> = {},
  tenant = TENANT
): Promise<Answer> {
  return post(server.tokenUrl(tenant), {
    grant_type: 'client_credentials',
    client_id: CLIENT,
    scope: GRAPH,
    client_assertion_type: JWT_BEARER,
    client_assertion: await assertion,
    ...fields
  })
}

/** The AADSTS code of an Entra error answer, checking the answer's shape on the way. */
function aadsts(answer: Answer): number {
  const { json } = answer
  const code = (json.error_codes as number[])[0]
  expect(json.error_description).toMatch(
    new RegExp(
      `^AADSTS${code}: \\S.*\r\nTrace ID: ${json.trace_id}\r\nCorrelation ID: ${json.correlation_id}\r\nTimestamp: ${json.timestamp}$`,
      's'
    )
  )
  expect(json.error_uri).toBe(`https://login.microsoftonline.com/error?code=${code}`)
  return code
}

describe('token endpoint', () => {
  it('issues a signed access token for a good PS256 assertion', async () => {
    const answer = await requestToken(sign())
    expect(answer.status).toBe(200)
    expect(answer.json).toEqual({
      token_type: 'Bearer',
      expires_in: 3599,
      ext_expires_in: 3599,
      access_token: expect.any(String)
    })
    const token = answer.json.access_token as string
    const { payload } = await jwtVerify(token, createLocalJWKSet(server.tokenJwks), {
      algorithms: ['RS256'],
      issuer: `https://sts.windows.net/${TENANT}/`,
      audience: 'https://graph.microsoft.com'
    })
    expect(payload).toMatchObject({ tid: TENANT, appid: CLIENT, azp: CLIENT, roles: ['A.B'] })
    expect(payload.exp! - payload.iat!).toBe(3599)
    expect(server.issued.at(-1)).toBe(token)
  })

  it('records the request with its form and the decoded assertion', async () => {
    const assertion = await sign()
    await requestToken(assertion)
    const request = server.requests.at(-1)!
    expect(request).toMatchObject({
      method: 'POST',
      path: `/${TENANT}/oauth2/v2.0/token`,
      form: { client_id: CLIENT, client_assertion: assertion, scope: GRAPH },
      assertion: { header: { alg: 'PS256' }, payload: { iss: CLIENT } }
    })
    expect(request.body).toContain('grant_type=client_credentials')
  })

  it('issues a different token for every request', async () => {
    const first = await requestToken(sign())
    const second = await requestToken(sign())
    expect(first.json.access_token).not.toBe(second.json.access_token)
  })

  it('accepts RS256 with x5t (SHA-1 thumbprint)', async () => {
    const header = { alg: 'RS256', typ: 'JWT', x5t: thumbprint(cert, 'sha1') }
    expect((await requestToken(sign({ header }))).status).toBe(200)
  })

  it('accepts x5c in standard base64 with the registered leaf first', async () => {
    const header = {
      alg: 'PS256',
      typ: 'JWT',
      'x5t#S256': thumbprint(cert, 'sha256'),
      x5c: [cert.cert.raw.toString('base64')]
    }
    expect((await requestToken(sign({ header }))).status).toBe(200)
  })

  it('refuses a thumbprint of a certificate that is not registered (AADSTS700027)', async () => {
    const header = { alg: 'PS256', typ: 'JWT', 'x5t#S256': thumbprint(other, 'sha256') }
    const answer = await requestToken(sign({ header, signer: other }))
    expect(answer.status).toBe(401)
    expect(answer.json.error).toBe('invalid_client')
    expect(aadsts(answer)).toBe(700027)
    expect(answer.json.error_description).toContain('The key was not found.')
  })

  it('refuses a signature by another key than the registered certificate (AADSTS700027)', async () => {
    const answer = await requestToken(sign({ signer: other }))
    expect(aadsts(answer)).toBe(700027)
  })

  it.each([
    ['PS256 with x5t only', { alg: 'PS256', typ: 'JWT', x5t: thumbprint(cert, 'sha1') }],
    [
      'RS256 with x5t#S256 only',
      { alg: 'RS256', typ: 'JWT', 'x5t#S256': thumbprint(cert, 'sha256') }
    ],
    [
      'x5c whose leaf is another certificate',
      {
        alg: 'PS256',
        typ: 'JWT',
        'x5t#S256': thumbprint(cert, 'sha256'),
        x5c: [other.cert.raw.toString('base64')]
      }
    ]
  ])('refuses %s (AADSTS700027)', async (_, header) => {
    expect(aadsts(await requestToken(sign({ header })))).toBe(700027)
  })

  it('refuses an aud that is not the exact token URL (AADSTS700023)', async () => {
    const claims = { aud: `https://login.microsoftonline.com/${TENANT}/oauth2/v2.0/token` }
    const answer = await requestToken(sign({ claims }))
    expect(answer.status).toBe(401)
    expect(aadsts(answer)).toBe(700023)
  })

  it('refuses iss or sub other than the client ID (AADSTS700021)', async () => {
    expect(aadsts(await requestToken(sign({ claims: { sub: 'someone' } })))).toBe(700021)
  })

  it('refuses an expired assertion (AADSTS700024)', async () => {
    const now = Math.floor(Date.now() / 1000)
    const claims = { iat: now - 1000, nbf: now - 1000, exp: now - 400 }
    expect(aadsts(await requestToken(sign({ claims })))).toBe(700024)
  })

  it('refuses an assertion that lives longer than 600 s (AADSTS700024)', async () => {
    const claims = { exp: Math.floor(Date.now() / 1000) + 3600 }
    expect(aadsts(await requestToken(sign({ claims })))).toBe(700024)
  })

  it('refuses an assertion without jti (AADSTS90014)', async () => {
    const answer = await requestToken(sign({ claims: { jti: undefined } }))
    expect(answer.status).toBe(400)
    expect(aadsts(answer)).toBe(90014)
  })

  it('takes the same assertion again within its lifetime, as Entra does', async () => {
    const assertion = await sign()
    expect((await requestToken(assertion)).status).toBe(200)
    expect((await requestToken(assertion)).status).toBe(200)
  })

  it('refuses a replayed jti with refuseReplayedJti', async () => {
    const strict = await startEntraServer({
      apps: [{ clientId: CLIENT, tenantId: TENANT, certificates: [cert.certPem] }],
      refuseReplayedJti: true
    })
    try {
      const assertion = await sign({ claims: { aud: strict.tokenUrl(TENANT) } })
      const form = {
        grant_type: 'client_credentials',
        client_id: CLIENT,
        scope: GRAPH,
        client_assertion_type: JWT_BEARER,
        client_assertion: assertion
      }
      expect((await post(strict.tokenUrl(TENANT), form)).status).toBe(200)
      const replay = await post(strict.tokenUrl(TENANT), form)
      expect(replay.status).toBe(401)
      expect(aadsts(replay)).toBe(50013)
    } finally {
      await strict.close()
    }
  })

  it.each([
    ['an unknown tenant', { tenant: '00000000-0000-0000-0000-000000000000' }, 400, 90002],
    ['an unknown client ID', { client_id: randomUUID() }, 400, 700016],
    ['a scope without /.default', { scope: 'https://graph.microsoft.com/User.Read' }, 400, 1002012],
    ['two resources', { scope: `${GRAPH} ${PARTNER_CENTER}` }, 400, 700022],
    ['an unknown resource', { scope: 'https://unknown.example/.default' }, 400, 500011],
    ['another grant type', { grant_type: 'password' }, 400, 70003],
    ['a client secret', { client_assertion: '', client_secret: 'x' }, 401, 7000215]
  ])('refuses %s', async (_, fields, status, code) => {
    const { tenant, ...form } = { tenant: TENANT, ...fields }
    const answer = await requestToken(sign(), form, tenant)
    expect(answer.status).toBe(status)
    expect(aadsts(answer)).toBe(code)
  })
})

describe('federated credential', () => {
  async function idToken(audience: string): Promise<string> {
    const response = await fetch(`${server.oidcRequestUrl}&audience=${audience}`, {
      headers: { Authorization: `Bearer ${server.oidcRequestToken}` }
    })
    return ((await response.json()) as { value: string }).value
  }

  it('accepts the GitHub OIDC token for the app with that federated credential', async () => {
    const answer = await requestToken(idToken('api://AzureADTokenExchange'), {
      client_id: FEDERATED_CLIENT
    })
    expect(answer.status).toBe(200)
  })

  it('refuses a GitHub OIDC token for another audience (AADSTS70021)', async () => {
    const answer = await requestToken(idToken('api://other'), { client_id: FEDERATED_CLIENT })
    expect(aadsts(answer)).toBe(70021)
  })
})

describe('OIDC token endpoint', () => {
  it('refuses a request without the request token', async () => {
    const response = await fetch(`${server.oidcRequestUrl}&audience=x`, {
      headers: { Authorization: 'Bearer wrong' }
    })
    expect(response.status).toBe(401)
  })

  it("issues a token from the server's GitHub key for the audience asked", async () => {
    const response = await fetch(`${server.oidcRequestUrl}&audience=api%3A%2F%2Fx`, {
      headers: { Authorization: `Bearer ${server.oidcRequestToken}`, Accept: 'application/json' }
    })
    const { value } = (await response.json()) as { value: string }
    const { payload } = await jwtVerify(value, createLocalJWKSet(server.githubJwks), {
      issuer: server.githubIssuer,
      audience: 'api://x'
    })
    expect(payload.sub).toBe('repo:octo/repo:ref:refs/heads/main')
    expect(payload.exp! - payload.iat!).toBe(300)
  })
})

describe('Partner Center exchange', () => {
  async function tokenFor(scope: string): Promise<string> {
    return (await requestToken(sign(), { scope })).json.access_token as string
  }
  const exchange = (token: string, headers: Record<string, string> = {}, grant = 'jwt_token') =>
    post(
      server.exchangeUrl,
      { grant_type: grant },
      { Authorization: `Bearer ${token}`, Accept: 'application/json', ...headers }
    )

  it('exchanges a Partner Center token for an opaque one', async () => {
    const answer = await exchange(await tokenFor(PARTNER_CENTER))
    expect(answer.status).toBe(200)
    expect(answer.json).toEqual({
      token_type: 'bearer',
      access_token: expect.stringMatching(/^[\w-]{200,}$/),
      expires_in: '899'
    })
    expect(server.issued.at(-1)).toBe(answer.json.access_token)
  })

  it('refuses a token for another resource', async () => {
    const answer = await exchange(await tokenFor(GRAPH))
    expect(answer.status).toBe(401)
    expect(answer.json.error).toBe('invalid_grant')
  })

  it('refuses a token it did not issue', async () => {
    expect((await exchange('not-a-token')).status).toBe(401)
  })

  it('refuses a request without Accept: application/json or grant_type=jwt_token', async () => {
    const token = await tokenFor(PARTNER_CENTER)
    expect((await exchange(token, { Accept: 'text/html' })).status).toBe(400)
    expect((await exchange(token, {}, 'client_credentials')).status).toBe(400)
  })
})

describe('server clock', () => {
  it("writes the Date header from its own clock and serves each tenant's OpenID configuration", async () => {
    const ahead = await startEntraServer({ apps: [], now: () => Date.now() + 600_000 })
    try {
      const response = await fetch(`${ahead.url}/${TENANT}/v2.0/.well-known/openid-configuration`)
      const offset = Date.parse(response.headers.get('date') ?? '') - Date.now()
      expect(offset).toBeGreaterThan(598_000)
      expect(offset).toBeLessThanOrEqual(600_000)
      expect(await response.json()).toMatchObject({
        issuer: `${ahead.url}/${TENANT}/v2.0`,
        token_endpoint: ahead.tokenUrl(TENANT)
      })
    } finally {
      await ahead.close()
    }
  })
})

describe('faults', () => {
  it('answers a queued 429 with Retry-After once, and records the request', async () => {
    server.faults.push({ status: 429, retryAfter: '7' })
    const before = server.requests.length
    const throttled = await requestToken(sign())
    expect(throttled.status).toBe(429)
    expect(throttled.headers.get('retry-after')).toBe('7')
    expect(throttled.json.error).toBe('temporarily_unavailable')
    expect(server.requests.length).toBe(before + 1)
    expect((await requestToken(sign())).status).toBe(200)
  })

  it('resets the connection', async () => {
    server.faults.push({ reset: true })
    await expect(requestToken(sign())).rejects.toMatchObject({
      cause: { code: 'ECONNRESET' }
    })
    expect(server.requests.at(-1)!.form.client_id).toBe(CLIENT)
  })

  it('answers an HTML 502 gateway page', async () => {
    server.faults.push({ html502: true })
    const answer = await requestToken(sign())
    expect(answer.status).toBe(502)
    expect(answer.headers.get('content-type')).toMatch(/^text\/html/)
    expect(answer.text).toContain('<title>502 Bad Gateway</title>')
    expect(answer.text.length).toBeGreaterThan(2000)
  })

  it('hangs until close(), which ends the hung request', async () => {
    const own = await startEntraServer({
      apps: [{ clientId: CLIENT, tenantId: TENANT, certificates: [cert.cert] }]
    })
    own.faults.push({ hang: true })
    const hung = fetch(own.tokenUrl(TENANT), { method: 'POST', body: 'x=1' })
    let settled = false
    void hung.then(
      () => (settled = true),
      () => (settled = true)
    )
    await new Promise((resolve) => setTimeout(resolve, 300))
    expect(settled).toBe(false)
    expect(own.requests).toHaveLength(1)
    await own.close()
    await expect(hung).rejects.toThrow('fetch failed')
  })
})
