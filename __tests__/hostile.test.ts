// dist/index.js run as the runner runs it against a hostile token server on loopback: injection
// through every field that reaches the log, bodies of every size and speed, malformed HTTP, odd
// statuses and shapes, a proxy and an OIDC endpoint that never answer. After each run the output is
// replayed the way the runner reads it (lines split on LF, CR and CRLF, ::add-mask:: and
// ::stop-commands:: honoured), and no secret may be shown in clear, not even in part; the run must
// end by itself, with at most one ::error:: line, within its time budget.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { createPrivateKey, randomBytes } from 'node:crypto'
import { execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import type { Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { makeCert } from './support/certs.js'
import { posixOnly } from './support/platform.js'
import {
  answer,
  makeToken,
  startHostileServer,
  startSilentProxy,
  type HostileRequest
} from './support/hostile-server.js'
import { ROOT, runAction, runnerLeaks, type ActionRun } from './support/run-action.js'
import { DEFAULT_RETRY_POLICY, type RetryDeps } from '../src/oauth/retry.js'
import { requestToken } from '../src/oauth/token.js'

const PASSWORD = `pw-${randomBytes(12).toString('base64url')}`
const cert = makeCert({ commonName: 'hostile test' })
const encryptedKeyPem = createPrivateKey(cert.keyPem)
  .export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: PASSWORD })
  .toString()
const keyLines = [...cert.keyPem.split('\n'), ...encryptedKeyPem.split('\n')].filter(
  (line) => line.length > 40
)
/** Starts a workflow command on a line of its own, by LF, by CR alone, and by CRLF. */
const INJECT = '\n::stop-commands::pwned\r::warning::injected\r\n::pwned::'
const ANSI = '\u001b[31mred\u001b[0m\u2028\u0085'
const FAST_MS = 20_000
/** The documented budget (about a minute, README) plus generous slack for a loaded machine. */
const BUDGET_MS = 100_000

/** Every token the server handed out, secret whether or not the action masked it. */
const issued: string[] = []
function token(): string {
  const value = makeToken()
  issued.push(value)
  return value
}
function success(socket: Socket, extra: Record<string, unknown> = {}): void {
  answer(
    socket,
    200,
    JSON.stringify({ token_type: 'Bearer', expires_in: 3599, access_token: token(), ...extra })
  )
}
/** An access token that only appears nested in an error body: never masked, must never be shown. */
const NESTED = `nested-${randomBytes(24).toString('base64url')}`

