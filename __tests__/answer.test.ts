// Reading a server's answer (src/oauth/answer.ts) with exact cases; fuzz.test.ts checks that every
// function stays linear and never throws on random bodies.
import { describe, expect, it } from '@jest/globals'
import { errorCode, excerpt, parseJson, preview, tokenLike } from '../src/oauth/answer.js'
import { Secrets } from '../src/log.js'

const JWT = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl'

/** `{"a":{"a":...{"a":leaf}}}` nested `depth` objects deep. */
function nested(depth: number, leaf: unknown): unknown {
  let value = leaf
  for (let i = 0; i < depth; i++) value = { a: value }
  return value
}

describe('parseJson', () => {
  it('returns a JSON object and nothing else', () => {
    expect(parseJson('{"error":"invalid_client","n":1}')).toEqual({ error: 'invalid_client', n: 1 })
    for (const body of ['[1,2]', 'null', '"text"', '42', 'true', '<html>', '']) {
      expect(parseJson(body)).toBeUndefined()
    }
  })
})

describe('tokenLike', () => {
  it('finds the strings under token-like keys, at any depth, and JWT-shaped strings anywhere', () => {
    const found = tokenLike({
      access_token: 'at-12345678',
      error: 'invalid_grant',
      nested: { deeper: { client_secret: 'cs-12345678', note: 'plain text value' } },
      list: ['plain', JWT],
      credentials: { anything: 'under-a-secret-key' },
      expires_in: 3599
    })
    expect(found.sort()).toEqual(['at-12345678', 'cs-12345678', JWT, 'under-a-secret-key'].sort())
  })

  it('leaves out values shorter than 8 characters, which would match ordinary text', () => {
    expect(tokenLike({ token: '1234567', password: '12345678' })).toEqual(['12345678'])
  })

  it('stops at 32 levels of nesting', () => {
    expect(tokenLike(nested(31, { token: 'deep-secret' }))).toEqual(['deep-secret'])
    expect(tokenLike(nested(32, { token: 'deep-secret' }))).toEqual([])
  })

  it('looks at 10,000 values at most', () => {
    // The object itself is the first value; the walk then takes its keys last one first.
    const fillers: Record<string, string> = {}
    for (let i = 0; i < 9_998; i++) fillers[`k${i}`] = 'x'
    expect(tokenLike({ token: 'value-10000', ...fillers })).toEqual(['value-10000'])
    expect(tokenLike({ token: 'value-10001', k: 'x', ...fillers })).toEqual([])
  })

  it('finds nothing in a value that is not an object or a string', () => {
    expect(tokenLike(null)).toEqual([])
    expect(tokenLike(12345678)).toEqual([])
    expect(tokenLike('short')).toEqual([])
    expect(tokenLike(JWT)).toEqual([JWT])
  })
})

describe('preview', () => {
  it('renders an answer as compact JSON with secrets written as ***', () => {
    expect(
      preview({
        error: 'invalid_client',
        error_codes: [7000215, 'x'],
        ok: false,
        none: null,
        id_token: 'abc',
        nested: { refresh_token: ['r1', { v: 'r2' }] },
        jwt: JWT
      })
    ).toBe(
      '{"error":"invalid_client","error_codes":[7000215,"x"],"ok":false,"none":null,"id_token":"***","nested":{"refresh_token":["***",{"v":"***"}]},"jwt":"***"}'
    )
  })

  it('writes JWT-shaped keys and JWTs inside values as ***', () => {
    expect(preview({ [JWT]: 'not valid here', innocent: `Bearer ${JWT}` })).toBe(
      '{"***":"not valid here","innocent":"Bearer ***"}'
    )
  })

  it('redacts the known secrets in keys and values before it cuts them', () => {
    const secrets = new Secrets()
    const token = 'T0ken-of-the-exchange-0123456789'.repeat(20)
    secrets.add(token)
    expect(preview({ [token]: 'not valid here', said: `got ${token}` }, 200, secrets)).toBe(
      '{"***":"not valid here","said":"got ***"}'
    )
  })

  it('writes nesting past four levels as ...', () => {
    expect(preview(nested(3, [1]))).toBe('{"a":{"a":{"a":[1]}}}')
    expect(preview(nested(4, [1]))).toBe('{"a":{"a":{"a":{"a":...}}}}')
    expect(preview([[[[{ a: 1 }]]]])).toBe('[[[[...]]]]')
  })

  it('clips to max characters, stopping the walk once past it', () => {
    const long = { a: 'x'.repeat(50), b: 'y'.repeat(50) }
    expect(preview(long, 30)).toBe(`{"a":"${'x'.repeat(21)}...`)
    expect(preview({ a: 1, b: 2 }, 13)).toBe('{"a":1,"b":2}')
    expect(preview({ a: 1, b: 2 }, 12)).toBe('{"a":1,"b...')
    expect(preview([1, 2, 3, 4, 5, 6], 6)).toBe('[1,...')
    expect(preview({ ['k'.repeat(40)]: 1 }, 10)).toBe('{"kkkkk...')
  })

  it('shows only own properties, and nothing for other values', () => {
    const withProto = Object.create({ inherited: 1 }) as Record<string, unknown>
    withProto.own = 2
    expect(preview(withProto)).toBe('{"own":2}')
    expect(preview(undefined)).toBe('')
    expect(preview(() => 1)).toBe('')
  })
})

