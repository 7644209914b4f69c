// The parsers that take untrusted text, fuzzed with fast-check: random and adversarial inputs must
// never end in an uncaught error, the output must keep its promises (one line, no secret, bounded
// length), and large adversarial inputs (the shapes that made the old regexes quadratic or worse)
// must finish far below a generous bound.
import { describe, expect, it } from '@jest/globals'
import fc from 'fast-check'
import { randomBytes } from 'node:crypto'
import { errorCode, excerpt, parseJson, preview, tokenLike } from '../src/oauth/answer.js'
import { parsePem } from '../src/keys/pem.js'
import { loadCredential } from '../src/keys/credential.js'
import { makeCert } from './support/certs.js'
import { ActionError, InputError } from '../src/errors.js'
import { createLog, escapeLine, MAX_LINE, type LogSink } from '../src/log.js'
import { escapeHtml } from '../src/action/summary.js'
import { readToken, type HttpAnswer } from '../src/oauth/token.js'

// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/
const RUNS = { numRuns: 300 }
/** Generous: each adversarial input below takes milliseconds; the old code took minutes. */
const BOUND_MS = 5_000

/** Text rich in what attacks use: line breaks, command markers, escapes, tags, PEM armour. */
const hostileText = fc
  .array(
    fc.oneof(
      fc.string(),
      fc.constantFrom(
        '\n',
        '\r',
        '\r\n',
        '\u0085',
        '\u2028',
        '\u2029',
        '\u001b[31m',
        '::',
        '::stop-commands::x',
        '::add-mask::',
        '##[',
        '%0A',
        '<title>',
        '</title>',
        '<script>',
        '</script',
        '<',
        '>',
        '&nbsp;',
        'AADSTS700027:',
        '. ',
        '-----BEGIN ',
        '-----END ',
        'CERTIFICATE',
        'PRIVATE KEY',
        '-----',
        'Proc-Type: 4,ENCRYPTED',
        'MIIB',
        ' '
      )
    ),
    { maxLength: 40 }
  )
  .map((parts) => parts.join(''))

function time(run: () => unknown): number {
  const start = performance.now()
  run()
  return performance.now() - start
}

function recorder(): { sink: LogSink; lines: string[] } {
  const lines: string[] = []
  const push = (line: string): void => {
    lines.push(line)
  }
  return {
    lines,
    sink: {
      info: push,
      warning: push,
      error: push,
      debug: push,
      setFailed: push,
      setSecret: () => {},
      isDebug: () => true
    }
  }
}

