// The one door out (src/log.ts) with exact cases; fuzz.test.ts checks its properties on random text.
import { describe, expect, it } from '@jest/globals'
import { clip, createLog, escapeLine, redact, type LogSink } from '../src/log.js'
import { isReservedVariable } from '../src/inputs.js'

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
  it('masks a secret and each of its lines, and redacts them from every line after', () => {
    const { sink, calls } = recorder()
    const log = createLog(sink)
    expect(log.secret('first-line\nsecond-line')).toBe('first-line\nsecond-line')
    log.info('got first-line and second-line\nand more')
    log.warning('first-line')
    log.fail('failed: second-line')
    expect(calls).toEqual([
      'secret first-line\nsecond-line',
      'secret first-line',
      'secret second-line',
      'info got *** and ***\\nand more',
      'warning ***',
      'failed failed: ***'
    ])
  })

  it('redacts before it clips, so a secret cut by the limit shows no part of it', () => {
    const { sink, calls } = recorder()
    const log = createLog(sink)
    const secret = 'S'.repeat(100)
    log.secret(secret)
    log.info(`${'a'.repeat(3990)}${secret}`)
    expect(calls[1]).toBe(`info ${'a'.repeat(3990)}***`)
  })

  it('redacts the longest secret first', () => {
    expect(redact('abcdefgh', ['abcd', 'abcdefgh'])).toBe('***')
  })

  it('redacts a secret of four characters or more, not a shorter one', () => {
    expect(redact('abc abcd', ['abc'])).toBe('abc abcd')
    expect(redact('abc abcd', ['abcd'])).toBe('abc ***')
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
    log.secret('line-one\n   \nline-two')
    log.secret('line-one\n   \nline-two')
    log.secret('line-two')
    expect(calls).toEqual(['secret line-one\n   \nline-two', 'secret line-one', 'secret line-two'])
  })
})

describe('isReservedVariable', () => {
  it.each([
    'PATH',
    'path',
    'LD_PRELOAD',
    'DYLD_INSERT_LIBRARIES',
    'BASH_ENV',
    'ENV',
    'NODE_OPTIONS',
    'NODE_EXTRA_CA_CERTS',
    'GIT_SSH_COMMAND',
    'HTTPS_PROXY',
    'no_proxy',
    'RUNNER_TEMP',
    'ACTIONS_RUNTIME_TOKEN',
    'GITHUB_TOKEN',
    'HOME',
    'IFS',
    'PS4',
    'PYTHONPATH',
    'PERL5OPT',
    'RUBYOPT',
    'JAVA_TOOL_OPTIONS'
  ])('refuses %s', (name) => {
    expect(isReservedVariable(name)).toBe(true)
  })

  it.each(['GRAPH_TOKEN', 'API_TOKEN', 'TOKEN', 'MY_PATH', 'PARTNER_CENTER_TOKEN', 'CCTOKEN'])(
    'accepts %s',
    (name) => {
      expect(isReservedVariable(name)).toBe(false)
    }
  )
})
