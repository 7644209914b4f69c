// The token service's tokens: one per resource, served from memory while it has more than five
// minutes left, renewed by one request at a time per resource that concurrent callers share.

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
 * The service's tokens.
 * @param obtain asks the token server for a token for one resource (with the retries, deadline
 *   and explanations of the main step's request).
 */
export class Tokens {
  private readonly held = new Map<string, HeldToken>()
  private readonly pending = new Map<string, Promise<HeldToken>>()
  readonly report = new Map<string, ResourceReport>()

  constructor(
    private readonly obtain: (resource: string) => Promise<HeldToken>,
    private readonly now: () => number = Date.now
  ) {}

  /** Holds a token obtained elsewhere (the main step's), as if it had been obtained here. */
  hold(resource: string, token: HeldToken): void {
    this.held.set(resource, token)
    this.count(resource).obtained++
  }

  /** A token for `resource` with more than {@link RENEW_BEFORE_MS} left, or a fresh one. */
  async get(resource: string): Promise<HeldToken> {
    const report = this.count(resource)
    const held = this.held.get(resource)
    if (held && held.expiresOn.getTime() - this.now() > RENEW_BEFORE_MS) {
      report.served++
      return held
    }
    let pending = this.pending.get(resource)
    if (!pending) {
      pending = this.obtain(resource).then(
        (token) => {
          this.held.set(resource, token)
          report.obtained++
          return token
        },
        (error: unknown) => {
          report.failed++
          throw error
        }
      )
      const settled = (): void => void this.pending.delete(resource)
      pending.then(settled, settled)
      this.pending.set(resource, pending)
    }
    const token = await pending
    report.served++
    return token
  }

  private count(resource: string): ResourceReport {
    let report = this.report.get(resource)
    if (!report) {
      report = { served: 0, obtained: 0, failed: 0 }
      this.report.set(resource, report)
    }
    return report
  }
}
