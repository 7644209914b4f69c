// The one door out (src/log.ts) with exact cases; fuzz.test.ts checks its properties on random text.
import { describe, expect, it } from '@jest/globals'
import { clip, createLog, escapeLine, redact, scanJwt, Secrets, type LogSink } from '../src/log.js'

function recorder() {
  const calls: string[] = []
  const sink: LogSink = {
    info: (line) => calls.push(`info ${line}`),
    warning: (line) => calls.push(`warning ${line}`),
    error: (line) => calls.push(`error ${line}`),
    debug: (line) => calls.push(`debug ${line}`),
    setFailed: (line) => calls.push(`failed ${line}`),
    setSecret: (value) => calls.push(`secret ${value}`),
    isDebug: () => false
  }
  return { sink, calls }
}

describe('escapeLine', () => {
  it('shows line breaks, separators and escapes as visible sequences', () => {
    expect(escapeLine('a\nb\rc\r\nd\u0085e\u2028f\u2029g\u001b[31mh\u0000i\u007fj\tk')).toBe(
      'a\\nb\\rc\\r\\nd\\u0085e\\u2028f\\u2029g\\u001b[31mh\\u0000i\\u007fj k'
    )
  })

  it('breaks up a workflow command at the start and the older ##[ syntax anywhere', () => {
    expect(escapeLine('  ::stop-commands::x')).toBe('>   ::stop-commands::x')
    expect(escapeLine('see ##[add-mask]x')).toBe('see #\\#[add-mask]x')
    expect(escapeLine('Got a token for a::b')).toBe('Got a token for a::b')
  })

  it('shows bidirectional overrides escaped', () => {
    expect(escapeLine('a\u202eb\u2066c')).toBe('a\\u202eb\\u2066c')
  })
})