describe('errorCode', () => {
  it('takes the first error_codes item when it is a plain number', () => {
    expect(errorCode([700027, 50011], 'AADSTS50011: other')).toBe('700027')
    expect(errorCode(['700024'], undefined)).toBe('700024')
    expect(errorCode([0], undefined)).toBe('0')
  })

  it('falls back to the first AADSTS code of the description', () => {
    expect(errorCode([-1], 'AADSTS7000215: Invalid client secret. AADSTS1')).toBe('7000215')
    expect(errorCode([1.5], 'AADSTS700016: x')).toBe('700016')
    expect(errorCode([2 ** 53], 'AADSTS50012: x')).toBe('50012')
    expect(errorCode(['12a'], 'AADSTS50012: x')).toBe('50012')
    expect(errorCode(['1234567890123'], 'AADSTS50012: x')).toBe('50012')
    expect(errorCode('700027', 'AADSTS50012: x')).toBe('50012')
    expect(errorCode([], 'no code here')).toBeUndefined()
    expect(errorCode(undefined, undefined)).toBeUndefined()
  })
})

describe('excerpt', () => {
  it('takes the title of an HTML page, whatever the case of its tags', () => {
    expect(excerpt('<html><head><TITLE>502 Bad  Gateway</Title></head><body>x</body></html>')).toBe(
      '502 Bad Gateway'
    )
  })

  it('takes the text without tags, scripts and styles when there is no title', () => {
    expect(
      excerpt(
        '<body><p>Service&nbsp;down</p><script>var a = "<p>no</p>"</script><STYLE>p{}</STYLE>\n  retry <b>later</b></body>'
      )
    ).toBe('Service down retry later')
  })

  it('takes a title at the very start, and reads a closing title tag alone as a tag', () => {
    expect(excerpt('<title>Too many requests</title> rest')).toBe('Too many requests')
    expect(excerpt('a>b</title>c')).toBe('a>b c')
  })

  it('skips a script or a style at the very start', () => {
    expect(excerpt('<script>x</script>after')).toBe('after')
    expect(excerpt('<style>p{}</style>after')).toBe('after')
  })

  it('reads a title without its closing tag, or without its >, as text', () => {
    expect(excerpt('<title>Oops')).toBe('Oops')
    expect(excerpt('before <title')).toBe('before')
  })

  it('lets an unclosed script or tag swallow the rest, as a browser would', () => {
    expect(excerpt('a <script>never closed')).toBe('a')
    expect(excerpt('a <b never closed')).toBe('a')
    expect(excerpt('a <script>x</script> b <script>y</script> c')).toBe('a b c')
  })

  it('clips to max characters and looks at the first 64 KiB only', () => {
    expect(excerpt('abcdefghij', 8)).toBe('abcde...')
    expect(excerpt('abcdefgh', 8)).toBe('abcdefgh')
    expect(excerpt(`${' '.repeat(64 * 1024)}hidden`)).toBe('')
    expect(excerpt(`${' '.repeat(64 * 1024 - 6)}shown!`)).toBe('shown!')
  })
})
