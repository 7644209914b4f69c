// The token service's parts in process: the protocol's judgement of a request (protocol.ts), the
// tokens it holds (tokens.ts) and its HTTP server (server.ts) on loopback, with a token source
// made here. identity-endpoint.test.ts runs the whole service as the runner does, with real clients.
import { afterEach, describe, expect, it } from '@jest/globals'
import { request } from 'node:http'
import { ActionError } from '../src/errors.js'
import { route, sameSecret, scopeOf, type Expected } from '../src/service/protocol.js'
import { startServer } from '../src/service/server.js'
import { serviceEnvironment } from '../src/service/start.js'
import { RENEW_BEFORE_MS, Tokens, type HeldToken } from '../src/service/tokens.js'

const expected: Expected = {
  host: '127.0.0.1:4000',
  header: 'the-header-secret',
  pathSecret: 'the-path-secret',
  stopKey: 'the-stop-key',
  clientId: 'app-1'
}
const headers = { host: expected.host, 'x-identity-header': expected.header }
const target = (query: string): string => `/msi/token?api-version=2019-08-01&${query}`

describe('route: what a request asks for, or why it is refused', () => {
  it('asks for a token for the resource, in the App Service shape', () => {
    expect(
      route(
        { method: 'GET', target: target('resource=https://vault.azure.net'), headers },
        expected
      )
    ).toEqual({
      kind: 'token',
      resource: 'https://vault.azure.net',
      shape: 'app-service'
    })
  })

  it('asks in the IMDS shape at the secret path, with Metadata: true', () => {
    const path = `/${expected.pathSecret}/metadata/identity/oauth2/token?api-version=2018-02-01&resource=r`
    expect(
      route(
        { method: 'GET', target: path, headers: { host: expected.host, metadata: 'true' } },
        expected
      )
    ).toEqual({ kind: 'token', resource: 'r', shape: 'imds' })
  })

  it.each([
    ['a long target', { target: target(`resource=${'r'.repeat(2100)}`) }, 414, undefined],
    [
      'another Host',
      { headers: { ...headers, host: 'evil.test' } },
      421,
      'Host must be 127.0.0.1:4000.'
    ],
    [
      'a relayed request',
      { headers: { ...headers, forwarded: 'for=203.0.113.7' } },
      403,
      'Relayed requests (X-Forwarded-For, Forwarded) are refused.'
    ],
    ['no header', { headers: { host: expected.host } }, 401, undefined],
    [
      'a wrong header',
      { headers: { ...headers, 'x-identity-header': 'the-header-secreT' } },
      401,
      undefined
    ],
    ['another path', { target: '/token?resource=r' }, 404, 'No such path: use /msi/token.'],
    ['POST', { method: 'POST' }, 405, 'Only GET asks for a token.'],
    [
      'another api-version',
      { target: '/msi/token?api-version=2017-09-01&resource=r' },
      400,
      'api-version must be 2019-08-01.'
    ],
    [
      'no resource',
      { target: '/msi/token?api-version=2019-08-01' },
      400,
      'The resource parameter is missing, e.g. resource=https://management.azure.com/.'
    ],
    [
      'another client_id',
      { target: target('resource=r&client_id=app-2') },
      400,
      'This endpoint serves one app, client ID app-1: ask without client_id, or with client_id=app-1.'
    ],
    [
      'an object_id',
      { target: target('resource=r&object_id=x') },
      400,
      'This endpoint serves one app, client ID app-1: ask without object_id, or with client_id=app-1.'
    ]
  ])('refuses %s', (_, change, status, message) => {
    const decided = route(
      { method: 'GET', target: target('resource=r'), headers, ...change },
      expected
    )
    expect(decided).toEqual({ kind: 'refuse', status, ...(message ? { message } : {}) })
  })

  it('takes the app by its own client_id', () => {
    expect(
      route({ method: 'GET', target: target('resource=r&client_id=app-1'), headers }, expected)
    ).toMatchObject({
      kind: 'token'
    })
  })

  it('answers the stop request only with its key', () => {
    const stop = (key: string) =>
      route(
        { method: 'POST', target: '/stop', headers: { host: expected.host, 'x-stop-key': key } },
        expected
      )
    expect(stop('the-stop-key')).toEqual({ kind: 'stop' })
    expect(stop('the-header-secret')).toEqual({ kind: 'refuse', status: 401 })
  })

  it('refuses a wrong secret in the IMDS path, and a missing Metadata header', () => {
    const path = (secret: string) => `/${secret}/metadata/identity/oauth2/token?resource=r`
    const withMetadata = { host: expected.host, metadata: 'true' }
    expect(
      route({ method: 'GET', target: path('wrong'), headers: withMetadata }, expected)
    ).toEqual({
      kind: 'refuse',
      status: 401
    })
    expect(
      route(
        { method: 'GET', target: path(expected.pathSecret), headers: { host: expected.host } },
        expected
      )
    ).toEqual({
      kind: 'refuse',
      status: 400,
      message: 'The Metadata: true header is missing.'
    })
  })

  it('compares secrets whole, whatever their length', () => {
    expect(sameSecret('abc', 'abc')).toBe(true)
    expect(sameSecret('abc', 'abcd')).toBe(false)
    expect(sameSecret(undefined, 'abc')).toBe(false)
  })

  it('asks for <resource>/.default, a trailing slash kept', () => {
    expect(scopeOf('https://management.core.windows.net/')).toBe(
      'https://management.core.windows.net//.default'
    )
    expect(scopeOf('https://vault.azure.net')).toBe('https://vault.azure.net/.default')
  })
})

