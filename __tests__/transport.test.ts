// The token request's transport in-process (requestToken and exchangeToken against servers on
// loopback): the request as sent, the bounded body, and every network fault explained in our own
// words, retried only where a retry can help.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import type { AddressInfo, Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { TokenError } from '../src/errors.js'
import { DEFAULT_RETRY_POLICY, TransientError, type RetryDeps } from '../src/oauth/retry.js'
import { exchangeToken, MAX_BODY_BYTES, requestToken } from '../src/oauth/token.js'
import { makeTlsCert } from './support/certs.js'
import { startEntraServer } from './support/entra-server.js'
import {
  answer,
  makeToken,
  startHostileServer,
  type HostileRequest
} from './support/hostile-server.js'
import { startProxy } from './support/proxy.js'

const ASSERTION = 'header.claims.signature'
const SCOPE = 'https://graph.microsoft.com/.default'

const attacks: Record<string, (req: HostileRequest, socket: Socket) => void> = {
  ok: (_, socket) =>
    answer(
      socket,
      200,
      JSON.stringify({ token_type: 'Bearer', expires_in: 3599, access_token: 'token-ok' })
    ),
  // A token answer of exactly MAX_BODY_BYTES bytes: the largest body read.
  'at-limit': (_, socket) => {
    const shell = JSON.stringify({ access_token: 'token-at-limit', expires_in: 60, pad: '' })
    const pad = 'x'.repeat(MAX_BODY_BYTES - Buffer.byteLength(shell))
    answer(socket, 200, JSON.stringify({ access_token: 'token-at-limit', expires_in: 60, pad }))
  },
  // One byte more than that.
  'over-limit': (_, socket) => {
    const shell = JSON.stringify({ access_token: 'token-over-limit', expires_in: 60, pad: '' })
    const pad = 'x'.repeat(MAX_BODY_BYTES + 1 - Buffer.byteLength(shell))
    answer(socket, 200, JSON.stringify({ access_token: 'token-over-limit', expires_in: 60, pad }))
  },
  malformed: (_, socket) => socket.end('SSH-2.0-OpenSSH_9.6\r\n'),
  // The first answer breaks off in the middle of its body; the second is whole.
  truncated: (req, socket) => {
    if (req.attempt > 1) return attacks.ok(req, socket)
    socket.write(
      'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"access'
    )
    setTimeout(() => socket.destroy(), 50)
  },
  // Entra's refusal of the assertion's time range, from a server whose clock is 10 min ahead.
  skewed: (req, socket) =>
    req.path.endsWith('/always') || req.attempt === 1
      ? answer(socket, 401, JSON.stringify(LATE), { Date: SERVER_DATE })
      : attacks.ok(req, socket),
  // A busy answer, then a refusal that quotes every assertion sent so far.
  quoting: (req, socket) =>
    req.attempt === 1
      ? answer(socket, 503, '{"error":"temporarily_unavailable"}')
      : answer(
          socket,
          400,
          JSON.stringify({
            error: 'invalid_client',
            error_description: `Got ${seen.join(' and ')}. Bad.`,
            error_codes: [700027]
          })
        ),
  signature: (_, socket) =>
    answer(
      socket,
      401,
      JSON.stringify({
        error: 'invalid_client',
        error_description: 'AADSTS700027: Client assertion failed signature validation.',
        error_codes: [700027]
      })
    ),
  // The exchange's refusal quoting the bearer token it was sent.
  'quoting-bearer': (req, socket) =>
    answer(
      socket,
      401,
      JSON.stringify({
        error: 'invalid_token',
        error_description: `Bad ${req.headers.authorization}.`
      })
    ),
  redirect: (_, socket) => answer(socket, 302, '', { Location: '/ok' }),
  silent: () => {}
}

const LATE = {
  error: 'invalid_client',
  error_description: 'AADSTS700024: Client assertion is not within its valid time range.',
  error_codes: [700024]
}
const SERVER_DATE = 'Mon, 23 Nov 2026 10:10:00 GMT'
/** This runner's clock: 10 min behind the server's. */
const RUNNER_NOW = Date.parse(SERVER_DATE) - 600_000
/** Assertions the quoting attack has seen, in order. */
const seen: string[] = []

let server: Awaited<ReturnType<typeof startHostileServer>>
let tlsServer: Awaited<ReturnType<typeof startEntraServer>>
/** A loopback port nothing listens on. */
let closedPort: number

const tlsDir = mkdtempSync(join(tmpdir(), 'transport-'))