const attacks: Record<string, (req: HostileRequest, socket: Socket) => void> = {
  // Finding 1: a 429 whose error_codes item breaks the retry line, then a success.
  'codes-429': (req, socket) =>
    req.attempt === 1
      ? answer(
          socket,
          429,
          JSON.stringify({ error: 'throttled', error_codes: [`50196${INJECT}`] }),
          { 'Retry-After': '1' }
        )
      : success(socket),
  // Every field of a transient answer carries an injection; the retry line must stay one line.
  'fields-503': (req, socket) =>
    req.attempt === 1
      ? answer(
          socket,
          400,
          JSON.stringify({
            error: 'temporarily_unavailable',
            error_description: `AADSTS50196: busy${INJECT}${ANSI}.`,
            trace_id: `t${INJECT}`,
            correlation_id: `c${INJECT}`
          }),
          { 'Retry-After': '1' }
        )
      : success(socket, { token_type: `Bearer${INJECT}` }),
  'fields-400': (_, socket) =>
    answer(
      socket,
      400,
      JSON.stringify({
        error: `invalid_client${INJECT}${ANSI}`,
        error_description: `AADSTS700027: Bad ${ANSI}${INJECT} key.`,
        error_codes: [700027],
        trace_id: `trace${INJECT}`,
        correlation_id: `corr${ANSI}`
      })
    ),
  // Finding 4: the server echoes the assertion after a long prefix and a token nested deep down.
  echo: (req, socket) =>
    answer(
      socket,
      400,
      JSON.stringify({
        error: 'invalid_client',
        error_description: `${'x'.repeat(250)} ${req.form.client_assertion} ${NESTED}.`,
        details: { inner: [{ id_token: NESTED }] }
      })
    ),
  'echo-body': (req, socket) =>
    answer(
      socket,
      400,
      JSON.stringify({ details: { got: req.form.client_assertion, inner: { id_token: NESTED } } })
    ),
  redirect: (_, socket) =>
    answer(socket, 302, '', {
      Location: Buffer.concat([
        Buffer.from('https://elsewhere.test/'),
        Buffer.from([0x85]),
        Buffer.from('::stop-commands::pwned')
      ])
    }),
  // Finding 2: super-linear regexes on an HTML error page.
  'html-title': (_, socket) =>
    answer(socket, 400, `<html><title>${'<'.repeat(300_000)}</title></html>`, {
      'Content-Type': 'text/html'
    }),
  'html-big': (_, socket) =>
    answer(
      socket,
      400,
      `<html><head><title>Bad ${ANSI} gateway${INJECT}</title><script>${'<'.repeat(900_000)}`,
      { 'Content-Type': 'text/html' }
    ),
  // Finding 5: bodies past the cap, fast and endless.
  huge: (_, socket) =>
    answer(
      socket,
      200,
      JSON.stringify({ access_token: token(), pad: 'x'.repeat(2 * 1024 * 1024) })
    ),
  endless: (_, socket) => {
    socket.write('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{"pad":"')
    const chunk = Buffer.alloc(64 * 1024, 'x')
    const pump = (): void => {
      while (!socket.destroyed && socket.write(chunk));
      if (!socket.destroyed) socket.once('drain', pump)
    }
    pump()
  },
  // Finding 7: malformed HTTP, statuses outside 100-599, odd shapes.
  malformed: (_, socket) => socket.end('SSH-2.0-OpenSSH_9.6\r\n'),
  'status-999': (_, socket) => answer(socket, 999, '{"error":"server_error"}'),
  'status-099': (_, socket) => answer(socket, '099', '{"access_token":"abcdefghijkl"}'),
  deep: (_, socket) =>
    answer(socket, 400, `{"detail":${'['.repeat(200_000)}${']'.repeat(200_000)}}`),
  'deep-codes': (_, socket) =>
    answer(
      socket,
      400,
      `{"error":"toString","error_codes":[${'['.repeat(100_000)}${']'.repeat(100_000)}]}`
    ),
  'odd-codes': (_, socket) =>
    answer(
      socket,
      400,
      JSON.stringify({ error: 'constructor', error_codes: [{ toString: 1, valueOf: 2 }] })
    ),
  'blank-token': (_, socket) => answer(socket, 200, '{"access_token":" \\t\\n ","expires_in":5}'),
  ok: (_, socket) => success(socket),
  // A token whose claims carry HTML: the job summary must show it as text.
  'html-claims': (_, socket) => {
    const part = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url')
    const claims = { aud: '<img src=x onerror=alert(1)>', roles: ['a&b', '"q"\n</td>'], scp: "x'y" }
    const value = `${part({ alg: 'none' })}.${part(claims)}.${randomBytes(32).toString('base64url')}`
    issued.push(value)
    answer(socket, 200, JSON.stringify({ access_token: value, expires_in: 60 }))
  },
  exchange: (_, socket) => success(socket),
  // Slow: a body that trickles a byte at a time, and a server that never answers.
  trickle: (_, socket) => {
    socket.write(
      'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n'
    )
    const timer = setInterval(
      () => (socket.destroyed ? clearInterval(timer) : socket.write(' ')),
      200
    )
  },
  silent: () => {},
  // The assertion's signature quoted in two halves, one per field.
  'split-signature': (req, socket) => {
    const signature = req.form.client_assertion.split('.')[2]
    answer(
      socket,
      400,
      JSON.stringify({
        error: signature.slice(0, 200),
        error_description: `${signature.slice(200)} is not a signature we know.`
      })
    )
  },
  // A JWT inside a sentence, and one under an innocent-looking key.
  'jwt-sentence': (_, socket) =>
    answer(
      socket,
      400,
      JSON.stringify({
        error: 'invalid_grant',
        error_description: `The token ${token()} was revoked. More text follows.`
      })
    ),
  'jwt-innocent': (_, socket) =>
    answer(socket, 400, JSON.stringify({ detail: `Bearer ${token()}`, note: token() })),
  // A long description and 10,000 short strings under a token key: the redaction must stay linear.
  'many-strings': (_, socket) =>
    answer(
      socket,
      400,
      JSON.stringify({
        error: 'invalid_client',
        error_description: `${'word '.repeat(100_000)}end.`,
        token: Array.from({ length: 10_000 }, (_, i) => `tok-${String(i).padStart(6, '0')}`)
      })
    ),
  // An exchange server that answers with the access token it was sent as a JSON key.
  'token-key': (req, socket) =>
    answer(
      socket,
      400,
      JSON.stringify({ [req.headers.authorization?.slice(7) ?? '']: 'not valid here' })
    ),
  // An access token of lines holding ordinary words: masking them would blank those words.
  'multiline-token': (_, socket) =>
    answer(
      socket,
      200,
      JSON.stringify({ access_token: `${token()}\nthe\nerror\n`, expires_in: 3599 })
    )
}

