// The README's promises, each held by a test that fails when the code that keeps it is changed
// (mutation testing found these unguarded): run() and requestToken in-process against real servers
// on loopback, and the pure checks with exact outcomes.
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
import { createPrivateKey, generateKeyPairSync, randomUUID } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { checkCredential, loadCredential } from '../src/keys/credential.js'
import { InputError, TokenError } from '../src/errors.js'
import { readSettings } from '../src/action/inputs.js'
import { run } from '../src/action/main.js'
import {
  DEFAULT_RETRY_POLICY,
  parseRetryAfter,
  TransientError,
  withRetries,
  type RetryDeps
} from '../src/oauth/retry.js'
import { requestToken } from '../src/oauth/token.js'
import { makeCert } from './support/certs.js'
import { startEntraServer } from './support/entra-server.js'
import { parseFileCommand } from './support/run-action.js'

type Entra = Awaited<ReturnType<typeof startEntraServer>>

/** One request a scripted server received. */
interface Received {
  method: string
  url: string
  headers: IncomingMessage['headers']
  body: string
}
type Script = (req: Received, res: ServerResponse) => void

/**
 * A plain HTTP server on loopback that answers each request with the next script of its queue
 * (404 when the queue is empty) and records every request.
 */
interface Scripted {
  url: string
  received: Received[]
  queue: Script[]
  close: () => Promise<void>
}

async function startScripted(): Promise<Scripted> {
  const received: Received[] = []
  const queue: Script[] = []
  const server: Server = createServer((req, res) => {
    let body = ''
    req.setEncoding('utf8')
    req.on('data', (chunk) => (body += chunk))
    req.on('end', () => {
      const request = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body }
      received.push(request)
      const script = queue.shift()
      if (script) script(request, res)
      else res.writeHead(404).end()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    queue,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      })
  }
}

const json = (status: number, value: unknown, headers: Record<string, string> = {}): Script => {
  return (_req, res) => {
    res.writeHead(status, { 'Content-Type': 'application/json', ...headers })
    res.end(JSON.stringify(value))
  }
}

const CLIENT = randomUUID()
const TENANT = randomUUID()
const SCOPE = 'https://graph.microsoft.com/.default'
const cert = makeCert({ commonName: 'promises test' })
const PASSWORD = ' correct horse battery staple '
const encryptedKeyPem = createPrivateKey(cert.keyPem)
  .export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: PASSWORD })
  .toString()
/** Retries within a test's patience: short waits, short attempts. */
const FAST = {
  ...DEFAULT_RETRY_POLICY,
  baseDelayMs: 10,
  maxDelayMs: 50,
  attemptTimeoutMs: 2000,
  totalTimeMs: 10_000
}

let entra: Entra
let scripted: Scripted
let elsewhere: Scripted
beforeAll(async () => {
  ;[entra, scripted, elsewhere] = await Promise.all([
    startEntraServer({ apps: [{ clientId: CLIENT, tenantId: TENANT, certificates: [cert.cert] }] }),
    startScripted(),
    startScripted()
  ])
})
afterAll(async () => {
  await Promise.all([entra.close(), scripted.close(), elsewhere.close()])
})

function setInputs(inputs: Record<string, string>): void {
  for (const [name, value] of Object.entries(inputs))
    process.env[`INPUT_${name.toUpperCase()}`] = value
}

function clearInputs(): void {
  for (const name of Object.keys(process.env)) {
    if (name.startsWith('INPUT_') || name.startsWith('ACTIONS_ID_TOKEN')) delete process.env[name]
  }
}

/** What run() printed and wrote, captured per test. */
let printed = ''
let dir = ''
function outputs(): Record<string, string> {
  return parseFileCommand(readFileSync(join(dir, 'GITHUB_OUTPUT'), 'utf8'))
}
const errors = () => [...printed.matchAll(/^::error::(.*)$/gm)].map((m) => m[1])
const masked = () => [...printed.matchAll(/^::add-mask::(.*)$/gm)].map((m) => m[1])

