// The token service's parts in process: the protocol's judgement of a request (protocol.ts), the
// tokens it holds (tokens.ts) and its HTTP server (server.ts) on loopback, with a token source
// made here. identity-endpoint.test.ts runs the whole service as the runner does, with real clients.
import { afterEach, describe, expect, it } from '@jest/globals'
import { request } from 'node:http'
import { ActionError } from '../src/errors.js'
import { route, sameSecret, scopeOf, type Expected } from '../src/service/protocol.js'
import { startServer } from '../src/service/server.js'
import { serviceEnvironment } from '../src/service/start.js'
import {
  BACKOFF_MS,
  MAX_NEW_PER_MINUTE,
  MAX_RESOURCES,
  REFUSAL_MS,
  RENEW_BEFORE_MS,
  Tokens,
  Unavailable,
  type HeldToken
} from '../src/service/tokens.js'
import { TransientError } from '../src/oauth/retry.js'

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

  // Headers as browsers, proxies and curl send them (a page's fetch() or <img> from another site;
  // curl and Python's requests through HTTP_PROXY; squid and tinyproxy relaying).
  it.each([
    [
      "a page's fetch() from another site",
      { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'cors' },
      'Requests from a browser (Origin) are refused.'
    ],
    [
      "a page's <img> from another site",
      { 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'no-cors', 'sec-fetch-dest': 'image' },
      'Requests from a browser (Sec-Fetch-Site: cross-site) are refused.'
    ],
    [
      "a page's link from a sibling host",
      { 'sec-fetch-site': 'same-site', 'sec-fetch-mode': 'navigate' },
      'Requests from a browser (Sec-Fetch-Site: same-site) are refused.'
    ],
    [
      'a relay by squid',
      { via: '1.1 proxy.corp.example (squid/6.10)' },
      'Requests relayed by a proxy (Via, Proxy-*) are refused: ask with no proxy for 127.0.0.1 (NO_PROXY).'
    ],
    [
      'a request with proxy credentials',
      { 'proxy-authorization': 'Basic dXNlcjpwYXNz' },
      'Requests relayed by a proxy (Via, Proxy-*) are refused: ask with no proxy for 127.0.0.1 (NO_PROXY).'
    ],
    [
      "curl's request through a proxy",
      { 'proxy-connection': 'Keep-Alive' },
      'Requests relayed by a proxy (Via, Proxy-*) are refused: ask with no proxy for 127.0.0.1 (NO_PROXY).'
    ]
  ])('refuses %s with 403, before the secret is checked', (_, extra, message) => {
    for (const sent of [headers, { host: expected.host }]) {
      expect(
        route(
          { method: 'GET', target: target('resource=r'), headers: { ...sent, ...extra } },
          expected
        )
      ).toEqual({ kind: 'refuse', status: 403, message })
    }
  })

  it('refuses an absolute-form target (what a client sends a forward proxy) with 403', () => {
    const absolute = `http://${expected.host}${target('resource=r')}`
    expect(route({ method: 'GET', target: absolute, headers }, expected)).toEqual({
      kind: 'refuse',
      status: 403,
      message:
        'Requests for an absolute URL (to a proxy) are refused: ask for the path, with no proxy for 127.0.0.1 (NO_PROXY).'
    })
    expect(route({ method: 'CONNECT', target: expected.host, headers }, expected)).toEqual({
      kind: 'refuse',
      status: 400,
      message: 'The request target is not a URL path.'
    })
  })

  it('serves a browser opened on the runner itself, and a request from no page', () => {
    for (const site of ['none', 'same-origin']) {
      expect(
        route(
          {
            method: 'GET',
            target: target('resource=r'),
            headers: { ...headers, 'sec-fetch-site': site }
          },
          expected
        )
      ).toMatchObject({ kind: 'token' })
    }
  })

  it("serves the IMDS shape with X-IDENTITY-HEADER too, as HashiCorp's go-azure-sdk sends it", () => {
    const path = `/${expected.pathSecret}/metadata/identity/oauth2/token?api-version=2018-02-01&resource=r`
    expect(
      route(
        {
          method: 'GET',
          target: path,
          headers: { host: expected.host, metadata: 'true', 'x-identity-header': expected.header }
        },
        expected
      )
    ).toEqual({ kind: 'token', resource: 'r', shape: 'imds' })
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
    let now = Date.now()
    const tokens = new Tokens(
      async () => {
        calls++
        await new Promise((resolve) => setTimeout(resolve, 20))
        if (fail) throw new ActionError('refused')
        return token('ok', now + 3600_000)
      },
      () => now
    )
    const failed = await Promise.allSettled([tokens.get('r'), tokens.get('r'), tokens.get('r')])
    expect(failed.map((f) => f.status)).toEqual(['rejected', 'rejected', 'rejected'])
    expect(calls).toBe(1)
    // The refusal is answered from memory for 30 s.
    now += REFUSAL_MS
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

describe('Tokens: the token server asked sparingly, its hiccups passed on as transient', () => {
  const token = (name: string, expiresOn: number): HeldToken => ({
    accessToken: name,
    tokenType: 'Bearer',
    expiresOn: new Date(expiresOn)
  })
  /** What the token source throws when the token server answers 503 or 429 (src/oauth/token.ts). */
  const outage = (status = 503, retryAfterMs?: number) =>
    new TransientError(
      `Token request to https://login.test/t/oauth2/v2.0/token failed: HTTP ${status} temporarily_unavailable.`,
      `HTTP ${status}`,
      status,
      retryAfterMs
    )
  /** A source that answers as `answer` says, counting calls, on a clock the test moves. */
  function source(answer: (resource: string, call: number) => HeldToken | Error) {
    const clock = { now: 1_000_000 }
    const calls: string[] = []
    const tokens = new Tokens(
      async (resource) => {
        calls.push(resource)
        const result = answer(resource, calls.length)
        if (result instanceof Error) throw result
        return result
      },
      () => clock.now
    )
    return { tokens, calls, clock }
  }
  const failure = async (promise: Promise<unknown>) => {
    const error = await promise.then(
      () => undefined,
      (e: unknown) => e
    )
    if (!(error instanceof Unavailable)) throw new Error(`not Unavailable: ${String(error)}`)
    return { status: error.status, retryAfterMs: error.retryAfterMs, message: error.message }
  }

  it('answers 50 requests for a refused resource with one request to the token server, for 30 s', async () => {
    const { tokens, calls, clock } = source(
      () => new ActionError('Token request failed: HTTP 400 invalid_resource (AADSTS500011).')
    )
    const answers = await Promise.allSettled(
      Array.from({ length: 50 }, async () => {
        clock.now += 100
        return tokens.get('https://junk.example')
      })
    )
    expect(new Set(answers.map((a) => a.status === 'rejected' && String(a.reason)))).toEqual(
      new Set(['ActionError: Token request failed: HTTP 400 invalid_resource (AADSTS500011).'])
    )
    expect(calls).toEqual(['https://junk.example'])
    clock.now += REFUSAL_MS
    await expect(tokens.get('https://junk.example')).rejects.toThrow('AADSTS500011')
    expect(calls).toHaveLength(2)
    expect(tokens.report.get('https://junk.example')).toEqual({ served: 0, obtained: 0, failed: 2 })
  })

  it('passes a 503 on with a backoff of 5, 10, 20, then 30 s, asking nothing in between, then recovers', async () => {
    let down = true
    const { tokens, calls, clock } = source(() =>
      down ? outage() : token('t', clock.now + 3600_000)
    )
    const waits: number[] = []
    for (const backoff of BACKOFF_MS.concat(30_000)) {
      const failed = await failure(tokens.get('r'))
      expect(failed.status).toBe(503)
      expect(failed.retryAfterMs).toBe(backoff)
      waits.push(failed.retryAfterMs)
      // Asked again before the wait is over: answered from memory, with the time left.
      clock.now += backoff - 1_000
      expect(await failure(tokens.get('r'))).toEqual({
        status: 503,
        retryAfterMs: 1_000,
        message: 'The token server failed for r; the service asks it again in 1 s.'
      })
      clock.now += 1_000
    }
    expect(waits).toEqual([5_000, 10_000, 20_000, 30_000, 30_000])
    expect(calls).toHaveLength(5)
    down = false
    expect((await tokens.get('r')).accessToken).toBe('t')
    expect(tokens.report.get('r')).toEqual({ served: 1, obtained: 1, failed: 5 })
  })

  it("passes a 429 on as 429, waiting the token server's Retry-After up to 60 s", async () => {
    let retryAfterMs = 45_000
    const { tokens, clock } = source(() => outage(429, retryAfterMs))
    expect(await failure(tokens.get('r'))).toMatchObject({ status: 429, retryAfterMs: 45_000 })
    clock.now += 45_000
    retryAfterMs = 3600_000
    expect(await failure(tokens.get('r'))).toMatchObject({ status: 429, retryAfterMs: 60_000 })
  })

  it('serves a held token with more than 60 s left while its renewal fails, renewing with backoff', async () => {
    let expiry = 0
    const { tokens, calls, clock } = source((_, call) => {
      if (call > 1) return outage()
      expiry = clock.now + RENEW_BEFORE_MS + 60_000
      return token('first', expiry)
    })
    expect((await tokens.get('r')).accessToken).toBe('first')
    clock.now += 60_001
    // 4 min 59 s left: renewed, the renewal fails, the held token is served.
    expect((await tokens.get('r')).accessToken).toBe('first')
    expect(calls).toHaveLength(2)
    for (let i = 0; i < 20; i++) {
      clock.now += 200
      expect((await tokens.get('r')).accessToken).toBe('first')
    }
    expect(calls).toHaveLength(2)
    clock.now += 1_000 // the 5-s backoff is over
    expect((await tokens.get('r')).accessToken).toBe('first')
    expect(calls).toHaveLength(3)
    // 60 s or less left: no longer served.
    clock.now = expiry - 60_000
    expect(await failure(tokens.get('r'))).toMatchObject({ status: 503, retryAfterMs: 20_000 })
    expect(calls).toHaveLength(4)
  })

  it('holds at most 64 resources, dropping the least recently used; refused ones take no place', async () => {
    const { tokens, calls, clock } = source((resource) =>
      resource.startsWith('junk')
        ? new ActionError('Token request failed: HTTP 400 invalid_resource (AADSTS500011).')
        : token(resource, clock.now + 3600_000)
    )
    for (let i = 0; i < 15; i++)
      await expect(tokens.get(`junk${i}`)).rejects.toThrow('AADSTS500011')
    for (let i = 0; i < MAX_RESOURCES; i++) await tokens.get(`r${i}`)
    // Every one is still held: asked again, none costs a request.
    for (let i = 0; i < MAX_RESOURCES; i++) await tokens.get(`r${i}`)
    expect(calls).toHaveLength(15 + MAX_RESOURCES)
    await tokens.get('r0')
    await tokens.get('one-more')
    await tokens.get('r0')
    clock.now += 2_000
    await tokens.get('r1')
    // r1, the least recently used, made room for one-more; r0, used since, did not.
    expect(calls.slice(15 + MAX_RESOURCES)).toEqual(['one-more', 'r1'])
  })

  it(`stops asking for new resources for a minute after ${MAX_NEW_PER_MINUTE} of them failed`, async () => {
    const { tokens, calls, clock } = source((resource) =>
      resource === 'good'
        ? token('t', clock.now + 3600_000)
        : new ActionError('Token request failed: HTTP 400 invalid_resource (AADSTS500011).')
    )
    await tokens.get('good')
    for (let i = 0; i < MAX_NEW_PER_MINUTE; i++) {
      clock.now += 1_000
      await expect(tokens.get(`junk${i}`)).rejects.toThrow('AADSTS500011')
    }
    expect(await failure(tokens.get('junk-more'))).toEqual({
      status: 429,
      retryAfterMs: 60_000 - (MAX_NEW_PER_MINUTE - 1) * 1_000,
      message: `The token server refused or failed ${MAX_NEW_PER_MINUTE} new resources in the last minute; the service asks for no other before the minute has passed.`
    })
    // A held resource is still served and renewed.
    expect((await tokens.get('good')).accessToken).toBe('t')
    expect(calls).toHaveLength(1 + MAX_NEW_PER_MINUTE)
    clock.now += 60_000
    await expect(tokens.get('junk-more')).rejects.toThrow('AADSTS500011')
  })

  it('asks for one resource at most every 2 s, even when its tokens live less than five minutes', async () => {
    const { tokens, calls, clock } = source((_, call) => token(`t${call}`, clock.now + 120_000))
    expect((await tokens.get('r')).accessToken).toBe('t1')
    clock.now += 1_000
    // 119 s left: renewed when asked, but not within 2 s: the held token is served.
    expect((await tokens.get('r')).accessToken).toBe('t1')
    clock.now += 1_000
    expect((await tokens.get('r')).accessToken).toBe('t2')
    expect(calls).toHaveLength(2)
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

  it('refuses a request with a body, and serves more than 64 resources, asking again for the least recently used', async () => {
    const asked: string[] = []
    const { ask } = await serve(async (resource) => {
      asked.push(resource)
      return { accessToken: 't', tokenType: 'Bearer', expiresOn: new Date(Date.now() + 3600_000) }
    })
    expect((await ask(target('resource=r'), { 'Content-Length': '2' }, 'GET')).status).toBe(413)
    for (let i = 0; i < 64; i++) expect((await ask(target(`resource=r${i}`))).status).toBe(200)
    expect((await ask(target('resource=r0'))).status).toBe(200)
    const more = await ask(target('resource=one-more'))
    expect(more.status).toBe(200)
    expect(asked).toHaveLength(65)
    // r1, the least recently used, made room; r0, used again, did not.
    expect((await ask(target('resource=r0'))).status).toBe(200)
    expect(asked.slice(64)).toEqual(['one-more'])
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
