import { TokenError } from '../errors.js'

/** Bounds of the retry loop. */
export interface RetryPolicy {
  /** Attempts in all, the first included. */
  maxAttempts: number
  /** How long one attempt may take before it is abandoned. */
  attemptTimeoutMs: number
  /** How long all attempts and waits together may take. */
  totalTimeMs: number
  /** First backoff delay; doubled after each attempt, with jitter. */
  baseDelayMs: number
  /** Longest wait between attempts, `Retry-After` included. */
  maxDelayMs: number
}

/** Defaults: 4 attempts, 15 s each, about a minute in all. */
export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  maxAttempts: 4,
  attemptTimeoutMs: 15_000,
  totalTimeMs: 60_000,
  baseDelayMs: 1_000,
  maxDelayMs: 20_000
}

/** A transient failure that may carry the server's `Retry-After`. */
export class TransientError extends TokenError {
  constructor(
    message: string,
    /** What to log about it: `HTTP 503`, `ECONNRESET (connection reset)`, `no answer within 15 s`. */
    readonly reason: string,
    status?: number,
    /** The server's `Retry-After`, in milliseconds. */
    readonly retryAfterMs?: number
  ) {
    super(message, status)
  }
}

/** Collaborators of the retry loop, injectable for tests. */
export interface RetryDeps {
  policy: RetryPolicy
  sleep: (ms: number) => Promise<void>
  now: () => number
  random: () => number
  /** One line per retry, printed through the run's log (src/log.ts), which escapes server text. */
  log: (line: string) => void
  /**
   * When the whole step's time runs out (epoch ms), shared by every request of the step (the token
   * request and the exchange), so together they keep to {@link RetryPolicy.totalTimeMs}; absent:
   * each call to {@link withRetries} has its own.
   */
  deadline?: number
}

/** The real clock and timer; the step's time budget starts now. */
export const realRetryDeps = (
  policy: RetryPolicy = DEFAULT_RETRY_POLICY,
  log: (line: string) => void = () => {}
): RetryDeps => ({
  policy,
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  now: Date.now,
  random: Math.random,
  log,
  deadline: Date.now() + policy.totalTimeMs
})

/**
 * Runs `attempt` until it succeeds, fails with a permanent error, or the attempts or the time run
 * out. Only a {@link TransientError} is retried; the wait honours its `retryAfterMs` (capped),
 * otherwise it is exponential with jitter. `attempt` receives the time it may take, in ms.
 */
export async function withRetries<T>(
  attempt: (timeoutMs: number, attemptNumber: number) => Promise<T>,
  deps: RetryDeps
): Promise<T> {
  const { policy } = deps
  const deadline = Math.min(deps.deadline ?? Infinity, deps.now() + policy.totalTimeMs)
  let last: TransientError | undefined
  for (let n = 1; ; n++) {
    // No time left (a later request of the step, such as the exchange, or a timer that fired
    // late): an attempt could only fail as "no answer within 0 s".
    const remaining = deadline - deps.now()
    if (remaining <= 0) {
      const limit = `the ${seconds(policy.totalTimeMs)} s limit passed`
      if (last === undefined) {
        throw new TokenError(`Gave up: ${limit} before the step's next request could be sent.`)
      }
      const tries = `${n - 1} attempt${n === 2 ? '' : 's'}`
      throw giveUp(last, `gave up after ${tries}: ${limit}`)
    }
    const timeoutMs = Math.min(policy.attemptTimeoutMs, remaining)
    try {
      return await attempt(timeoutMs, n)
    } catch (error) {
      if (!(error instanceof TransientError)) throw error
      last = error
      const backoff = policy.baseDelayMs * 2 ** (n - 1) * (0.5 + deps.random() / 2)
      const wait = error.retryAfterMs ?? Math.min(policy.maxDelayMs, backoff)
      const left = deadline - deps.now()
      let why: string | undefined
      if (n >= policy.maxAttempts) why = `gave up after ${n} attempts`
      else if (wait > policy.maxDelayMs) {
        // Calling again before the server's Retry-After would only prolong the throttling.
        why = `gave up: the server asked to wait ${seconds(wait)} s, more than the ${seconds(policy.maxDelayMs)} s this action waits`
      } else if (wait >= left) {
        why = `gave up after ${n} attempt${n === 1 ? '' : 's'}: waiting ${seconds(wait)} s more would pass the ${seconds(policy.totalTimeMs)} s limit`
      }
      if (why) throw giveUp(error, why)
      deps.log(
        `Attempt ${n} of ${policy.maxAttempts} failed: ${error.reason}; retrying in ${(wait / 1000).toFixed(1)} s.`
      )
      await deps.sleep(wait)
    }
  }
}

/**
 * The error of a retry loop that gave up on a transient failure: still a {@link TransientError},
 * with the server's status and `Retry-After`, so that a caller that answers others (the token
 * service) passes it on as one that may pass.
 */
function giveUp(last: TransientError, why: string): TransientError {
  return new TransientError(
    `${last.message.replace(/\.$/, '')} (${why}).`,
    last.reason,
    last.status,
    last.retryAfterMs
  )
}

/**
 * Reads `Retry-After` (RFC 9110 §10.2.3): delay seconds or an HTTP date.
 * @returns milliseconds to wait, or undefined when absent or unreadable.
 */
export function parseRetryAfter(value: string | undefined, now: number): number | undefined {
  if (value === undefined) return undefined
  const text = value.trim()
  if (/^\d+$/.test(text)) return Number(text) * 1000
  const date = parseHttpDate(text)
  return date === undefined ? undefined : Math.max(0, date - now)
}

/**
 * Reads an HTTP date (`Date`, `Retry-After`; RFC 9110 §5.6.7) in the IMF-fixdate form servers send
 * (`Sun, 06 Nov 1994 08:49:37 GMT`), and only that: Date.parse reads nearly anything, `1.5`
 * included, as some date.
 * @returns milliseconds since the epoch, or undefined.
 */
export function parseHttpDate(value: string | undefined): number | undefined {
  // Stryker disable next-line StringLiteral: any text that is not an HTTP date gives undefined
  const text = value?.trim() ?? ''
  if (!/^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/.test(text))
    return undefined
  const time = Date.parse(text)
  return Number.isNaN(time) ? undefined : time
}

function seconds(ms: number): string {
  return String(Math.round(ms / 1000))
}