let server: Awaited<ReturnType<typeof startHostileServer>>
let dir: string

beforeAll(async () => {
  if (!existsSync(join(ROOT, 'dist', 'index.js')))
    throw new Error('dist/index.js is missing: run `npm run package` first.')
  dir = mkdtempSync(join(tmpdir(), 'hostile-'))
  server = await startHostileServer(attacks)
})
afterAll(async () => {
  await server.close()
  rmSync(dir, { recursive: true, force: true })
})

interface Outcome {
  run: ActionRun
  requests: HostileRequest[]
}

/** Runs the action against one attack (token-endpoint mode), with the encrypted key. */
async function attack(
  name: string,
  inputs: Record<string, string> = {},
  env: Record<string, string> = {}
): Promise<Outcome> {
  const before = server.requests.length
  const run = await runAction(
    {
      'client-id': 'hostile-client',
      scope: 'api://hostile/.default',
      'token-endpoint': `${server.url}/${name}`,
      certificate: encryptedKeyPem + cert.certPem,
      'certificate-password': PASSWORD,
      ...inputs
    },
    { env, timeoutMs: 150_000 }
  )
  return { run, requests: server.requests.slice(before) }
}

/**
 * What must hold for every run: it ended by itself (no kill) with exit code 0 or 1, at most one
 * ::error:: line, the runner never honoured a ::stop-commands::, no printed line holds a raw
 * control character, and no secret (tokens, assertions, key lines, password) is shown in clear,
 * not even its first 16 characters.
 */
function expectSafe({ run, requests }: Outcome, maxMs = FAST_MS): void {
  expect(run.signal).toBeNull()
  expect([0, 1]).toContain(run.code)
  expect(run.ms).toBeLessThan(maxMs)
  expect(run.errors.length).toBeLessThanOrEqual(1)
  expect(run.replay.stopped).toBe(false)
  for (const line of run.stdout.split(/\r?\n/)) {
    // eslint-disable-next-line no-control-regex
    expect(line).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029]/)
  }
  const assertions = requests.map((r) => r.form.client_assertion).filter(Boolean)
  const secrets = [...issued, ...assertions, ...keyLines, PASSWORD, NESTED]
  expect(runnerLeaks(run.replay, secrets)).toEqual([])
  // No run of 16 characters of any secret, or of any part of a JWT among them, anywhere.
  const runs = new Set<string>()
  for (const secret of [...secrets, ...secrets.flatMap((s) => s.split('.'))]) {
    for (let i = 0; i + 16 <= secret.length; i++) runs.add(secret.slice(i, i + 16))
  }
  const shown = [
    run.replay.lines.join('\n'),
    run.summary,
    ...Object.values(run.exported),
    ...Object.entries(run.outputs)
      .filter(([name]) => !['access-token', 'exchanged-token', 'client-assertion'].includes(name))
      .map(([, value]) => value)
  ].join('\n')
  const leaks: string[] = []
  for (let i = 0; i + 16 <= shown.length; i++) {
    if (runs.has(shown.slice(i, i + 16))) leaks.push(shown.slice(i, i + 16))
  }
  expect(leaks).toEqual([])
  // A few dozen masks at most, whatever the input: the runner checks every later line against each.
  expect(run.masked.length).toBeLessThanOrEqual(80)
}