describe('the log (src/log.ts)', () => {
  it('prints every text as one line without control characters or a leading command', () => {
    fc.assert(
      fc.property(hostileText, (text) => {
        const line = escapeLine(text)
        expect(line).not.toMatch(UNSAFE)
        expect(line.trimStart().startsWith('::')).toBe(false)
        expect(line).not.toContain('##[')
      }),
      RUNS
    )
  })

  it('never shows a secret, not even its start, wherever the line is clipped', () => {
    fc.assert(
      fc.property(
        fc.nat({ max: MAX_LINE + 100 }),
        fc.string({ maxLength: 50 }),
        (padding, suffix) => {
          const secret = `Z${randomBytes(30).toString('base64url')}`
          const { sink, lines } = recorder()
          const log = createLog(sink)
          log.secret(`${secret}\nsecond-line-of-it`)
          log.info(`${'a'.repeat(padding)}${secret}${suffix}`)
          log.fail(`second-line-of-it ${secret.slice(0, 3)}`)
          expect(lines[0].length).toBeLessThanOrEqual(MAX_LINE)
          expect(lines[0]).not.toContain(secret.slice(0, 6))
          expect(lines[1]).toBe(`*** ${secret.slice(0, 3)}`)
        }
      ),
      RUNS
    )
  })

  it('escapes every value of the job summary for HTML', () => {
    fc.assert(
      fc.property(hostileText, (text) => {
        const cell = escapeHtml(text)
        expect(cell).not.toMatch(/[<>"']/)
        expect(cell).not.toMatch(UNSAFE)
        expect(cell.replace(/&(amp|lt|gt|quot|#39);/g, '')).not.toContain('&')
      }),
      RUNS
    )
  })
})

describe('answer reading (src/oauth/answer.ts)', () => {
  it('never throws on any text, JSON or value, and keeps its bounds', () => {
    fc.assert(
      fc.property(fc.oneof(hostileText, fc.json()), fc.anything(), (text, value) => {
        expect(excerpt(text).length).toBeLessThanOrEqual(120)
        const json = parseJson(text)
        expect(preview(json ?? value).length).toBeLessThanOrEqual(200)
        expect(Array.isArray(tokenLike(value))).toBe(true)
        const code = errorCode(value, text)
        expect(code === undefined || /^\d+$/.test(code)).toBe(true)
      }),
      RUNS
    )
  })

  it('finds token-like values at any depth it walks, and never previews them', () => {
    fc.assert(
      fc.property(
        fc.nat({ max: 20 }),
        fc.constantFrom('access_token', 'id_token', 'assertion'),
        (depth, key) => {
          const secret = randomBytes(24).toString('base64url')
          let body: unknown = { [key]: secret }
          for (let i = 0; i < depth; i++) body = i % 2 ? [body] : { inner: body }
          expect(tokenLike(body)).toContain(secret)
          expect(preview(body, 10_000)).not.toContain(secret)
        }
      ),
      RUNS
    )
  })

  it("keeps positions when lower-casing changes a character's length", () => {
    // U+0130 lower-cases to two UTF-16 units: positions found in the lower-cased text must hold.
    expect(excerpt(`${'\u0130'.repeat(50)}<TITLE>Service Unavailable</TITLE>`)).toBe(
      'Service Unavailable'
    )
    expect(excerpt(`\u0130\u0130<p>one<SCRIPT>x()</SCRIPT>two</p>`)).toBe('\u0130\u0130 one two')
  })

  it('takes adversarial bodies of a megabyte in linear time', () => {
    const n = 1024 * 1024
    const bodies = [
      `<title>${'<'.repeat(n)}</title>`,
      `<title>${'<'.repeat(n)}`,
      '<script'.repeat(n / 7),
      '<style><'.repeat(n / 8),
      '<'.repeat(n),
      ' '.repeat(n) + 'x',
      '&nbsp;'.repeat(n / 6)
    ]
    for (const body of bodies) expect(time(() => excerpt(body))).toBeLessThan(BOUND_MS)
    const deep = `{"a":${'['.repeat(n / 2)}${']'.repeat(n / 2)}}`
    expect(time(() => preview(parseJson(deep)))).toBeLessThan(BOUND_MS)
    expect(time(() => tokenLike(parseJson(deep)))).toBeLessThan(BOUND_MS)
    const wide = JSON.parse(
      `{${Array.from({ length: 100_000 }, (_, i) => `"k${i}":[${i}]`).join(',')}}`
    )
    expect(time(() => tokenLike(wide))).toBeLessThan(BOUND_MS)
    expect(time(() => errorCode([1], 'AADSTS'.repeat(n / 6)))).toBeLessThan(BOUND_MS)
  })
})

describe('token answers (src/oauth/token.ts readToken)', () => {
  const answerOf = (status: number, body: string): HttpAnswer => ({ status, headers: {}, body })

  it('ends every answer in a token or a TokenError, never another error, never quoting the secret', () => {
    const secret = `S${randomBytes(24).toString('base64url')}`
    const bodies = fc.oneof(
      hostileText,
      fc.json(),
      fc.jsonValue().map((value) =>
        JSON.stringify({
          error_description: `${secret} x`,
          error_codes: [value],
          error: value,
          trace_id: value
        })
      ),
      fc
        .nat({ max: 300 })
        .map((depth) => `{"error_codes":[${'['.repeat(depth * 100)}${']'.repeat(depth * 100)}]}`)
    )
    fc.assert(
      fc.property(fc.integer({ min: -5, max: 1200 }), bodies, (status, body) => {
        try {
          const token = readToken(answerOf(status, body), 'Token request', 'https://t.test/', 0, [
            secret
          ])
          expect(token.accessToken.trim()).not.toBe('')
        } catch (error) {
          if (!(error instanceof ActionError)) throw error
          expect(error.message).not.toContain(secret.slice(0, 6))
          expect(error.message.length).toBeLessThan(2_000)
        }
      }),
      { numRuns: 500 }
    )
  })

  it('shows no 16 characters of a secret from answers with many small strings, however split', () => {
    const secret = `S${randomBytes(48).toString('base64url')}`
    const runs = new Set<string>()
    for (let i = 0; i + 16 <= secret.length; i++) runs.add(secret.slice(i, i + 16))
    fc.assert(
      fc.property(
        fc.array(fc.string({ minLength: 1, maxLength: 12 }), { maxLength: 3000 }),
        fc.nat({ max: secret.length }),
        fc.constantFrom('token', 'items', 'id_token', 'detail'),
        (strings, cut, key) => {
          const body = JSON.stringify({
            error: secret.slice(0, cut),
            error_description: `${secret.slice(cut)} ${strings.slice(0, 50).join(' ')}`,
            [key]: strings
          })
          try {
            readToken(answerOf(400, body), 'Token request', 'https://t.test/', 0, [secret])
          } catch (error) {
            if (!(error instanceof ActionError)) throw error
            const text = error.message
            for (let i = 0; i + 16 <= text.length; i++) {
              expect(runs.has(text.slice(i, i + 16))).toBe(false)
            }
          }
        }
      ),
      { numRuns: 100 }
    )
  })

  it('explains adversarial error bodies of a megabyte in linear time', () => {
    const n = 1024 * 1024
    const bodies = [
      `<html><title>${'<'.repeat(n)}</title></html>`,
      JSON.stringify({ error: 'x', error_description: 'a.'.repeat(n / 2) }),
      JSON.stringify({ error: 'x', error_description: `${'. '.repeat(n / 2)}x` }),
      JSON.stringify({ error: 'x', error_description: 'AADSTS1'.repeat(n / 7) }),
      JSON.stringify({ detail: ' .'.repeat(n / 2) }),
      `{"error_codes":[${'['.repeat(n / 4)}${']'.repeat(n / 4)}]}`
    ]
    for (const body of bodies) {
      const elapsed = time(() => {
        try {
          readToken(answerOf(400, body), 'Token request', 'https://t.test/', 0, ['s'.repeat(20)])
        } catch (error) {
          if (!(error instanceof ActionError)) throw error
        }
      })
      expect(elapsed).toBeLessThan(BOUND_MS)
    }
  })
})

describe('certificate text with many blocks (src/keys/credential.ts loadCredential)', () => {
  const { keyPem, certPem } = makeCert({ commonName: 'fuzz' })
  it('loads the key and at most 32 certificates, or refuses with an InputError, masking 64 pieces at most', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.nat({ max: 60 }), { maxLength: 400 }),
        fc.boolean(),
        async (ids, keyFirst) => {
          const extra = ids
            .map(
              (id) =>
                `-----BEGIN CERTIFICATE-----\n${Buffer.from(`c${id}`).toString('base64')}\n-----END CERTIFICATE-----\n`
            )
            .join('')
          const text = keyFirst ? keyPem + certPem + extra : extra + certPem + keyPem
          let told = 0
          try {
            const credential = await loadCredential(
              { kind: 'certificate', certificate: text },
              () => told++
            )
            expect(credential.chain.length).toBeLessThanOrEqual(32)
          } catch (error) {
            expect(error).toBeInstanceOf(InputError)
            const distinct = new Set(ids).size + 1
            if (distinct > 32) {
              expect((error as InputError).message).toContain(
                `holds ${distinct} different certificates`
              )
            }
          }
          expect(told).toBeLessThanOrEqual(64)
        }
      ),
      { numRuns: 60 }
    )
  })
})

describe('PEM parsing (src/keys/credential.ts parsePem)', () => {
  it('returns blocks or throws an InputError for any text', () => {
    fc.assert(
      fc.property(hostileText, (text) => {
        try {
          for (const block of parsePem(text, 'certificate', () => {})) {
            expect(block.pem.startsWith(`-----BEGIN ${block.label}-----\n`)).toBe(true)
          }
        } catch (error) {
          expect(error).toBeInstanceOf(InputError)
        }
      }),
      RUNS
    )
  })

  it('takes adversarial PEM text of megabytes in linear time', () => {
    const texts = [
      '-----BEGIN CERTIFICATE-----\n'.repeat(100_000),
      '-----BEGIN '.repeat(200_000),
      '-----BEGIN A-----\n-----END A-----\n'.repeat(60_000),
      `-----BEGIN CERTIFICATE-----\n${'A'.repeat(3 * 1024 * 1024)}\n-----END CERTIFICATE-----`,
      `-----BEGIN RSA PRIVATE KEY-----\n${'Proc-Type: '.repeat(200_000)}\n-----END RSA PRIVATE KEY-----`
    ]
    for (const text of texts) {
      expect(
        time(() => {
          try {
            parsePem(text, 'certificate', () => {})
          } catch (error) {
            if (!(error instanceof InputError)) throw error
          }
        })
      ).toBeLessThan(BOUND_MS)
    }
  })
})