beforeAll(async () => {
  const tls = makeTlsCert(tlsDir)
  ;[server, tlsServer] = await Promise.all([
    startHostileServer(attacks),
    startEntraServer({ apps: [], tls: { keyPem: tls.keyPem, certPem: tls.certPem } })
  ])
  const probe = createServer()
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve))
  closedPort = (probe.address() as AddressInfo).port
  await new Promise<void>((resolve) => probe.close(() => resolve()))
})
afterAll(async () => {
  await Promise.all([server.close(), tlsServer.close()])
  rmSync(tlsDir, { recursive: true, force: true })
})

/** Real timers and clock, two attempts, short waits; the retry lines are kept. */
function deps(overrides: Partial<RetryDeps['policy']> = {}) {
  const log: string[] = []
  const value: RetryDeps = {
    policy: { ...DEFAULT_RETRY_POLICY, maxAttempts: 2, baseDelayMs: 10, ...overrides },
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    now: Date.now,
    random: () => 0.5,
    log: (line) => log.push(line)
  }
  return { deps: value, log }
}

/** Like {@link deps}, on a runner clock that stands still at {@link RUNNER_NOW}. */
function stoppedClock() {
  const retry = deps()
  retry.deps.now = () => RUNNER_NOW
  return retry
}

const request = (tokenEndpoint: string) => ({
  tokenEndpoint,
  clientId: 'client-1',
  scope: SCOPE,
  assertion: async () => ASSERTION
})

/** The error requestToken fails with. */
async function failure(tokenEndpoint: string, retry = deps()): Promise<Error> {
  try {
    await requestToken(request(tokenEndpoint), retry.deps)
  } catch (error) {
    return error as Error
  }
  throw new Error('requestToken succeeded')
}

const host = () => new URL(server.url).host

describe('the request', () => {
  it('posts the form with its content type, Accept and user agent', async () => {
    const before = server.requests.length
    const token = await requestToken(request(`${server.url}/ok`), deps().deps)
    expect(token.accessToken).toBe('token-ok')
    const [sent] = server.requests.slice(before)
    expect(sent.method).toBe('POST')
    expect(sent.headers['content-type']).toBe('application/x-www-form-urlencoded')
    expect(sent.headers.accept).toBe('application/json')
    expect(sent.headers['user-agent']).toBe('certificate-token-action')
    expect(sent.headers.authorization).toBeUndefined()
    expect(sent.form).toEqual({
      grant_type: 'client_credentials',
      client_id: 'client-1',
      scope: SCOPE,
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: ASSERTION
    })
  })

  it('sends the exchange as a bearer token with grant_type=jwt_token', async () => {
    const before = server.requests.length
    const bearer = makeToken()
    const token = await exchangeToken(`${server.url}/ok`, bearer, deps().deps)
    expect(token.accessToken).toBe('token-ok')
    const [sent] = server.requests.slice(before)
    expect(sent.headers['content-type']).toBe('application/x-www-form-urlencoded')
    expect(sent.headers.accept).toBe('application/json')
    expect(sent.headers.authorization).toBe(`Bearer ${bearer}`)
    expect(sent.form).toEqual({ grant_type: 'jwt_token' })
  })
})

describe('the answer body', () => {
  it('reads a body of exactly 1 MiB', async () => {
    const token = await requestToken(request(`${server.url}/at-limit`), deps().deps)
    expect(token.accessToken).toBe('token-at-limit')
    expect(token.expiresIn).toBe(60)
  })

  it('stops at one byte over 1 MiB, without retrying', async () => {
    const before = server.requests.length
    const retry = deps()
    const error = await failure(`${server.url}/over-limit`, retry)
    expect(error).toBeInstanceOf(TokenError)
    expect(error).not.toBeInstanceOf(TransientError)
    expect(error.message).toBe(
      `Token request to ${server.url}/over-limit failed: ${host()} answered with a body over 1 MiB, which is not a token answer: check the URL and the proxy.`
    )
    expect(server.requests.length - before).toBe(1)
    expect(retry.log).toEqual([])
  })

  it('retries an answer that breaks off in its body as a reset connection', async () => {
    const retry = deps()
    const token = await requestToken(request(`${server.url}/truncated`), retry.deps)
    expect(token.accessToken).toBe('token-ok')
    expect(retry.log).toEqual([
      'Attempt 1 of 2 failed: ECONNRESET (connection reset); retrying in 0.0 s.'
    ])
  })
})