describe('workflow-command injection', () => {
  it('keeps an injected error_codes item of a 429 inside the retry line, and masking on', async () => {
    const outcome = await attack('codes-429')
    expectSafe(outcome)
    expect(outcome.run.code).toBe(0)
    expect(outcome.requests).toHaveLength(2)
    expect(outcome.run.replay.lines).toContain(
      'Attempt 1 of 4 failed: HTTP 429; retrying in 1.0 s.'
    )
    expect(outcome.run.replay.lines.filter((l) => l.includes('injected'))).toEqual([])
  })

  it('escapes every field of a transient answer, and a hostile token_type', async () => {
    const outcome = await attack('fields-503')
    expectSafe(outcome)
    expect(outcome.run.code).toBe(0)
    expect(outcome.run.outputs['token-type']).toBe('Bearer')
    expect(outcome.run.replay.lines).toContain(
      'Attempt 1 of 4 failed: HTTP 400 temporarily_unavailable (AADSTS50196); retrying in 1.0 s.'
    )
  })

  it('shows the fields of an error answer escaped on one line, ANSI escapes included', async () => {
    const outcome = await attack('fields-400')
    expectSafe(outcome)
    expect(outcome.run.code).toBe(1)
    // Line breaks become spaces (one line), other control characters visible escapes.
    const inject = ' ::stop-commands::pwned ::warning::injected ::pwned::'
    const ansi = '\\u001b[31mred\\u001b[0m \\u0085'
    expect(outcome.run.errors).toEqual([
      `Token request to ${server.url}/fields-400 failed: HTTP 400 invalid_client${inject}${ansi}. AADSTS700027: Bad ${ansi}${inject} key. Hint: upload this certificate (thumbprint ${cert.cert.fingerprint.replace(/:/g, '')}) to the app registration under Certificates & secrets, or use the certificate that is uploaded there; if it is uploaded, try algorithm: RS256. Trace ID: trace${inject}. Correlation ID: corr${ansi}.`
    ])
  })

  it('escapes a redirect Location with a NEL byte', async () => {
    const outcome = await attack('redirect')
    expectSafe(outcome)
    expect(outcome.run.errors).toEqual([
      `Token request to ${server.url}/redirect failed: HTTP 302 with an empty body. Hint: the server redirects (to https://elsewhere.test/\\u0085::stop-commands::pwned); give the final token endpoint URL.`
    ])
  })

  it('escapes the scope input in the success line, so the exchanged token stays masked', async () => {
    const outcome = await attack('ok', {
      scope: `api://x/.default${INJECT}`,
      'exchange-url': `${server.url}/exchange`
    })
    expectSafe(outcome)
    expect(outcome.run.code).toBe(0)
    expect(outcome.run.outputs['exchanged-token']).toBe(issued[issued.length - 1])
    const got = outcome.run.replay.lines.find((l) => l.startsWith('Got a Bearer token'))
    expect(got).toContain(
      "for 'api://x/.default\\n::stop-commands::pwned\\r::warning::injected\\r\\n::pwned::'"
    )
  })
})