beforeEach(() => {
  clearInputs()
  dir = mkdtempSync(join(tmpdir(), 'promises-'))
  process.env.GITHUB_OUTPUT = join(dir, 'GITHUB_OUTPUT')
  writeFileSync(process.env.GITHUB_OUTPUT, '')
  delete process.env.GITHUB_STEP_SUMMARY
  printed = ''
  jest.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    printed += String(chunk)
    return true
  })
  process.exitCode = undefined
  entra.faults.length = 0
  scripted.queue.length = 0
  elsewhere.queue.length = 0
})
afterEach(() => {
  jest.restoreAllMocks()
  process.exitCode = undefined
  clearInputs()
  rmSync(dir, { recursive: true, force: true })
})

/** Inputs for the Entra-like server, with the plain certificate. */
function entraInputs(extra: Record<string, string> = {}): void {
  setInputs({
    'client-id': CLIENT,
    'tenant-id': TENANT,
    scope: SCOPE,
    certificate: cert.keyPem + cert.certPem,
    'authority-host': entra.url,
    ...extra
  })
}

/** Deps with a clock that stands still at `at` unless a test moves it. */
function fixedDeps(at: number, policy = FAST): RetryDeps {
  return {
    policy,
    now: () => at,
    random: () => 0.5,
    sleep: async () => {},
    log: () => {}
  }
}

describe('requests go only where the inputs say', () => {
  it('does not follow a redirect: the form with the assertion never reaches the Location host', async () => {
    const target = `${elsewhere.url}/stolen/token`
    scripted.queue.push((_req, res) => res.writeHead(307, { Location: target }).end())
    elsewhere.queue.push(json(200, { access_token: 'from-the-wrong-host-0123', expires_in: 60 }))
    setInputs({
      'client-id': CLIENT,
      'token-endpoint': `${scripted.url}/token`,
      scope: 'profile',
      certificate: cert.keyPem + cert.certPem
    })
    await run({ policy: FAST })
    expect(elsewhere.received).toEqual([])
    expect(scripted.received.at(-1)?.body).toContain('client_assertion=')
    expect(errors()).toEqual([
      `Token request to ${scripted.url}/token failed: HTTP 307 with an empty body. Hint: the server redirects (to ${target}); give the final token endpoint URL.`
    ])
    expect(outputs()).toEqual({})
  })

  it('refuses plain http to a host that only starts like a loopback address', () => {
    setInputs({
      'client-id': CLIENT,
      'token-endpoint': 'http://127.0.0.1.example.com/token',
      scope: 'profile',
      certificate: 'x'
    })
    expect(() => readSettings()).toThrow(
      new InputError(
        'token-endpoint',
        "Input 'token-endpoint' must use https:// (plain http:// is allowed only for loopback hosts such as 127.0.0.1); got 'http://127.0.0.1.example.com/token'."
      )
    )
  })

  it.each([
    ['http://localhost:8080/token', 'http://localhost:8080/token'],
    ['http://[::1]:8080/token', 'http://[::1]:8080/token'],
    ['http://127.1.2.3/token', 'http://127.1.2.3/token']
  ])('accepts plain http to the loopback host of %s', (endpoint, expected) => {
    setInputs({
      'client-id': CLIENT,
      'token-endpoint': endpoint,
      scope: 'profile',
      certificate: 'x'
    })
    expect(readSettings().tokenEndpoint).toBe(expected)
  })

  it.each([
    ['a user name and a password', 'https://user:secret@login.example.com/token'],
    ['a user name alone', 'https://user@login.example.com/token'],
    ['a password alone', 'https://:secret@login.example.com/token']
  ])('refuses a URL input that carries %s', (_what, endpoint) => {
    setInputs({
      'client-id': CLIENT,
      'token-endpoint': endpoint,
      scope: 'profile',
      certificate: 'x'
    })
    expect(() => readSettings()).toThrow(
      new InputError(
        'token-endpoint',
        "Input 'token-endpoint' must not carry a user name or password in the URL."
      )
    )
  })

  it('refuses credentials in authority-host and exchange-url too, naming the input', () => {
    setInputs({
      'client-id': CLIENT,
      'tenant-id': TENANT,
      scope: SCOPE,
      certificate: 'x',
      'authority-host': 'https://me:pw@login.microsoftonline.com'
    })
    expect(() => readSettings()).toThrow(
      "Input 'authority-host' must not carry a user name or password in the URL."
    )
    setInputs({
      'authority-host': 'https://login.microsoftonline.com',
      'exchange-url': 'https://me:pw@api.partnercenter.microsoft.com/generatetoken'
    })
    expect(() => readSettings()).toThrow(
      "Input 'exchange-url' must not carry a user name or password in the URL."
    )
  })
})