describe('network faults', () => {
  it('does not follow a redirect', async () => {
    const before = server.requests.length
    const error = await failure(`${server.url}/redirect`)
    expect(error.message).toBe(
      `Token request to ${server.url}/redirect failed: HTTP 302 with an empty body. Hint: the server redirects (to /ok); give the final token endpoint URL.`
    )
    expect(server.requests.slice(before).map((r) => r.path)).toEqual(['/redirect'])
  })

  it('reports an answer that is not HTTP as malformed, without retrying', async () => {
    const before = server.requests.length
    const retry = deps()
    const error = await failure(`${server.url}/malformed`, retry)
    expect(error).not.toBeInstanceOf(TransientError)
    expect(error.message).toBe(
      `Token request to ${server.url}/malformed failed: ${host()} gave a malformed HTTP answer (HPE_INVALID_CONSTANT): check the URL (scheme and port) and the proxy.`
    )
    expect(server.requests.length - before).toBe(1)
    expect(retry.log).toEqual([])
  })

  it('gives up on a silent server after the attempt time, in whole seconds, and hangs up', async () => {
    const error = await failure(
      `${server.url}/silent`,
      deps({ maxAttempts: 1, attemptTimeoutMs: 1600 })
    )
    expect(error.message).toBe(
      `Token request to ${server.url}/silent failed: ${host()} gave no answer within 2 s (gave up after 1 attempts).`
    )
    for (let i = 0; i < 100 && server.open > 0; i++) await new Promise((r) => setTimeout(r, 50))
    expect(server.open).toBe(0)
  })

  it('retries a refused connection, naming the code and what it means', async () => {
    const url = `http://127.0.0.1:${closedPort}/token`
    const retry = deps()
    const error = await failure(url, retry)
    expect(error.message).toBe(
      `Token request to ${url} failed: 127.0.0.1:${closedPort} could not be reached: ECONNREFUSED (connection refused) (gave up after 2 attempts).`
    )
    expect(retry.log).toEqual([
      'Attempt 1 of 2 failed: ECONNREFUSED (connection refused); retrying in 0.0 s.'
    ])
  })

  it('names the token exchange in its network faults', async () => {
    const url = `http://127.0.0.1:${closedPort}/exchange`
    const retry = deps({ maxAttempts: 1 })
    await expect(exchangeToken(url, makeToken(), retry.deps)).rejects.toThrow(
      `Token exchange to ${url} failed: 127.0.0.1:${closedPort} could not be reached: ECONNREFUSED (connection refused) (gave up after 1 attempts).`
    )
  })

  it('retries a fault without a known meaning under its bare code', async () => {
    // TLS to a plain HTTP server (the proxy's own port), which answers the handshake in clear text.
    const plain = await startProxy({ port: closedPort })
    try {
      const url = `${plain.url.replace('http:', 'https:')}/token`
      const retry = deps()
      const error = await failure(url, retry)
      expect(error.message).toBe(
        `Token request to ${url} failed: ${new URL(url).host} could not be reached: EPROTO (gave up after 2 attempts).`
      )
      expect(retry.log).toEqual(['Attempt 1 of 2 failed: EPROTO; retrying in 0.0 s.'])
    } finally {
      await plain.close()
    }
  })

  it('does not retry a host that does not exist', async () => {
    const url = 'https://no-such-host.invalid/tenant/oauth2/v2.0/token'
    const retry = deps()
    const error = await failure(url, retry)
    expect(error).not.toBeInstanceOf(TransientError)
    expect(error.message).toBe(
      `Token request to ${url} failed: no-such-host.invalid could not be reached: ENOTFOUND (host not found). Check the URL, DNS, and the proxy (HTTPS_PROXY/NO_PROXY).`
    )
    expect(retry.log).toEqual([])
  })

  it('does not retry a TLS certificate that is not trusted, and names NODE_EXTRA_CA_CERTS', async () => {
    const url = tlsServer.tokenUrl('tenant')
    const retry = deps()
    const error = await failure(url, retry)
    expect(error).not.toBeInstanceOf(TransientError)
    expect(error.message).toBe(
      `Token request to ${url} failed: the TLS certificate of ${new URL(url).host} is not trusted: DEPTH_ZERO_SELF_SIGNED_CERT (TLS certificate not trusted). A self-hosted runner behind a TLS-inspecting proxy needs its CA in NODE_EXTRA_CA_CERTS.`
    )
    expect(retry.log).toEqual([])
    expect(tlsServer.requests).toEqual([])
  })

  it.each([
    [407, 'HTTP 407 (proxy authentication required)'],
    [403, 'HTTP 403']
  ])('does not retry a proxy that refuses the CONNECT with %i', async (status, said) => {
    const proxy = await startProxy({ port: 0, refuse: status })
    process.env.HTTPS_PROXY = proxy.url
    try {
      const url = 'https://login.example.test/tenant/oauth2/v2.0/token'
      const retry = deps()
      const error = await failure(url, retry)
      expect(error).not.toBeInstanceOf(TransientError)
      expect(error.message).toBe(
        `Token request to ${url} failed: the proxy refused to connect to login.example.test: ${said}. Check HTTPS_PROXY (and its credentials) and NO_PROXY.`
      )
      expect(retry.log).toEqual([])
      expect(proxy.connects).toEqual(['login.example.test:443'])
    } finally {
      delete process.env.HTTPS_PROXY
      await proxy.close()
    }
  })
})

