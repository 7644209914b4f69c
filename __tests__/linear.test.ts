// Work on untrusted input grows linearly with its size. Each case measures the CPU time of the same
// work at n and at 8n, several times, and compares the fastest of each: linear work takes about 8
// times as long, quadratic work 64 times. The bound (24) leaves room for a busy machine and for
// the garbage collector; it is a ratio, not a time limit.
import { describe, expect, it } from '@jest/globals'
import { loadCredential } from '../src/keys/credential.js'
import { redact } from '../src/log.js'
import { readToken } from '../src/oauth/token.js'
import { makeCert } from './support/certs.js'

const RATIO = 24

/**
 * Least CPU time a measure may span (µs). process.cpuUsage() moves in steps of the system's clock
 * tick, 10 ms on Windows (15.6 ms by default on older versions), so a short run can read as 0 or
 * as one whole tick. Repeating the work until 5 ticks have passed keeps the reading within 20% of
 * the true time: a linear ratio of 8 reads at most 8 × 1.2 / 0.8 = 12, under RATIO.
 */
const MIN_MEASURED_US = 50_000

/** The least CPU time (µs) of one run of `work`, over `rounds` measures of repeated runs. */
function cpu(work: () => unknown, rounds = 3): number {
  let least = Infinity
  for (let i = 0; i < rounds; i++) {
    const start = process.cpuUsage()
    let runs = 0
    let used = 0
    do {
      work()
      runs++
      const spent = process.cpuUsage(start)
      used = spent.user + spent.system
    } while (used < MIN_MEASURED_US)
    least = Math.min(least, used / runs)
  }
  return least
}

async function cpuAsync(work: () => Promise<unknown>, rounds = 3): Promise<number> {
  let least = Infinity
  for (let i = 0; i < rounds; i++) {
    const start = process.cpuUsage()
    let runs = 0
    let used = 0
    do {
      await work()
      runs++
      const spent = process.cpuUsage(start)
      used = spent.user + spent.system
    } while (used < MIN_MEASURED_US)
    least = Math.min(least, used / runs)
  }
  return least
}

describe('work on untrusted input is linear in its size', () => {
  it('explains an error answer with a long description and many short token strings', () => {
    const explain = (n: number) => () => {
      const body = JSON.stringify({
        error: 'invalid_client',
        error_description: `${'word '.repeat(10 * n)}end.`,
        token: Array.from({ length: n }, (_, i) => `tok-${String(i).padStart(8, '0')}`)
      })
      expect(() =>
        readToken({ status: 400, headers: {}, body }, 'Token request', 'https://x', 0, [
          'an-assertion-that-was-sent-0123456789'
        ])
      ).toThrow(/^Token request to https:\/\/x failed: HTTP 400 invalid_client\. word word/)
    }
    expect(cpu(explain(8000)) / cpu(explain(1000))).toBeLessThan(RATIO)
  })

  it('redacts text with many JWT starts and many secrets', () => {
    const secrets = Array.from({ length: 64 }, (_, i) => `secret-${String(i).padStart(12, '0')}`)
    const show = (n: number) => () => redact(`eyJ${'eyJabc.'.repeat(n)}`, secrets)
    expect(cpu(show(80_000)) / cpu(show(10_000))).toBeLessThan(RATIO)
  })

  it('refuses a PEM with many distinct certificates', async () => {
    const { keyPem, certPem } = makeCert()
    const load = (n: number) => () => {
      const blocks = Array.from(
        { length: n },
        (_, i) =>
          `-----BEGIN CERTIFICATE-----\n${Buffer.from(`c${i}`).toString('base64')}\n-----END CERTIFICATE-----\n`
      )
      return expect(
        loadCredential({ kind: 'certificate', certificate: keyPem + certPem + blocks.join('') })
      ).rejects.toThrow(`holds ${n + 1} different certificates`)
    }
    expect((await cpuAsync(load(16_000))) / (await cpuAsync(load(2000)))).toBeLessThan(RATIO)
  })
})
