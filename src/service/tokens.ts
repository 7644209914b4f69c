// The token service's tokens: one per resource, served from memory while it has more than five
// minutes left, renewed by one request at a time per resource that concurrent callers share. The
// token server is asked sparingly: Entra throttles per app and tenant, so one step's retry loop
// must not throttle the whole app. Per resource, requests start at least MIN_INTERVAL_MS apart, a
// transient failure sets a backoff, and a refusal is answered from memory for REFUSAL_MS.
import { ActionError } from '../errors.js'
import { TransientError } from '../oauth/retry.js'

/** A token as the service holds it. */
export interface HeldToken {
  accessToken: string
  tokenType: string
  expiresOn: Date
}

/**
 * Tokens with less than this left are renewed: MSAL Python treats them as expired
 * (PROTOCOL.md §7), and a caller needs time to use what it gets.
 */
export const RENEW_BEFORE_MS = 5 * 60_000
/** A held token with more than this left is still served while its renewal fails. */
export const SERVE_STALE_MS = 60_000
/** Most resources whose tokens are held; beyond, the least recently used one is dropped. */
export const MAX_RESOURCES = 64
/** How long a refusal (a permanent failure) is answered from memory. */
export const REFUSAL_MS = 30_000
/**
 * Shortest time between two requests to the token server for one resource: only a token server
 * whose tokens live less than {@link RENEW_BEFORE_MS} is asked again so soon.
 */
export const MIN_INTERVAL_MS = 2_000
/**
 * Waits after consecutive transient failures of one resource: the first, second, third and every
 * later one. With them, a client that retries 3 times as told by Retry-After (@azure/identity)
 * spans a 30-s outage: 5 + 10 + 20 s, plus the time of the attempts.
 */
export const BACKOFF_MS = [5_000, 10_000, 20_000, 30_000]
/** The longest wait passed on from the token server's Retry-After. */
export const MAX_RETRY_AFTER_MS = 60_000
/**
 * Failed requests to the token server for resources that hold no token, in any minute, after which
 * no such resource is asked for until the minute has passed: junk resources in a loop cost the app
 * at most this many requests a minute.
 */
export const MAX_NEW_PER_MINUTE = 20
/** Most resources whose failures are remembered (a refusal, a backoff); the oldest is forgotten. */
const MAX_REMEMBERED = 256

/** What the service did for one resource, for the `post:` step's report. */
export interface ResourceReport {
  /** Tokens handed to callers. */
  served: number
  /** Tokens obtained from the token server. */
  obtained: number
  /** Requests to the token server that failed. */
  failed: number
}

/**
 * No token now, but one may come: the token server failed transiently or the service waits before
 * asking it again. The caller is to retry after {@link retryAfterMs}.
 */
export class Unavailable extends ActionError {
  constructor(
    message: string,
    /** 429 when the token server throttled (or this service's own limit), else 503. */
    readonly status: 429 | 503,
    readonly retryAfterMs: number,
    /**
     * Whether this was logged: a wait (no request sent) needs no line, and a failure shared by
     * concurrent callers one.
     */
    public reported = false
  ) {
    super(message)
  }
}

/** What is remembered of a resource's failures. */
interface Failures {
  /** No request to the token server before this time (epoch ms). */
  notBefore: number
  /** Transient failures in a row. */
  count: number
  /** The last failure: a refusal is answered again until notBefore. */
  last?: Error
  /** The status to answer while waiting: 429 after the token server's 429. */
  status: 429 | 503
}

/**
 * The service's tokens.
 * @param obtain asks the token server for a token for one resource (with the retries, deadline
 *   and explanations of the main step's request); a {@link TransientError} is a failure that may
 *   pass, any other error a refusal.
 */
export class Tokens {
  /** In order of last use, least recent first. */
  private readonly held = new Map<string, HeldToken>()
  private readonly pending = new Map<string, Promise<HeldToken>>()
  private readonly failures = new Map<string, Failures>()
  /** When each resource's last request to the token server started. */
  private readonly started = new Map<string, number>()
  /** When the requests of the last minute that failed for resources holding no token ended. */
  private newFailures: number[] = []
  readonly report = new Map<string, ResourceReport>()

  constructor(
    private readonly obtain: (resource: string) => Promise<HeldToken>,
    private readonly now: () => number = Date.now
  ) {}

  /** Holds a token obtained elsewhere (the main step's), as if it had been obtained here. */
  hold(resource: string, token: HeldToken): void {
    this.keep(resource, token)
    this.count(resource).obtained++
  }