describe('secrets are masked and never shown', () => {
  it('masks certificate-password exactly as given, spaces kept, and decrypts the key with it', async () => {
    entraInputs({
      certificate: encryptedKeyPem + cert.certPem,
      'certificate-password': PASSWORD
    })
    await run({ policy: FAST })
    expect(errors()).toEqual([])
    expect(masked()).toContain(PASSWORD)
    expect(outputs()['access-token']).toBe(entra.issued.at(-1))
  })

  /** An assertion as long as a real one: longer than any excerpt of an answer. */
  const LONG = `${'h'.repeat(120)}.${'c'.repeat(400)}.${'s'.repeat(342)}`
  const ask = () =>
    requestToken(
      {
        tokenEndpoint: `${scripted.url}/token`,
        clientId: CLIENT,
        scope: 'profile',
        assertion: async () => LONG
      },
      fixedDeps(Date.now(), { ...FAST, maxAttempts: 1 })
    )
  const quoting = (answer: (assertion: string) => Script): Script => {
    return (req, res) =>
      answer(new URLSearchParams(req.body).get('client_assertion') ?? '')(req, res)
  }

  it.each([
    [
      'its error description',
      (a: string) => json(400, { error: 'invalid_request', error_description: `Bad ${a} here.` }),
      'HTTP 400 invalid_request. Bad *** here.'
    ],
    [
      'a JSON body without an error name',
      (a: string) => json(400, { detail: a }),
      'HTTP 400. body: {"detail":"***"}.'
    ],
    [
      'a text body',
      (a: string): Script =>
        (_req, res) =>
          res.writeHead(400, { 'Content-Type': 'text/plain' }).end(`refused ${a}`),
      'HTTP 400 (not JSON): "refused ***".'
    ],
    [
      'its trace ID',
      (a: string) => json(400, { error: 'invalid_request', trace_id: a }),
      'HTTP 400 invalid_request. Trace ID: ***.'
    ]
  ])(
    'redacts the whole assertion the server quotes back in %s, before clipping',
    async (_w, answer, shown) => {
      scripted.queue.push(quoting(answer))
      await expect(ask()).rejects.toThrow(
        new TokenError(`Token request to ${scripted.url}/token failed: ${shown}`)
      )
    }
  )

  it.each([
    ['its trace ID', (a: string) => ({ trace_id: a }), 'Trace ID: ***.'],
    [
      'its description',
      (a: string) => ({ error_description: `Seen ${a} before.` }),
      'Seen *** before.'
    ]
  ])(
    'redacts an earlier attempt’s assertion the server quotes later in %s',
    async (_w, quote, shown) => {
      const sent: string[] = []
      const form = (req: Received) => new URLSearchParams(req.body).get('client_assertion') ?? ''
      scripted.queue.push((req, res) => {
        sent.push(form(req))
        json(503, { error: 'temporarily_unavailable' })(req, res)
      })
      scripted.queue.push((req, res) => {
        sent.push(form(req))
        json(400, { error: 'invalid_request', ...quote(sent[0]) })(req, res)
      })
      setInputs({
        'client-id': CLIENT,
        'token-endpoint': `${scripted.url}/token`,
        scope: 'profile',
        certificate: cert.keyPem + cert.certPem
      })
      await run({ policy: FAST })
      expect(sent).toHaveLength(2)
      expect(sent[0]).not.toBe(sent[1])
      expect(errors()).toEqual([
        `Token request to ${scripted.url}/token failed: HTTP 400 invalid_request. ${shown}`
      ])
    }
  )
})