describe('the job summary', () => {
  it('escapes claims from the server and inputs as HTML', async () => {
    const outcome = await attack('html-claims', { scope: 'api://x/<b>.default' })
    expectSafe(outcome)
    const rows = Object.fromEntries(
      [...outcome.run.summary.matchAll(/<tr><td>(.*?)<\/td><td>(.*?)<\/td><\/tr>/g)].map((m) => [
        m[1],
        m[2]
      ])
    )
    expect(rows['Scope']).toBe('api://x/&lt;b&gt;.default')
    expect(rows['Token audience']).toBe('&lt;img src=x onerror=alert(1)&gt;')
    expect(rows['Token roles']).toBe('a&amp;b, &quot;q&quot; &lt;/td&gt;')
    expect(rows['Token scopes (scp)']).toBe('x&#39;y')
  })
})

describe('secrets a server echoes', () => {
  it('redacts the echoed assertion and a nested token before clipping, so no part is shown', async () => {
    const outcome = await attack('echo')
    expectSafe(outcome)
    expect(outcome.run.errors).toEqual([
      `Token request to ${server.url}/echo failed: HTTP 400 invalid_client. ${'x'.repeat(250)} *** ***. Hint: the server did not accept the client assertion: check 'client-id', that the certificate's public key is registered for the client, and 'audience'.`
    ])
  })

  it('never quotes a token-like value in the preview of an unknown error body', async () => {
    const outcome = await attack('echo-body')
    expectSafe(outcome)
    expect(outcome.run.errors).toEqual([
      `Token request to ${server.url}/echo-body failed: HTTP 400. body: {"details":{"got":"***","inner":{"id_token":"***"}}}.`
    ])
  })
})

describe('parts of secrets', () => {
  it('hides an assertion signature quoted in halves, and its jti in debug output', async () => {
    const outcome = await attack('split-signature', {}, { RUNNER_DEBUG: '1' })
    expectSafe(outcome)
    const debug = outcome.run.stdout.split(/\r?\n/).filter((l) => l.includes('Client assertion'))
    expect(debug).toHaveLength(1)
    expect(debug[0]).toContain('"jti":"***"')
    expect(outcome.run.errors).toEqual([
      `Token request to ${server.url}/split-signature failed: HTTP 400 ***. *** is not a signature we know.`
    ])
  })

  it('hides a JWT inside a sentence', async () => {
    const outcome = await attack('jwt-sentence')
    expectSafe(outcome)
    expect(outcome.run.errors).toEqual([
      `Token request to ${server.url}/jwt-sentence failed: HTTP 400 invalid_grant. The token *** was revoked. Hint: the server refused the grant: check 'client-id' and 'audience'.`
    ])
  })

  it('hides a JWT under an innocent-looking key of an unknown error body', async () => {
    const outcome = await attack('jwt-innocent')
    expectSafe(outcome)
    expect(outcome.run.errors).toEqual([
      `Token request to ${server.url}/jwt-innocent failed: HTTP 400. body: {"detail":"Bearer ***","note":"***"}.`
    ])
  })

  it('hides the access token an exchange server answers as a JSON key', async () => {
    const outcome = await attack('ok', { 'exchange-url': `${server.url}/token-key` })
    expectSafe(outcome)
    expect(outcome.run.errors).toEqual([
      `Token exchange to ${server.url}/token-key failed: HTTP 400. body: {"***":"not valid here"}.`
    ])
  })

  it('refuses an access token of several lines before masking any of it', async () => {
    const outcome = await attack('multiline-token')
    expectSafe(outcome)
    expect(outcome.run.masked).not.toContain('the')
    expect(outcome.run.masked).not.toContain('error')
    expect(outcome.run.outputs).toEqual({})
    expect(outcome.run.errors).toEqual([
      `Token request to ${server.url}/multiline-token failed: the access_token it answered is not a token (RFC 6749 appendix A.12: visible ASCII characters, at most 64 KiB; this one has a line break, a control or non-ASCII character, or is longer): check that the URL is the token endpoint.`
    ])
  })

  it('explains an answer with a long description and 10,000 token strings at once', async () => {
    const outcome = await attack('many-strings')
    expectSafe(outcome)
    expect(outcome.requests).toHaveLength(1)
    expect(outcome.run.errors[0]).toMatch(
      new RegExp(
        `^Token request to ${server.url}/many-strings failed: HTTP 400 invalid_client\\. (word ){50}`
      )
    )
  })
})

