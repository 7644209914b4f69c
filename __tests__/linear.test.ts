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

/** The least CPU time (µs) of `runs` runs of `work`. */
function cpu(work: () => unknown, runs = 3): number {
  let least = Infinity
  for (let i = 0; i < runs; i++) {
    const start = process.cpuUsage()
    work()
    const used = process.cpuUsage(start)
    least = Math.min(least, used.user + used.system)
  }
  return Math.max(least, 1)
}

async function cpuAsync(work: () => Promise<unknown>, runs = 3): Promise<number> {
  let least = Infinity
  for (let i = 0; i < runs; i++) {
    const start = process.cpuUsage()
    await work()
    const used = process.cpuUsage(start)
    least = Math.min(least, used.user + used.system)
  }
  return Math.max(least, 1)
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