describe('transient failures are retried', () => {
  it('retries a plain HTTP 429 that does not say temporarily_unavailable', async () => {
    entraInputs()
    entra.faults.push({ status: 429, body: 'Too Many Requests', retryAfter: '0' })
    await run({ policy: FAST })
    expect(errors()).toEqual([])
    expect(printed).toMatch(/^Attempt 1 of 4 failed: HTTP 429; retrying in 0\.0 s\.$/m)
    expect(outputs()['access-token']).toBe(entra.issued.at(-1))
  })

  it('retries a 429 with another OAuth error name, and names only the status', async () => {
    entraInputs()
    entra.faults.push({
      status: 429,
      body: JSON.stringify({ error: 'slow_down' }),
      retryAfter: '0'
    })
    await run({ policy: FAST })
    expect(printed).toMatch(/^Attempt 1 of 4 failed: HTTP 429; retrying in 0\.0 s\.$/m)
    expect(outputs()['access-token']).toBe(entra.issued.at(-1))
  })

  it('retries a 400 temporarily_unavailable and names the error in the log', async () => {
    entraInputs()
    entra.faults.push({
      status: 400,
      body: JSON.stringify({ error: 'temporarily_unavailable' }),
      retryAfter: '0'
    })
    await run({ policy: FAST })
    expect(printed).toMatch(
      /^Attempt 1 of 4 failed: HTTP 400 temporarily_unavailable; retrying in 0\.0 s\.$/m
    )
    expect(outputs()['access-token']).toBe(entra.issued.at(-1))
  })

  it.each([
    [500, true],
    [502, true],
    [503, true],
    [501, false],
    [505, false],
    [404, false]
  ])('treats HTTP %i as transient: %s', async (status, transient) => {
    scripted.queue.push(json(status, {}))
    const failure = requestToken(
      {
        tokenEndpoint: `${scripted.url}/token`,
        clientId: CLIENT,
        scope: 'profile',
        assertion: async () => 'a.b.c'
      },
      fixedDeps(Date.now(), { ...FAST, maxAttempts: 1 })
    )
    const error = await failure.then(
      () => undefined,
      (e: unknown) => e
    )
    expect(error).toBeInstanceOf(TokenError)
    expect((error as Error).message).toBe(
      `Token request to ${scripted.url}/token failed: HTTP ${status}. body: {}${transient ? ' (gave up after 1 attempts)' : ''}.`
    )
  })

  it.each([
    ['12', 12_000],
    [' 7 ', 7_000],
    ['120', 120_000],
    ['0', 0]
  ])('reads Retry-After %j as %i ms', (value, ms) => {
    expect(parseRetryAfter(value, 0)).toBe(ms)
  })

  it.each([
    '7 s',
    'x7',
    '-1',
    '7.5',
    'Sun, 22 Nov 2026 10:00:05 GMT trailing',
    'xSun, 22 Nov 2026 10:00:05 GMT'
  ])('ignores the unreadable Retry-After %j', (value) => {
    expect(parseRetryAfter(value, 0)).toBeUndefined()
  })

  it('honours a multi-digit Retry-After from the server before the next attempt', async () => {
    scripted.queue.push(json(429, { error: 'slow_down' }, { 'Retry-After': '12' }))
    scripted.queue.push(json(200, { access_token: 'opaque-token-0123456789', expires_in: 60 }))
    const slept: number[] = []
    const deps = { ...fixedDeps(Date.now(), { ...FAST, maxDelayMs: 20_000, totalTimeMs: 60_000 }) }
    deps.sleep = async (ms) => {
      slept.push(ms)
    }
    const token = await requestToken(
      {
        tokenEndpoint: `${scripted.url}/token`,
        clientId: CLIENT,
        scope: 'profile',
        assertion: async () => 'a.b.c'
      },
      deps
    )
    expect(slept).toEqual([12_000])
    expect(token.accessToken).toBe('opaque-token-0123456789')
  })
})