describe('the request on the server clock', () => {
  /** A request whose assertions count up, and record what onClockSkew is told. */
  function skewRequest(path: string, withCallback = true) {
    const offsets: number[] = []
    let signed = 0
    return {
      offsets,
      request: {
        ...request(`${server.url}/${path}`),
        thumbprint: 'A1B2',
        assertion: async () => `assertion-${++signed}`,
        ...(withCallback ? { onClockSkew: (ms: number) => void offsets.push(ms) } : {})
      }
    }
  }
  const sentFor = (path: string) =>
    server.requests.filter((r) => r.path === `/${path}`).map((r) => r.form.client_assertion)

  it("asks once more, told the server's clock, when the server refuses the time range", async () => {
    const { request, offsets } = skewRequest('skewed/once')
    const token = await requestToken(request, stoppedClock().deps)
    expect(token.accessToken).toBe('token-ok')
    expect(offsets).toEqual([600_500])
    expect(sentFor('skewed/once')).toEqual(['assertion-1', 'assertion-2'])
  })

  it('asks only once more, and then gives the second refusal', async () => {
    const { request, offsets } = skewRequest('skewed/always')
    await expect(requestToken(request, stoppedClock().deps)).rejects.toThrow(
      new TokenError(
        `Token request to ${server.url}/skewed/always failed: HTTP 401 invalid_client. AADSTS700024: Client assertion is not within its valid time range. Hint: the assertion is outside its valid time range: the runner's clock is off.`
      )
    )
    expect(offsets).toEqual([600_500])
    expect(sentFor('skewed/always')).toEqual(['assertion-1', 'assertion-2'])
  })

  it('does not ask again without a callback to set the clock', async () => {
    const { request } = skewRequest('skewed/nocallback', false)
    await expect(requestToken(request, stoppedClock().deps)).rejects.toThrow(/AADSTS700024/)
    expect(sentFor('skewed/nocallback')).toEqual(['assertion-1'])
  })

  it('does not ask again when the clocks agree', async () => {
    const { request, offsets } = skewRequest('skewed/agreed')
    const retry = deps()
    retry.deps.now = () => Date.parse(SERVER_DATE)
    await expect(requestToken(request, retry.deps)).rejects.toThrow(/AADSTS700024/)
    expect(offsets).toEqual([])
    expect(sentFor('skewed/agreed')).toEqual(['assertion-1'])
  })
})

describe('secrets in the answer', () => {
  it('redacts every assertion sent so far when a later answer quotes them', async () => {
    let n = 0
    const quoted = {
      ...request(`${server.url}/quoting`),
      thumbprint: 'A1B2',
      assertion: async () => {
        const value = `assertion-${++n}-${'q'.repeat(12)}`
        seen.push(value)
        return value
      }
    }
    await expect(requestToken(quoted, deps().deps)).rejects.toThrow(
      new TokenError(
        `Token request to ${server.url}/quoting failed: HTTP 400 invalid_client. AADSTS700027: Got *** and ***. Hint: upload this certificate (thumbprint A1B2) to the app registration under Certificates & secrets, or use the certificate that is uploaded there; if it is uploaded, try algorithm: RS256.`
      )
    )
  })

  it('hints at the federated credential when no certificate signed the request', async () => {
    await expect(requestToken(request(`${server.url}/signature`), deps().deps)).rejects.toThrow(
      new TokenError(
        `Token request to ${server.url}/signature failed: HTTP 401 invalid_client. AADSTS700027: Client assertion failed signature validation. Hint: the GitHub OIDC token was not accepted: add a federated credential for this repository to the app registration (issuer https://token.actions.githubusercontent.com, or https://HOSTNAME/_services/token on GitHub Enterprise Server; audience as in 'oidc-audience'). Federation was used because no certificate was given; if the certificate comes from a secret, that secret is empty in this run (forks, Dependabot, a misspelt name, or an environment secret outside its environment).`
      )
    )
  })

  it('redacts the bearer token the exchange sent', async () => {
    const bearer = `opaque-${'b'.repeat(20)}`
    await expect(
      exchangeToken(`${server.url}/quoting-bearer`, bearer, deps().deps)
    ).rejects.toThrow(
      new TokenError(
        `Token exchange to ${server.url}/quoting-bearer failed: HTTP 401 invalid_token. Bad Bearer ***.`
      )
    )
  })
})