  /**
   * A token for `resource` with more than {@link RENEW_BEFORE_MS} left, or a fresh one; while the
   * token server cannot be asked or fails, a held one with more than {@link SERVE_STALE_MS} left.
   * @throws {Unavailable} when no token can be served now but one may come.
   * @throws the token source's error for a refusal, remembered for {@link REFUSAL_MS}.
   */
  async get(resource: string): Promise<HeldToken> {
    const held = this.held.get(resource)
    if (held && this.left(held) > RENEW_BEFORE_MS) return this.serve(resource, held)
    const pending = this.pending.get(resource) ?? this.renew(resource)
    try {
      return this.serve(resource, await pending)
    } catch (error) {
      const stale = this.held.get(resource)
      if (stale && this.left(stale) > SERVE_STALE_MS) {
        return this.serve(resource, stale)
      }
      throw error
    }
  }

  /** Asks the token server, unless the resource must wait; the promise is shared by callers. */
  private renew(resource: string): Promise<HeldToken> {
    const now = this.now()
    const waited = this.failures.get(resource)
    if (waited && now < waited.notBefore) {
      return Promise.reject(
        waited.last && !(waited.last instanceof TransientError)
          ? waited.last
          : new Unavailable(
              `The token server failed for ${resource}; the service asks it again in ${seconds(waited.notBefore - now)} s.`,
              waited.status,
              waited.notBefore - now,
              true
            )
      )
    }
    const since = this.started.get(resource)
    if (since !== undefined && now - since < MIN_INTERVAL_MS) {
      return Promise.reject(
        new Unavailable(
          `A token for ${resource} was asked for ${seconds(now - since)} s ago; the service asks at most every ${seconds(MIN_INTERVAL_MS)} s.`,
          503,
          since + MIN_INTERVAL_MS - now,
          true
        )
      )
    }
    if (!this.held.has(resource)) {
      this.newFailures = this.newFailures.filter((at) => now - at < 60_000)
      if (this.newFailures.length >= MAX_NEW_PER_MINUTE) {
        return Promise.reject(
          new Unavailable(
            `The token server refused or failed ${MAX_NEW_PER_MINUTE} new resources in the last minute; the service asks for no other before the minute has passed.`,
            429,
            this.newFailures[0] + 60_000 - now,
            true
          )
        )
      }
    }
    this.started.set(resource, now)
    bound(this.started, MAX_REMEMBERED)
    const report = this.count(resource)
    const pending = this.obtain(resource).then(
      (token) => {
        this.keep(resource, token)
        this.failures.delete(resource)
        report.obtained++
        return token
      },
      (error: unknown) => {
        report.failed++
        if (!this.held.has(resource)) this.newFailures.push(this.now())
        throw this.fail(resource, error)
      }
    )
    const settled = (): void => void this.pending.delete(resource)
    pending.then(settled, settled)
    this.pending.set(resource, pending)
    return pending
  }

  /** Remembers a failure: a refusal for {@link REFUSAL_MS}, a transient one with a backoff. */
  private fail(resource: string, error: unknown): Error {
    const now = this.now()
    const previous = this.failures.get(resource)
    this.failures.delete(resource)
    if (!(error instanceof TransientError)) {
      const last = error instanceof Error ? error : new Error(String(error))
      this.failures.set(resource, { notBefore: now + REFUSAL_MS, count: 0, last, status: 503 })
      bound(this.failures, MAX_REMEMBERED)
      return last
    }
    const count = (previous?.count ?? 0) + 1
    const backoff = BACKOFF_MS[Math.min(count, BACKOFF_MS.length) - 1]
    const asked = Math.min(error.retryAfterMs ?? 0, MAX_RETRY_AFTER_MS)
    const wait = Math.max(backoff, asked)
    const status = error.status === 429 ? 429 : 503
    this.failures.set(resource, { notBefore: now + wait, count, last: error, status })
    bound(this.failures, MAX_REMEMBERED)
    return new Unavailable(error.message, status, wait)
  }

  private serve(resource: string, token: HeldToken): HeldToken {
    // Most recently used last: the eviction takes the first.
    if (this.held.get(resource) === token) {
      this.held.delete(resource)
      this.held.set(resource, token)
    }
    this.count(resource).served++
    return token
  }

  private keep(resource: string, token: HeldToken): void {
    this.held.delete(resource)
    this.held.set(resource, token)
    bound(this.held, MAX_RESOURCES)
  }

  private left(token: HeldToken): number {
    return token.expiresOn.getTime() - this.now()
  }

  private count(resource: string): ResourceReport {
    let report = this.report.get(resource)
    if (!report) {
      report = { served: 0, obtained: 0, failed: 0 }
      this.report.set(resource, report)
      // The report of a resource that holds no token goes first (junk resources in a loop).
      if (this.report.size > MAX_REMEMBERED) {
        const dropped = [...this.report.keys()].find((name) => !this.held.has(name))
        if (dropped !== undefined) this.report.delete(dropped)
      }
    }
    return report
  }
}

/** Drops the oldest entries of a map kept in order of use beyond `size`. */
function bound<V>(map: Map<string, V>, size: number): void {
  while (map.size > size) map.delete(map.keys().next().value as string)
}

function seconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000))
}