describe('no wait is without end', () => {
  it('gives up on a runner that never answers the OIDC token request, within the attempt time', async () => {
    let held: ServerResponse | undefined
    scripted.queue.push((_req, res) => (held = res)) // never answers
    setInputs({
      'client-id': CLIENT,
      'tenant-id': TENANT,
      scope: SCOPE,
      'authority-host': entra.url
    })
    process.env.ACTIONS_ID_TOKEN_REQUEST_URL = `${scripted.url}/oidc-token?api-version=2.0`
    process.env.ACTIONS_ID_TOKEN_REQUEST_TOKEN = 'request-token-0123456789'
    const count = entra.requests.length
    try {
      await run({ policy: { ...FAST, attemptTimeoutMs: 1000 } })
    } finally {
      held?.destroy()
    }
    expect(scripted.received.at(-1)?.url).toBe(
      '/oidc-token?api-version=2.0&audience=api%3A%2F%2FAzureADTokenExchange'
    )
    expect(entra.requests.length).toBe(count)
    expect(errors()).toEqual([
      "Could not get a GitHub OIDC token for audience 'api://AzureADTokenExchange' from the runner within 1 s: check that the job has 'permissions: id-token: write', or set 'certificate'."
    ])
  })

  it('gives each attempt at most the time left of the total budget', async () => {
    let time = 0
    const timeouts: number[] = []
    const deps: RetryDeps = {
      policy: DEFAULT_RETRY_POLICY,
      now: () => time,
      random: () => 0.5,
      sleep: async (ms) => {
        time += ms
      },
      log: () => {}
    }
    await expect(
      withRetries(async (timeoutMs) => {
        timeouts.push(timeoutMs)
        time += timeoutMs
        throw new TransientError('Token request failed: no answer.', 'no answer')
      }, deps)
    ).rejects.toThrow('Token request failed: no answer (gave up after 4 attempts).')
    // 15 s, wait 0.75 s, 15 s, wait 1.5 s, 15 s, wait 3 s: 9.75 s of the 60 s are left.
    expect(timeouts).toEqual([15_000, 15_000, 15_000, 9_750])
  })

  it('gives up with the last failure when a slow machine overslept the budget', async () => {
    let time = 0
    const timeouts: number[] = []
    const deps: RetryDeps = {
      policy: { ...DEFAULT_RETRY_POLICY, maxAttempts: 2 },
      now: () => time,
      random: () => 0.5,
      sleep: async (ms) => {
        time += ms + 60_000 // the timer fired a minute late
      },
      log: () => {}
    }
    await expect(
      withRetries(async (timeoutMs) => {
        timeouts.push(timeoutMs)
        throw new TransientError('Token request failed: HTTP 503.', 'HTTP 503')
      }, deps)
    ).rejects.toThrow(
      'Token request failed: HTTP 503 (gave up after 1 attempt: the 60 s limit passed).'
    )
    expect(timeouts).toEqual([15_000])
  })
})

describe('the wait before a retry', () => {
  const run503 = (retryAfterMs: number, policy = DEFAULT_RETRY_POLICY) => {
    let time = 0
    const slept: number[] = []
    const deps: RetryDeps = {
      policy,
      now: () => time,
      random: () => 0.5,
      sleep: async (ms) => {
        slept.push(ms)
        time += ms
      },
      log: () => {}
    }
    let calls = 0
    const result = withRetries(async () => {
      if (++calls === 1) throw new TransientError('HTTP 429.', 'HTTP 429', 429, retryAfterMs)
      return 'token'
    }, deps)
    return { result, slept }
  }

  it('waits a Retry-After of exactly the longest wait', async () => {
    const { result, slept } = run503(20_000)
    await expect(result).resolves.toBe('token')
    expect(slept).toEqual([20_000])
  })

  it('gives up when the wait would use up exactly the time that is left', async () => {
    let time = 0
    let calls = 0
    const deps: RetryDeps = {
      policy: { ...DEFAULT_RETRY_POLICY, totalTimeMs: 10_000 },
      now: () => time,
      random: () => 0.5,
      sleep: async (ms) => {
        time += ms
      },
      log: () => {}
    }
    const result = withRetries(async () => {
      calls++
      time += 4_000
      throw new TransientError('HTTP 429.', 'HTTP 429', 429, 6_000)
    }, deps)
    await expect(result).rejects.toThrow(
      'HTTP 429 (gave up after 1 attempt: waiting 6 s more would pass the 10 s limit).'
    )
    expect(calls).toBe(1)
  })

  it('says "1 attempt" when the first wait would pass the total time', async () => {
    const { result } = run503(70_000, { ...DEFAULT_RETRY_POLICY, maxDelayMs: 100_000 })
    await expect(result).rejects.toThrow(
      'HTTP 429 (gave up after 1 attempt: waiting 70 s more would pass the 60 s limit).'
    )
  })
})

