import { describe, expect, it } from '@jest/globals'
import { TokenError } from '../src/errors.js'
import {
  DEFAULT_RETRY_POLICY,
  parseHttpDate,
  parseRetryAfter,
  realRetryDeps,
  TransientError,
  withRetries,
  type RetryDeps
} from '../src/oauth/retry.js'

/** A fake clock: sleeping advances it; nothing really waits. */
function fakeDeps(overrides: Partial<RetryDeps> = {}) {
  let time = 0
  const log: string[] = []
  const slept: number[] = []
  const deps: RetryDeps = {
    policy: DEFAULT_RETRY_POLICY,
    now: () => time,
    random: () => 0.5,
    sleep: async (ms) => {
      slept.push(ms)
      time += ms
    },
    log: (line) => log.push(line),
    ...overrides
  }
  return { deps, log, slept, advance: (ms: number) => (time += ms) }
}

const transient = (cause: string, retryAfterMs?: number) =>
  new TransientError(`Token request to login.test failed: ${cause}.`, cause, 503, retryAfterMs)

describe('withRetries', () => {
  it('sends nothing once the shared deadline has passed', async () => {
    const { deps, advance } = fakeDeps({ deadline: 60_000 })
    advance(60_000)
    let attempts = 0
    await expect(withRetries(async () => attempts++, deps)).rejects.toThrow(
      new TokenError("Gave up: the 60 s limit passed before the step's next request could be sent.")
    )
    expect(attempts).toBe(0)
  })

  it('keeps to a deadline shared by the calls of one step', async () => {
    const { deps, advance } = fakeDeps({ deadline: 60_000 })
    await withRetries(async () => advance(50_000), deps)
    const timeouts: number[] = []
    await expect(
      withRetries(async (timeoutMs) => {
        timeouts.push(timeoutMs)
        advance(timeoutMs)
        throw transient('no answer')
      }, deps)
    ).rejects.toThrow(
      'Token request to login.test failed: no answer (gave up after 1 attempt: waiting 1 s more would pass the 60 s limit).'
    )
    expect(timeouts).toEqual([10_000])
  })

  it('gives up when a timer fired so late that no time is left, after 1 attempt', async () => {
    const { deps, advance } = fakeDeps()
    let calls = 0
    const failure = withRetries(
      async () => {
        calls++
        throw transient('HTTP 503')
      },
      { ...deps, sleep: async () => void advance(60_000) }
    )
    await expect(failure).rejects.toThrow(
      new TokenError(
        'Token request to login.test failed: HTTP 503 (gave up after 1 attempt: the 60 s limit passed).'
      )
    )
    await expect(failure).rejects.toHaveProperty('status', 503)
    expect(calls).toBe(1)
  })

  it('counts the attempts made when a late timer leaves no time', async () => {
    const { deps, advance } = fakeDeps()
    let calls = 0
    const failure = withRetries(
      async () => {
        calls++
        throw transient('HTTP 503')
      },
      { ...deps, sleep: async (ms) => void advance(calls === 1 ? ms : 60_000) }
    )
    await expect(failure).rejects.toThrow(
      new TokenError(
        'Token request to login.test failed: HTTP 503 (gave up after 2 attempts: the 60 s limit passed).'
      )
    )
    expect(calls).toBe(2)
  })

  it('returns the first success without waiting', async () => {
    const { deps, slept } = fakeDeps()
    await expect(withRetries(async () => 'token', deps)).resolves.toBe('token')
    expect(slept).toEqual([])
  })

  it('retries transient failures with exponential backoff and logs each retry', async () => {
    const { deps, log, slept } = fakeDeps()
    let calls = 0
    const result = await withRetries(async () => {
      if (++calls < 3) throw transient('HTTP 503')
      return 'token'
    }, deps)
    expect(result).toBe('token')
    // base 1 s doubled, jitter factor 0.75 with random() = 0.5
    expect(slept).toEqual([750, 1500])
    expect(log).toEqual([
      'Attempt 1 of 4 failed: HTTP 503; retrying in 0.8 s.',
      'Attempt 2 of 4 failed: HTTP 503; retrying in 1.5 s.'
    ])
  })

  it('honours Retry-After', async () => {
    const { deps, slept } = fakeDeps()
    let calls = 0
    await withRetries(async () => {
      if (++calls === 1) throw transient('HTTP 429', 3000)
      return 'ok'
    }, deps)
    expect(slept).toEqual([3000])
  })

  it('waits a Retry-After of exactly the longest wait', async () => {
    const { deps, slept } = fakeDeps()
    let calls = 0
    await withRetries(async () => {
      if (++calls === 1) throw transient('HTTP 429', 20_000)
      return 'ok'
    }, deps)
    expect(slept).toEqual([20_000])
  })

  it('gives up when the wait would end exactly at the total time', async () => {
    const { deps, advance, slept } = fakeDeps()
    const failure = withRetries(async () => {
      advance(40_000)
      throw transient('HTTP 429', 20_000)
    }, deps)
    await expect(failure).rejects.toThrow(
      new TokenError(
        'Token request to login.test failed: HTTP 429 (gave up after 1 attempt: waiting 20 s more would pass the 60 s limit).'
      )
    )
    expect(slept).toEqual([])
  })

  it('gives up at once when Retry-After asks for more than the longest wait', async () => {
    const { deps, slept } = fakeDeps()
    const failure = withRetries(async () => {
      throw transient('HTTP 429', 600_000)
    }, deps)
    await expect(failure).rejects.toThrow(
      'Token request to login.test failed: HTTP 429 (gave up: the server asked to wait 600 s, more than the 20 s this action waits).'
    )
    expect(slept).toEqual([])
  })

  it('stops after 4 attempts with the last cause', async () => {
    const { deps } = fakeDeps()
    let calls = 0
    const failure = withRetries(async () => {
      calls++
      throw transient('HTTP 500')
    }, deps)
    await expect(failure).rejects.toThrow(
      'Token request to login.test failed: HTTP 500 (gave up after 4 attempts).'
    )
    expect(calls).toBe(4)
  })

  it('stops when the next wait would pass the total time', async () => {
    const { deps } = fakeDeps()
    let calls = 0
    const failure = withRetries(
      async () => {
        calls++
        throw transient('HTTP 429', 45_000)
      },
      { ...deps, policy: { ...DEFAULT_RETRY_POLICY, maxDelayMs: 50_000 } }
    )
    await expect(failure).rejects.toThrow(
      'Token request to login.test failed: HTTP 429 (gave up after 2 attempts: waiting 45 s more would pass the 60 s limit).'
    )
    expect(calls).toBe(2)
  })

  it('gives each attempt at most the time that is left', async () => {
    const { deps, advance } = fakeDeps()
    const timeouts: number[] = []
    await expect(
      withRetries(async (timeoutMs) => {
        timeouts.push(timeoutMs)
        advance(timeoutMs)
        throw transient('no answer')
      }, deps)
    ).rejects.toThrow(TokenError)
    expect(timeouts[0]).toBe(15_000)
    expect(timeouts.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(60_000)
  })

  it('never retries a permanent error', async () => {
    const { deps, slept } = fakeDeps()
    let calls = 0
    const permanent = new TokenError('HTTP 401 invalid_client', 401)
    await expect(
      withRetries(async () => {
        calls++
        throw permanent
      }, deps)
    ).rejects.toBe(permanent)
    expect(calls).toBe(1)
    expect(slept).toEqual([])
  })
})

describe('parseRetryAfter', () => {
  const now = Date.parse('2026-11-22T10:00:00Z')
  it('reads delay seconds', () => expect(parseRetryAfter('7', now)).toBe(7000))
  it('reads an HTTP date', () =>
    expect(parseRetryAfter('Sun, 22 Nov 2026 10:00:05 GMT', now)).toBe(5000))
  it('treats a past date as no wait', () =>
    expect(parseRetryAfter('Sun, 22 Nov 2026 09:00:00 GMT', now)).toBe(0))
  it('reads several digits', () => expect(parseRetryAfter('120', now)).toBe(120_000))
  it('ignores what it cannot read', () => {
    expect(parseRetryAfter('xSun, 22 Nov 2026 10:00:05 GMT', now)).toBeUndefined()
    expect(parseRetryAfter('Sun, 22 Nov 2026 10:00:05 GMT+1', now)).toBeUndefined()
    expect(parseRetryAfter('Sun, 99 Foo 2026 10:00:05 GMT', now)).toBeUndefined()
    expect(parseRetryAfter('soon', now)).toBeUndefined()
    expect(parseRetryAfter('1.5', now)).toBeUndefined()
    expect(parseRetryAfter(undefined, now)).toBeUndefined()
  })
})

describe('parseHttpDate', () => {
  it('reads an IMF-fixdate with whitespace around it', () => {
    expect(parseHttpDate(' Sun, 22 Nov 2026 10:00:05 GMT\t')).toBe(
      Date.parse('2026-11-22T10:00:05Z')
    )
  })
  it('reads nothing from nothing', () => expect(parseHttpDate(undefined)).toBeUndefined())
})

describe('realRetryDeps', () => {
  it('starts the time budget now, on the real clock', () => {
    const before = Date.now()
    const deps = realRetryDeps({ ...DEFAULT_RETRY_POLICY, totalTimeMs: 30_000 })
    const after = Date.now()
    expect(deps.deadline).toBeGreaterThanOrEqual(before + 30_000)
    expect(deps.deadline).toBeLessThanOrEqual(after + 30_000)
    expect(deps.now).toBe(Date.now)
    expect(deps.random).toBe(Math.random)
    expect(realRetryDeps().policy).toBe(DEFAULT_RETRY_POLICY)
  })

  it('sleeps on a real timer', async () => {
    const start = performance.now()
    await realRetryDeps().sleep(40)
    expect(performance.now() - start).toBeGreaterThanOrEqual(35)
  })
})