describe('createLog', () => {
  it('masks a secret and each of its lines of 16 characters or more, and redacts them from every line after', () => {
    const { sink, calls } = recorder()
    const log = createLog(sink)
    const value = 'first-line-of-it\nsecond-line-of-it\nthe'
    expect(log.secret(value)).toBe(value)
    log.info('got first-line-of-it and second-line-of-it\nand more')
    log.warning('first-line-of-it')
    log.fail('failed: second-line-of-it, the end')
    expect(calls).toEqual([
      `secret ${value}`,
      'secret first-line-of-it',
      'secret second-line-of-it',
      // The line break belongs to a run of the secret's characters, so it is hidden with them.
      'info got *** and ***and more',
      'warning ***',
      'failed failed: ***, the end'
    ])
  })

  it('masks a JWT, each of its parts and its jti, so that no part of an assertion can be shown', () => {
    const { sink, calls } = recorder()
    const log = createLog(sink)
    const jti = '6f1c2b4a-3d5e-4f60-8a7b-9c0d1e2f3a4b'
    const header = Buffer.from('{"alg":"PS256","typ":"JWT"}').toString('base64url')
    const claims = Buffer.from(JSON.stringify({ iss: 'app', jti })).toString('base64url')
    const signature = 'S1gnature-of-the-assertion_0123456789'
    const jwt = `${header}.${claims}.${signature}`
    log.secret(jwt)
    expect(calls).toEqual([
      `secret ${jwt}`,
      `secret ${header}`,
      `secret ${claims}`,
      `secret ${signature}`,
      `secret ${jti}`
    ])
    log.info(`error: ${signature.slice(0, 18)} / description: ${signature.slice(18)}`)
    log.debug(`claims {"jti":"${jti}"}`)
    expect(calls.slice(5)).toEqual([
      'info error: *** / description: ***',
      'debug claims {"jti":"***"}'
    ])
  })

  it('masks at most 32 lines of one multi-line secret', () => {
    const { sink, calls } = recorder()
    const lines = Array.from({ length: 100 }, (_, i) => `line-${String(i).padStart(12, '0')}`)
    createLog(sink).secret(lines.join('\n'))
    expect(calls).toHaveLength(1 + 32)
    expect(calls[32]).toBe(`secret ${lines[31]}`)
  })

  it('redacts before it clips, so a secret cut by the limit shows no part of it', () => {
    const { sink, calls } = recorder()
    const log = createLog(sink)
    const secret = 'S'.repeat(100)
    log.secret(secret)
    log.info(`${'a'.repeat(3990)}${secret}`)
    expect(calls[1]).toBe(`info ${'a'.repeat(3990)}***`)
  })

  it('redacts overlapping secrets as one', () => {
    expect(redact('abcdefgh', ['abcd', 'abcdefgh'])).toBe('***')
    expect(
      redact('x abcdefghijklmnopqrstuvwxyz y', ['abcdefghijklmnopqr', 'jklmnopqrstuvwxyz'])
    ).toBe('x *** y')
  })

  it('redacts a secret of four characters or more, not a shorter one', () => {
    expect(redact('abc abcd', ['abc'])).toBe('abc abcd')
    expect(redact('abc abcd', ['abcd'])).toBe('abc ***')
  })

  it('redacts every run of 16 characters of a long secret, however it is cut or split', () => {
    const secret = 'A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6'
    expect(redact(`x${secret.slice(3, 19)}y`, [secret])).toBe('x***y')
    expect(redact(`${secret.slice(0, 20)} and ${secret.slice(20)}`, [secret])).toBe(
      `*** and ${secret.slice(20)}`
    )
    // 15 characters in a row are not enough to be told apart from ordinary text.
    expect(redact(secret.slice(0, 15), [secret])).toBe(secret.slice(0, 15))
  })

  it('redacts a JWT inside a sentence, signed or not, and leaves other text alone', () => {
    const jwt = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl'
    expect(redact(`The token ${jwt} was revoked.`, [])).toBe('The token *** was revoked.')
    expect(redact('unsigned eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0. end', [])).toBe('unsigned *** end')
    expect(redact('a JWE eyJhbGciOiJSU0EifQ.a.b.c.d here', [])).toBe('a JWE *** here')
    expect(
      redact('eyJ is not, nor eyJhbGciOiJSUzI1NiJ9 alone, nor eyJhbGciOiJSUzI1NiJ9.x', [])
    ).toBe('eyJ is not, nor eyJhbGciOiJSUzI1NiJ9 alone, nor eyJhbGciOiJSUzI1NiJ9.x')
  })

  it('reads each character a bounded number of times, however many JWT starts the text holds', () => {
    // Counted in characters scanned: a regex or a rescan from each `eyJ` reads n²/2 of them.
    const reads = (n: number): number => {
      const text = 'eyJ'.repeat(n)
      let count = 0
      for (let at = 0; at < text.length; at = Math.max(scanJwt(text, at).end, at + 1)) {
        count += scanJwt(text, at).end - at
      }
      expect(redact(text, [])).toBe(text)
      return count
    }
    expect(reads(8000)).toBeLessThanOrEqual(reads(1000) * 8)
  })

  it('stops reading once the clipped line is full', () => {
    const index = new Secrets()
    index.add('0123456789abcdefghij')
    const text = `${'x'.repeat(50)}0123456789abcdefghij${'y'.repeat(1_000_000)}`
    expect(index.show(text, 60)).toBe(`${'x'.repeat(50)}***yyyy...`)
  })

  it('clips only a text longer than the limit', () => {
    expect(clip('abcdef', 5)).toBe('ab...')
    expect(clip('abcde', 5)).toBe('abcde')
  })

  it('prints errors and debug lines through the same door', () => {
    const { sink, calls } = recorder()
    const log = createLog(sink)
    log.secret('secret-value')
    log.error('bad secret-value\n::x')
    log.debug('saw secret-value')
    expect(calls.slice(1)).toEqual(['error bad ***\\n::x', 'debug saw ***'])
  })

  it('masks each value once, and neither an empty value nor a blank line', () => {
    const { sink, calls } = recorder()
    const log = createLog(sink)
    log.secret('')
    log.secret('line-one-of-many\n   \nline-two-of-many')
    log.secret('line-one-of-many\n   \nline-two-of-many')
    log.secret('line-two-of-many')
    expect(calls).toEqual([
      'secret line-one-of-many\n   \nline-two-of-many',
      'secret line-one-of-many',
      'secret line-two-of-many'
    ])
  })
})