describe('bodies of every size and shape', () => {
  it('summarises a 300 KB <title><<<< page at once', async () => {
    const outcome = await attack('html-title')
    expectSafe(outcome)
    expect(outcome.run.errors).toEqual([
      `Token request to ${server.url}/html-title failed: HTTP 400 (not JSON, 300028 bytes without readable text).`
    ])
  })

  it('summarises a 900 KB HTML page by its escaped title', async () => {
    const outcome = await attack('html-big')
    expectSafe(outcome)
    expect(outcome.run.errors).toEqual([
      `Token request to ${server.url}/html-big failed: HTTP 400 (not JSON): "Bad \\u001b[31mred\\u001b[0m \\u0085 gateway ::stop-commands::pwned ::warning::injected ::pwned::".`
    ])
  })

  it.each(['huge', 'endless'])(
    'stops reading a %s body at 1 MiB, without retrying',
    async (name) => {
      const outcome = await attack(name)
      expectSafe(outcome)
      expect(outcome.requests).toHaveLength(1)
      expect(outcome.run.errors).toEqual([
        `Token request to ${server.url}/${name} failed: 127.0.0.1:${new URL(server.url).port} answered with a body over 1 MiB, which is not a token answer: check the URL and the proxy.`
      ])
    }
  )

  it('reports deeply nested JSON as the server sent it, not as an unexpected error', async () => {
    const outcome = await attack('deep')
    expectSafe(outcome)
    expect(outcome.run.errors).toEqual([
      `Token request to ${server.url}/deep failed: HTTP 400. body: {"detail":[[[...]]]}.`
    ])
  })

  it('ignores error_codes items that are not numbers and error names that are not hints', async () => {
    for (const name of ['deep-codes', 'odd-codes']) {
      const outcome = await attack(name)
      expectSafe(outcome)
      const error = name === 'deep-codes' ? 'toString' : 'constructor'
      expect(outcome.run.errors).toEqual([
        `Token request to ${server.url}/${name} failed: HTTP 400 ${error}.`
      ])
    }
  })

  it('refuses a blank access_token', async () => {
    const outcome = await attack('blank-token')
    expectSafe(outcome)
    expect(outcome.run.outputs).toEqual({})
    expect(outcome.run.errors).toEqual([
      `Token request to ${server.url}/blank-token failed: HTTP 200 without an access_token (fields: access_token, expires_in, access_token is blank).`
    ])
  })
})

describe('malformed HTTP', () => {
  it('reports an answer that is not HTTP as malformed, without retrying', async () => {
    const outcome = await attack('malformed')
    expectSafe(outcome)
    expect(outcome.requests).toHaveLength(1)
    expect(outcome.run.errors).toEqual([
      `Token request to ${server.url}/malformed failed: 127.0.0.1:${new URL(server.url).port} gave a malformed HTTP answer (HPE_INVALID_CONSTANT): check the URL (scheme and port) and the proxy.`
    ])
  })

  it.each([
    ['status-999', 999],
    ['status-099', 99]
  ])('does not retry or accept %s', async (name, status) => {
    const outcome = await attack(name)
    expectSafe(outcome)
    expect(outcome.requests).toHaveLength(1)
    expect(outcome.run.outputs).toEqual({})
    expect(outcome.run.errors).toEqual([
      `Token request to ${server.url}/${name} failed: the server answered with HTTP status ${status}, which is not a valid status: check the URL and the proxy.`
    ])
  })
})