describe('the lifetime of a token', () => {
  const SENT = Date.parse('2026-11-22T10:00:00Z')
  /** Asks the scripted server, which answers `answer`, with the clock at SENT. */
  async function tokenFrom(answer: unknown) {
    scripted.queue.push(json(200, answer))
    return requestToken(
      {
        tokenEndpoint: `${scripted.url}/token`,
        clientId: CLIENT,
        scope: 'profile',
        assertion: async () => 'a.b.c'
      },
      fixedDeps(SENT)
    )
  }
  /** An unsigned JWT-shaped token with these claims (the action only decodes it). */
  const jwt = (claims: object) =>
    `eyJhbGciOiJub25lIn0.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.sig`

  it("takes the token's exp when expires_in is missing", async () => {
    const token = await tokenFrom({ access_token: jwt({ exp: SENT / 1000 + 1234 }) })
    expect(token.expiresIn).toBe(1234)
    expect(token.expiresOn.toISOString()).toBe('2026-11-22T10:20:34.000Z')
  })

  it("takes the token's exp when expires_in is not a number", async () => {
    const token = await tokenFrom({
      access_token: jwt({ exp: SENT / 1000 + 600.7 }),
      expires_in: 'soon'
    })
    expect(token.expiresIn).toBe(600)
  })

  it('counts a token whose exp has passed as expired now, and caps a far exp at ten years', async () => {
    expect((await tokenFrom({ access_token: jwt({ exp: SENT / 1000 - 50 }) })).expiresIn).toBe(0)
    expect((await tokenFrom({ access_token: jwt({ exp: SENT / 1000 + 1e12 }) })).expiresIn).toBe(
      315_360_000
    )
  })

  it('reads expires_in given as a numeric string, and falls back to one hour for an opaque token', async () => {
    expect((await tokenFrom({ access_token: 'opaque-0123', expires_in: '899' })).expiresIn).toBe(
      899
    )
    expect((await tokenFrom({ access_token: 'opaque-0123', expires_in: ' 42 ' })).expiresIn).toBe(
      42
    )
    expect((await tokenFrom({ access_token: 'opaque-0123', expires_in: -5 })).expiresIn).toBe(3600)
    expect((await tokenFrom({ access_token: 'opaque-0123' })).expiresIn).toBe(3600)
    expect((await tokenFrom({ access_token: jwt({ sub: 'no exp' }) })).expiresIn).toBe(3600)
  })

  it('keeps expires_in of zero and the longest believable lifetime as they are', async () => {
    expect((await tokenFrom({ access_token: 'opaque-0123', expires_in: 0 })).expiresIn).toBe(0)
    expect(
      (await tokenFrom({ access_token: 'opaque-0123', expires_in: 315_360_000 })).expiresIn
    ).toBe(315_360_000)
    expect(
      (await tokenFrom({ access_token: 'opaque-0123', expires_in: 315_360_001 })).expiresIn
    ).toBe(3600)
  })
})

describe('EC keys are matched to their curve', () => {
  const p256 = makeCert({ curve: 'P-256' })
  const p384 = makeCert({ curve: 'P-384' })
  const now = new Date()
  const options = (algorithm: 'ES256' | 'ES384') => ({
    algorithm,
    entra: false,
    input: 'certificate',
    now
  })
  const load = (c: { keyPem: string; certPem: string }) =>
    loadCredential({ kind: 'certificate', certificate: c.keyPem + c.certPem })

  it('accepts a P-384 key with ES384 and a P-256 key with ES256', async () => {
    expect(checkCredential(await load(p384), options('ES384'))).toEqual([])
    expect(checkCredential(await load(p256), options('ES256'))).toEqual([])
  })

  it('names the curve and the algorithm to set for a P-384 key with ES256', async () => {
    expect(() => checkCredential(credential384, options('ES256'))).toThrow(
      new InputError(
        'algorithm',
        "Input 'algorithm' is ES256, but the key in 'certificate' is an EC P-384 key: set algorithm: ES384."
      )
    )
  })

  it('names the curve and the algorithm to set for a P-256 key with ES384', async () => {
    expect(() => checkCredential(credential256, options('ES384'))).toThrow(
      "Input 'algorithm' is ES384, but the key in 'certificate' is an EC P-256 key: set algorithm: ES256."
    )
  })

  it('refuses a curve other than P-256 and P-384, naming it', async () => {
    const credential = await load(p256)
    const secp256k1 = generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).privateKey
    expect(() =>
      checkCredential(
        { ...credential, privateKey: secp256k1 },
        { ...options('ES256'), keyInput: 'private-key' }
      )
    ).toThrow(
      new InputError(
        'private-key',
        "The EC key in 'private-key' uses curve secp256k1; only P-256 (ES256) and P-384 (ES384) are supported."
      )
    )
  })

  let credential256: Awaited<ReturnType<typeof load>>
  let credential384: Awaited<ReturnType<typeof load>>
  beforeAll(async () => {
    ;[credential256, credential384] = await Promise.all([load(p256), load(p384)])
  })
})