describe('Tokens: served from memory while fresh, renewed once for concurrent callers', () => {
  const token = (name: string, expiresOn: number): HeldToken => ({
    accessToken: name,
    tokenType: 'Bearer',
    expiresOn: new Date(expiresOn)
  })

  it('serves a held token while it has more than five minutes left, then renews it', async () => {
    let now = 0
    const obtained: string[] = []
    const tokens = new Tokens(
      async (resource) => {
        obtained.push(resource)
        return token(`t${obtained.length}`, now + 3600_000)
      },
      () => now
    )
    expect((await tokens.get('r')).accessToken).toBe('t1')
    now = 3600_000 - RENEW_BEFORE_MS - 1
    expect((await tokens.get('r')).accessToken).toBe('t1')
    now += 1
    expect((await tokens.get('r')).accessToken).toBe('t2')
    expect(tokens.report.get('r')).toEqual({ served: 3, obtained: 2, failed: 0 })
  })

  it('shares one request among concurrent callers, and counts a failure once', async () => {
    let calls = 0
    let fail = true
    const tokens = new Tokens(async () => {
      calls++
      await new Promise((resolve) => setTimeout(resolve, 20))
      if (fail) throw new ActionError('refused')
      return token('ok', Date.now() + 3600_000)
    })
    const failed = await Promise.allSettled([tokens.get('r'), tokens.get('r'), tokens.get('r')])
    expect(failed.map((f) => f.status)).toEqual(['rejected', 'rejected', 'rejected'])
    expect(calls).toBe(1)
    fail = false
    const got = await Promise.all([tokens.get('r'), tokens.get('r')])
    expect(got.map((t) => t.accessToken)).toEqual(['ok', 'ok'])
    expect(calls).toBe(2)
    expect(tokens.report.get('r')).toEqual({ served: 2, obtained: 1, failed: 1 })
  })

  it('holds the main step token as obtained', async () => {
    const tokens = new Tokens(async () => {
      throw new Error('not asked')
    })
    tokens.hold('r', token('main', Date.now() + 3600_000))
    expect((await tokens.get('r')).accessToken).toBe('main')
    expect(tokens.report.get('r')).toEqual({ served: 1, obtained: 1, failed: 0 })
  })
})

