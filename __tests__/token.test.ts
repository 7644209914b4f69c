// How a refusal is explained, by what signed the request (readToken, in-process).
import { describe, expect, it } from '@jest/globals'
import { TokenError } from '../src/errors.js'
import { TransientError } from '../src/oauth/retry.js'
import { readToken, type Signer } from '../src/oauth/token.js'

const URL = 'https://login.test/tenant/oauth2/v2.0/token'
const REFUSAL = {
  error: 'invalid_client',
  error_description: 'AADSTS700027: Client assertion failed signature validation.',
  error_codes: [700027]
}

function explain(signer?: Signer): string {
  const answer = { status: 401, headers: {}, body: JSON.stringify(REFUSAL) }
  try {
    readToken(answer, 'Token request', URL, 0, [], signer)
  } catch (error) {
    if (error instanceof TokenError) return error.message
  }
  throw new Error('readToken accepted a refusal')
}

describe('readToken hints', () => {
  it('names the certificate by thumbprint when a certificate signed the assertion', () => {
    expect(explain({ thumbprint: 'A1B2' })).toBe(
      `Token request to ${URL} failed: HTTP 401 invalid_client. AADSTS700027: Client assertion failed signature validation. Hint: upload this certificate (thumbprint A1B2) to the app registration under Certificates & secrets, or use the certificate that is uploaded there; if it is uploaded, try algorithm: RS256.`
    )
  })

  it('points to the federated credential when the GitHub OIDC token was the assertion', () => {
    expect(explain('federation')).toContain(
      'Hint: the GitHub OIDC token was not accepted: add a federated credential'
    )
  })

  it('gives neither hint when nothing of the action signed the request (the exchange)', () => {
    expect(explain()).toBe(
      `Token request to ${URL} failed: HTTP 401 invalid_client. AADSTS700027: Client assertion failed signature validation. Hint: the server did not accept the client assertion: check 'client-id', that the certificate's public key is registered for the client, and 'audience'.`
    )
  })
})