describe('hostile inputs', () => {
  it.each(['PATH', 'LD_PRELOAD', 'BASH_ENV', 'NODE_OPTIONS', 'https_proxy', 'TF_CLI_ARGS'])(
    'refuses export-variable %s before any request',
    async (name) => {
      const outcome = await attack('ok', { 'export-variable': name })
      expectSafe(outcome)
      expect(outcome.requests).toEqual([])
      expect(outcome.run.errors).toEqual([
        `Input 'export-variable' must be a name in capitals that ends in _TOKEN, e.g. GRAPH_TOKEN or ARM_ACCESS_TOKEN: a name that says it holds a token is one that no tool reads as a program, a path or its settings; got '${name}'.`
      ])
    }
  )

  it('refuses a PEM of 60,000 small distinct certificates at once, and masks none of them', async () => {
    const file = join(dir, 'many-certificates.pem')
    const blocks = Array.from(
      { length: 60_000 },
      (_, i) =>
        `-----BEGIN CERTIFICATE-----\n${Buffer.from(`c${i}`).toString('base64')}\n-----END CERTIFICATE-----\n`
    )
    writeFileSync(file, cert.keyPem + cert.certPem + blocks.join(''))
    const outcome = await attack('ok', { certificate: '', 'certificate-file': file })
    expectSafe(outcome)
    expect(outcome.requests).toEqual([])
    expect(outcome.run.errors).toEqual([
      "Input 'certificate-file' holds 60001 different certificates; the action takes at most 32: the certificate and the issuers of its chain. Remove the others (a bundle of CA certificates does not belong here)."
    ])
  })

  it('refuses a 3.9 MiB file of 16-character pieces with a bounded number of masks', async () => {
    const file = join(dir, 'pieces.txt')
    const piece = (i: number): string => String(i).padStart(16, 'A')
    writeFileSync(file, Array.from({ length: 240_000 }, (_, i) => piece(i)).join('\n'))
    const outcome = await attack('ok', { certificate: '', 'certificate-file': file })
    expectSafe(outcome)
    expect(outcome.requests).toEqual([])
    expect(outcome.run.masked.length).toBeLessThanOrEqual(70)
    expect(outcome.run.errors).toEqual([
      "Input 'certificate-file' is neither PEM (-----BEGIN CERTIFICATE----- and a private key) nor a readable PKCS#12/PFX file."
    ])
  })

  it('refuses a directory as certificate-file at once', async () => {
    const outcome = await attack('ok', { certificate: '', 'certificate-file': dir })
    expectSafe(outcome)
    expect(outcome.requests).toEqual([])
    expect(outcome.run.errors).toEqual([
      `Input 'certificate-file': ${dir} is a directory. Relative paths are resolved against the workspace (GITHUB_WORKSPACE).`
    ])
  })

  posixOnly(
    '(POSIX: mkfifo, /dev/zero) refuses a FIFO and a device as certificate-file at once',
    async () => {
      const fifo = join(dir, 'fifo')
      execFileSync('mkfifo', [fifo])
      for (const path of [fifo, '/dev/zero']) {
        const outcome = await attack('ok', { certificate: '', 'certificate-file': path })
        expectSafe(outcome)
        expect(outcome.requests).toEqual([])
        expect(outcome.run.errors).toEqual([
          `Input 'certificate-file': ${path} is not a regular file (a pipe, socket or device): give the path of the PEM or PFX file itself. Relative paths are resolved against the workspace (GITHUB_WORKSPACE).`
        ])
      }
    }
  )

  it('refuses a certificate file over 4 MiB, and 100,000 BEGIN lines at once', async () => {
    const big = join(dir, 'big.pem')
    writeFileSync(big, Buffer.alloc(5 * 1024 * 1024, 'A'))
    const begins = join(dir, 'begins.pem')
    writeFileSync(begins, '-----BEGIN CERTIFICATE-----\n'.repeat(100_000))
    const tooBig = await attack('ok', { certificate: '', 'certificate-file': big })
    expectSafe(tooBig)
    expect(tooBig.run.errors).toEqual([
      `Input 'certificate-file': ${big} is 5.0 MiB; a certificate file is a few KiB (at most 4 MiB): check the path. Relative paths are resolved against the workspace (GITHUB_WORKSPACE).`
    ])
    const manyBegins = await attack('ok', { certificate: '', 'certificate-file': begins })
    expectSafe(manyBegins)
    expect(manyBegins.run.errors).toEqual([
      "Input 'certificate-file' holds a PEM block without its matching -----END ...----- line: the text is truncated. Paste the whole file."
    ])
  })
})