describe('the server, on loopback', () => {
  let close: (() => void) | undefined
  afterEach(() => close?.())

  async function serve(obtain: (resource: string) => Promise<HeldToken>) {
    const lines: string[] = []
    let stopped = 0
    const tokens = new Tokens(obtain)
    const { server, port } = await startServer({
      expected: { header: 'h', pathSecret: 'p', stopKey: 's', clientId: 'app-1' },
      tokens,
      log: (line) => lines.push(line),
      redact: (text) => text.replace(/secret-[a-z]+/g, '***'),
      onStop: () => stopped++
    })
    close = () => server.close()
    const ask = (path: string, extra: Record<string, string> = {}, method = 'GET') =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = request(
          {
            host: '127.0.0.1',
            port,
            path,
            method,
            headers: { 'X-IDENTITY-HEADER': 'h', ...extra }
          },
          (res) => {
            let body = ''
            res.on('data', (chunk: Buffer) => (body += chunk))
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
          }
        )
        req.on('error', reject)
        req.end()
      })
    return { ask, lines, stopped: () => stopped, port }
  }

  it('answers a token in the App Service shape, and in the IMDS shape with expires_in', async () => {
    const expiresOn = Date.now() + 3600_000
    const { ask } = await serve(async () => ({
      accessToken: 'tok',
      tokenType: 'Bearer',
      expiresOn: new Date(expiresOn)
    }))
    const app = await ask(target('resource=r'))
    expect(app.status).toBe(200)
    expect(JSON.parse(app.body)).toEqual({
      access_token: 'tok',
      expires_on: String(Math.floor(expiresOn / 1000)),
      resource: 'r',
      token_type: 'Bearer',
      client_id: 'app-1'
    })
    const imds = JSON.parse(
      (await ask('/p/metadata/identity/oauth2/token?resource=r', { Metadata: 'true' })).body
    )
    expect(Number(imds.expires_in)).toBeGreaterThan(3590)
  })

  it("passes on the token source's explanation, redacted, and logs it", async () => {
    const { ask, lines } = await serve(async () => {
      throw new ActionError('Token request failed: HTTP 400 secret-value.')
    })
    const answer = await ask(target('resource=r'))
    expect(answer.status).toBe(400)
    expect(JSON.parse(answer.body)).toEqual({
      error: 'invalid_request',
      error_description: 'No token for r: Token request failed: HTTP 400 ***.'
    })
    expect(lines).toEqual(['No token for r: Token request failed: HTTP 400 ***.'])
  })

  it('refuses a request with a body, and serves at most 64 resources', async () => {
    const { ask } = await serve(async () => ({
      accessToken: 't',
      tokenType: 'Bearer',
      expiresOn: new Date(Date.now() + 3600_000)
    }))
    expect((await ask(target('resource=r'), { 'Content-Length': '2' }, 'GET')).status).toBe(413)
    for (let i = 0; i < 64; i++) expect((await ask(target(`resource=r${i}`))).status).toBe(200)
    const more = await ask(target('resource=one-more'))
    expect(more.status).toBe(400)
    expect(JSON.parse(more.body).error_description).toBe(
      'This endpoint serves at most 64 resources a job.'
    )
  })

  it('reports what it served to the stop request, then stops', async () => {
    const { ask, stopped } = await serve(async () => ({
      accessToken: 't',
      tokenType: 'Bearer',
      expiresOn: new Date(Date.now() + 3600_000)
    }))
    await ask(target('resource=r'))
    await ask(target('resource=r'))
    const report = await ask('/stop', { 'X-Stop-Key': 's' }, 'POST')
    expect(JSON.parse(report.body)).toEqual({
      resources: { r: { served: 2, obtained: 1, failed: 0 } },
      failures: []
    })
    expect(stopped()).toBe(1)
  })
})

describe('the environment the service starts with', () => {
  it('keeps what it needs to reach the network and RUNNER_TRACKING_ID, and drops the inputs and tokens', () => {
    const env = serviceEnvironment({
      PATH: 'the-path',
      RUNNER_TRACKING_ID: 'github_1',
      RUNNER_TEMP: 'temp',
      HTTPS_PROXY: 'http://proxy:3128',
      no_proxy: 'localhost',
      NODE_EXTRA_CA_CERTS: 'ca.pem',
      SystemRoot: 'C:\\Windows',
      'INPUT_CERTIFICATE-PASSWORD': 'secret',
      INPUT_CERTIFICATE: 'key',
      ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'runner-token',
      ACTIONS_RUNTIME_TOKEN: 'runtime',
      GITHUB_TOKEN: 'ghs',
      NODE_OPTIONS: '--require x'
    })
    expect(env).toEqual({
      PATH: 'the-path',
      RUNNER_TRACKING_ID: 'github_1',
      RUNNER_TEMP: 'temp',
      HTTPS_PROXY: 'http://proxy:3128',
      no_proxy: 'localhost',
      NODE_EXTRA_CA_CERTS: 'ca.pem',
      SystemRoot: 'C:\\Windows'
    })
  })
})