describe('readToken explanations', () => {
  const SENT = 1_000_000
  function refusal(
    status: number,
    body: string,
    options: {
      headers?: Record<string, string | string[]>
      signer?: Signer
      secrets?: string[]
    } = {}
  ): TokenError {
    const answer = { status, headers: options.headers ?? {}, body }
    try {
      readToken(answer, 'Token request', URL, SENT, options.secrets ?? [], options.signer)
    } catch (error) {
      if (error instanceof TokenError) return error
    }
    throw new Error('readToken accepted a refusal')
  }
  const failed = (text: string) => `Token request to ${URL} failed: ${text}`

  it('names the AADSTS code alone when there is no description', () => {
    const body = JSON.stringify({ error: 'invalid_request', error_codes: [90002] })
    expect(refusal(400, body).message).toBe(
      failed(
        "HTTP 400 invalid_request. AADSTS90002. Hint: check 'tenant-id', and 'authority-host' for a sovereign cloud (login.microsoftonline.us, login.chinacloudapi.cn)."
      )
    )
  })

  it.each([99, 600])('refuses HTTP status %i as no HTTP status at all', (status) => {
    const error = refusal(status, '{"access_token":"token-0123456789"}')
    expect(error).not.toBeInstanceOf(TransientError)
    expect(error.status).toBe(status)
    expect(error.message).toBe(
      failed(
        `the server answered with HTTP status ${status}, which is not a valid status: check the URL and the proxy.`
      )
    )
  })

  it('explains HTTP 100 and HTTP 599 as answers, the latter as transient', () => {
    const first = refusal(100, '')
    expect(first).not.toBeInstanceOf(TransientError)
    expect(first.message).toBe(failed('HTTP 100 with an empty body.'))
    const last = refusal(599, '{}')
    expect(last).toBeInstanceOf(TransientError)
    expect((last as TransientError).reason).toBe('HTTP 599')
    expect(last.message).toBe(failed('HTTP 599. body: {}.'))
  })

  it('does not retry HTTP 499, 501 and 505', () => {
    const error = refusal(499, '{}')
    expect(error).not.toBeInstanceOf(TransientError)
    expect(error.message).toBe(failed('HTTP 499. body: {}.'))
    for (const status of [501, 505]) {
      expect(refusal(status, '{}')).not.toBeInstanceOf(TransientError)
    }
  })

  it.each([199, 300])('takes no token from HTTP %i, and never quotes it', (status) => {
    expect(refusal(status, '{"access_token":"token-0123456789"}').message).toBe(
      failed(`HTTP ${status}. body: {"access_token":"***"}.`)
    )
  })

  describe('a token answer', () => {
    const read = (status: number, fields: Record<string, unknown>) =>
      readToken(
        {
          status,
          headers: {},
          body: JSON.stringify({ access_token: 'token-0123456789', ...fields })
        },
        'Token request',
        URL,
        SENT,
        []
      )

    it('reads HTTP 200 and HTTP 299, with the expiry counted from when the request was sent', () => {
      expect(read(200, { expires_in: 60, token_type: 'pop' })).toEqual({
        accessToken: 'token-0123456789',
        tokenType: 'pop',
        expiresIn: 60,
        expiresOn: new Date(SENT + 60_000)
      })
      expect(read(299, { expires_in: '60' })).toEqual({
        accessToken: 'token-0123456789',
        tokenType: 'Bearer',
        expiresIn: 60,
        expiresOn: new Date(SENT + 60_000)
      })
    })

    it("takes the lifetime from a JWT's exp without a usable expires_in, within bounds", () => {
      const part = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url')
      const jwt = (exp: number) => `${part({ alg: 'none' })}.${part({ exp })}.c2lnbmF0dXJl`
      const lifetime = (exp: number) =>
        readToken(
          {
            status: 200,
            headers: {},
            body: JSON.stringify({ access_token: jwt(exp), expires_in: -1 })
          },
          'Token request',
          URL,
          SENT,
          []
        ).expiresIn
      expect(lifetime(SENT / 1000 + 1234.5)).toBe(1234)
      expect(lifetime(SENT / 1000 - 50)).toBe(0)
      expect(lifetime(SENT / 1000 + 1e12)).toBe(315_360_000)
      const noExp = `${part({ alg: 'none' })}.${part({ sub: 'x' })}.c2lnbmF0dXJl`
      expect(read(200, { access_token: noExp }).expiresIn).toBe(3600)
    })

    it('rounds a fractional expires_in down', () => {
      expect(read(200, { expires_in: 1.7 }).expiresIn).toBe(1)
    })

    it('takes an expires_in string only when it is all digits', () => {
      expect(read(200, { expires_in: '12x' }).expiresIn).toBe(3600)
      expect(read(200, { expires_in: 'x12' }).expiresIn).toBe(3600)
      for (const odd of ['1e3', '0x10', '12.5'])
        expect(read(200, { expires_in: odd }).expiresIn).toBe(3600)
    })

    it('keeps an expires_in from zero to ten years, a numeric string trimmed', () => {
      expect(read(200, { expires_in: 0 }).expiresIn).toBe(0)
      expect(read(200, { expires_in: ' 42 ' }).expiresIn).toBe(42)
      expect(read(200, { expires_in: 315_360_000 }).expiresIn).toBe(315_360_000)
      expect(read(200, { expires_in: 315_360_001 }).expiresIn).toBe(3600)
    })

    it('keeps a token_type of a letter and up to 30 word characters, else says Bearer', () => {
      const longest = `A${'b'.repeat(28)}.-`
      expect(read(200, { token_type: longest }).tokenType).toBe(longest)
      for (const odd of [`${longest}c`, ' Bearer', 'Bearer\n', '1Bearer', 'Bea rer', 7]) {
        expect(read(200, { token_type: odd }).tokenType).toBe('Bearer')
      }
    })
  })

  describe('a success without a token', () => {
    it('names at most ten fields, each cleaned and clipped', () => {
      const many = Object.fromEntries([...'abcdefghijkl'].map((k) => [k, 1]))
      expect(refusal(200, JSON.stringify(many)).message).toBe(
        failed('HTTP 200 without an access_token (fields: a, b, c, d, e, f, g, h, i, j).')
      )
      const odd = { 'a b<c>': 1, ['k'.repeat(50)]: 2 }
      expect(refusal(201, JSON.stringify(odd)).message).toBe(
        failed(`HTTP 201 without an access_token (fields: a?b?c?, ${'k'.repeat(37)}...).`)
      )
    })

    it('says when there are no fields, no JSON, or a token that is not text', () => {
      expect(refusal(200, '{}').message).toBe(
        failed('HTTP 200 without an access_token (fields: none).')
      )
      expect(refusal(200, 'token-0123456789').message).toBe(
        failed('HTTP 200 without an access_token (not JSON).')
      )
      expect(refusal(200, '{"access_token":5}').message).toBe(
        failed('HTTP 200 without an access_token (fields: access_token).')
      )
      expect(refusal(200, '{"access_token":""}').message).toBe(
        failed('HTTP 200 without an access_token (fields: access_token, access_token is blank).')
      )
      expect(refusal(200, '{"access_token":" \\t "}').message).toBe(
        failed('HTTP 200 without an access_token (fields: access_token, access_token is blank).')
      )
    })
  })

  describe('a transient failure', () => {
    it.each([429, 500])('retries a plain HTTP %i', (status) => {
      const error = refusal(status, '{}') as TransientError
      expect(error).toBeInstanceOf(TransientError)
      expect([error.status, error.reason, error.retryAfterMs]).toEqual([
        status,
        `HTTP ${status}`,
        undefined
      ])
      expect(error.message).toBe(failed(`HTTP ${status}. body: {}.`))
    })

    it('takes Retry-After, and names no error for HTTP 429', () => {
      const error = refusal(429, '{"error":"temporarily_unavailable"}', {
        headers: { 'retry-after': '7' }
      }) as TransientError
      expect(error).toBeInstanceOf(TransientError)
      expect([error.status, error.reason, error.retryAfterMs]).toEqual([429, 'HTTP 429', 7000])
      expect(error.message).toBe(failed('HTTP 429 temporarily_unavailable.'))
    })

    it('names the error that makes a 4xx transient, and reads the first Retry-After', () => {
      const error = refusal(428, '{"error":"temporarily_unavailable"}', {
        headers: { 'retry-after': ['3', '9'] }
      }) as TransientError
      expect(error).toBeInstanceOf(TransientError)
      expect([error.status, error.reason, error.retryAfterMs]).toEqual([
        428,
        'HTTP 428 temporarily_unavailable',
        3000
      ])
    })

    it('names the AADSTS code in the reason, and Retry-After as a date from the time sent', () => {
      const error = refusal(503, '{"error":"server_error","error_codes":[90033]}', {
        headers: { 'retry-after': new Date(SENT + 5000).toUTCString() }
      }) as TransientError
      expect(error).toBeInstanceOf(TransientError)
      expect([error.reason, error.retryAfterMs]).toEqual(['HTTP 503 (AADSTS90033)', 5000])
      expect(error.message).toBe(failed('HTTP 503 server_error. AADSTS90033.'))
    })
  })

  describe('a refusal', () => {
    it("gives the description's first sentence without its AADSTS prefix", () => {
      const body = JSON.stringify({
        error: 'invalid_request',
        error_description: 'AADSTS90002: Tenant x not found. Check it.\r\nTrace ID: abc'
      })
      expect(refusal(400, body).message).toBe(
        failed(
          "HTTP 400 invalid_request. AADSTS90002: Tenant x not found. Hint: check 'tenant-id', and 'authority-host' for a sovereign cloud (login.microsoftonline.us, login.chinacloudapi.cn)."
        )
      )
    })

    it('ends a sentence only at a dot before a space, and reads message and description', () => {
      expect(
        refusal(400, JSON.stringify({ error_description: 'AADSTS90002:Tenant x. More' })).message
      ).toMatch(/^Token request to \S+ failed: HTTP 400\. AADSTS90002: Tenant x\. Hint: /)
      expect(
        refusal(400, JSON.stringify({ error_description: '', message: 'Real text. More' })).message
      ).toBe(failed('HTTP 400. Real text.'))
      expect(
        refusal(400, JSON.stringify({ description: 'See AADSTS90002: Tenant x. More' })).message
      ).toBe(
        failed(
          "HTTP 400. AADSTS90002: See AADSTS90002: Tenant x. Hint: check 'tenant-id', and 'authority-host' for a sovereign cloud (login.microsoftonline.us, login.chinacloudapi.cn)."
        )
      )
      expect(refusal(400, JSON.stringify({ message: 'Use v1.0 endpoint. Rest' })).message).toBe(
        failed('HTTP 400. Use v1.0 endpoint.')
      )
      expect(refusal(400, JSON.stringify({ description: 'No dot at all' })).message).toBe(
        failed('HTTP 400. No dot at all.')
      )
    })

    it('ends a sentence at an exclamation or a question mark too', () => {
      expect(refusal(400, JSON.stringify({ message: 'Not allowed! Ask an admin.' })).message).toBe(
        failed('HTTP 400. Not allowed!')
      )
      const body = JSON.stringify({ error: 'what?!now', message: 'Wrong tenant? See the docs.' })
      expect(refusal(400, body).message).toBe(failed('HTTP 400 what?!now. Wrong tenant?'))
    })

    it('collapses runs of white space before it clips, and around what it quotes', () => {
      const error = ` invalid_request${' '.repeat(150)}x`
      expect(refusal(400, JSON.stringify({ error })).message).toBe(
        failed('HTTP 400 invalid_request x.')
      )
    })

    it('clips the error to 100 characters and the sentence to 300', () => {
      expect(refusal(400, JSON.stringify({ error: 'e'.repeat(120) })).message).toBe(
        failed(`HTTP 400 ${'e'.repeat(97)}.`)
      )
      expect(refusal(400, JSON.stringify({ error_description: 'x'.repeat(400) })).message).toBe(
        failed(`HTTP 400. ${'x'.repeat(297)}.`)
      )
    })

    it('gives the federation hint for a federated assertion, and the general one otherwise', () => {
      const late = JSON.stringify({ error: 'invalid_client', error_codes: [700024] })
      expect(refusal(400, late, { signer: 'federation' }).message).toBe(
        failed(
          "HTTP 400 invalid_client. AADSTS700024. Hint: the GitHub OIDC token is outside its valid time range: the runner's clock is off."
        )
      )
      expect(refusal(400, late, { signer: { thumbprint: 'A1' } }).message).toBe(
        failed(
          "HTTP 400 invalid_client. AADSTS700024. Hint: the assertion is outside its valid time range: the runner's clock is off."
        )
      )
      const tenant = JSON.stringify({ error: 'invalid_client', error_codes: [90002] })
      expect(refusal(400, tenant, { signer: 'federation' }).message).toBe(
        failed(
          "HTTP 400 invalid_client. AADSTS90002. Hint: check 'tenant-id', and 'authority-host' for a sovereign cloud (login.microsoftonline.us, login.chinacloudapi.cn)."
        )
      )
    })

    it('hints by OAuth error name, only for the names it knows', () => {
      expect(refusal(400, '{"error":"invalid_scope"}').message).toBe(
        failed(
          "HTTP 400 invalid_scope. Hint: check 'scope' against what the server allows this client."
        )
      )
      expect(refusal(400, '{"error":"constructor"}').message).toBe(failed('HTTP 400 constructor.'))
    })

    it('gives the trace and correlation IDs', () => {
      const body = JSON.stringify({ error: 'x', trace_id: 't1', correlation_id: 'c1' })
      expect(refusal(400, body).message).toBe(
        failed('HTTP 400 x. Trace ID: t1. Correlation ID: c1.')
      )
    })

    it('shows a body without error or description', () => {
      expect(refusal(400, '{"foo":"bar"}').message).toBe(failed('HTTP 400. body: {"foo":"bar"}.'))
    })

    it('redacts the secrets in the description', () => {
      const body = JSON.stringify({ error: 'x', error_description: 'has secret-value-123 in it.' })
      expect(refusal(400, body, { secrets: ['secret-value-123'] }).message).toBe(
        failed('HTTP 400 x. has *** in it.')
      )
    })
  })

  describe('a body that is not JSON', () => {
    it('quotes an HTML title, or counts bytes without text', () => {
      expect(refusal(400, '<html><title>Bad gateway</title></html>').message).toBe(
        failed('HTTP 400 (not JSON): "Bad gateway".')
      )
      expect(refusal(400, '<<<<').message).toBe(
        failed('HTTP 400 (not JSON, 4 bytes without readable text).')
      )
    })

    it('hints at a redirect for HTTP 300 to 399 only', () => {
      expect(refusal(302, '', { headers: { location: 'https://x.test/' } }).message).toBe(
        failed(
          'HTTP 302 with an empty body. Hint: the server redirects (to https://x.test/); give the final token endpoint URL.'
        )
      )
      for (const status of [300, 399]) {
        expect(refusal(status, '').message).toBe(
          failed(
            `HTTP ${status} with an empty body. Hint: the server redirects (to nowhere); give the final token endpoint URL.`
          )
        )
      }
      expect(refusal(400, '').message).toBe(failed('HTTP 400 with an empty body.'))
      expect(refusal(400, ' \r\n\t ').message).toBe(failed('HTTP 400 with an empty body.'))
    })
  })
})