describe('nothing hangs', () => {
  it('ends within the budget and exits: a trickling body, a silent server, a silent proxy, a silent OIDC endpoint', async () => {
    const proxy = await startSilentProxy()
    try {
      const [trickle, silent, proxied, oidc] = await Promise.all([
        attack('trickle'),
        attack('silent'),
        attack(
          'ok',
          { 'token-endpoint': 'https://login.example.test/token' },
          { HTTPS_PROXY: proxy.url }
        ),
        attack(
          'ok',
          { certificate: '', 'certificate-password': '' },
          {
            ACTIONS_ID_TOKEN_REQUEST_URL: `${server.url}/silent`,
            ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'runner-request-token'
          }
        )
      ])
      for (const outcome of [trickle, silent, proxied]) {
        expectSafe(outcome, BUDGET_MS)
        expect(outcome.run.code).toBe(1)
        expect(outcome.run.errors[0]).toMatch(
          /gave no answer within \d+ s \(gave up after \d attempts?/
        )
      }
      expect(proxy.connects).toBeGreaterThanOrEqual(1)
      expectSafe(oidc, BUDGET_MS)
      expect(oidc.run.errors).toEqual([
        "Could not get a GitHub OIDC token for audience 'api://AzureADTokenExchange' from the runner within 15 s: check that the job has 'permissions: id-token: write', or set 'certificate'."
      ])
    } finally {
      await proxy.close()
    }
  }, 200_000)
})

describe('the transport, in process', () => {
  const deps = (attemptTimeoutMs: number): RetryDeps => ({
    policy: { ...DEFAULT_RETRY_POLICY, maxAttempts: 2, attemptTimeoutMs, baseDelayMs: 10 },
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    now: Date.now,
    random: () => 0.5,
    log: () => {}
  })
  const request = (tokenEndpoint: string) => ({
    tokenEndpoint,
    clientId: 'c',
    scope: 's',
    assertion: async () => 'assertion-not-a-secret-here'
  })
  /** Waits (up to a generous bound) until `open()` is 0; returns what it was last. */
  async function settled(open: () => number): Promise<number> {
    for (let i = 0; i < 100 && open() > 0; i++) await new Promise((r) => setTimeout(r, 50))
    return open()
  }

  it('closes the connection of every abandoned attempt to a silent server', async () => {
    await expect(requestToken(request(`${server.url}/silent`), deps(300))).rejects.toThrow(
      /gave no answer within 0 s \(gave up after 2 attempts\)/
    )
    expect(await settled(() => server.open)).toBe(0)
  })

  it('closes the pending CONNECT of a proxy that never answers', async () => {
    const proxy = await startSilentProxy()
    process.env.HTTPS_PROXY = proxy.url
    try {
      await expect(
        requestToken(request('https://login.example.test/token'), deps(300))
      ).rejects.toThrow(
        /login\.example\.test gave no answer within 0 s \(gave up after 2 attempts\)/
      )
      expect(proxy.connects).toBe(2)
      expect(await settled(() => proxy.open)).toBe(0)
    } finally {
      delete process.env.HTTPS_PROXY
      await proxy.close()
    }
  })
})
