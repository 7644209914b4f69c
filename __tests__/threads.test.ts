// Deriving a PFX's keys ahead, side by side: the keys the worker thread (the built
// dist/kdf-worker.js) answers are the KDF's own; what goes to the worker and what stays here; a
// worker that fails or a deadline already past leave the keys to readPfx; and openPfx answers
// exactly what readPfx answers, charging the same work, for every file of the corpus.
import { describe, expect, it } from '@jest/globals'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { derivationId, derive, type Derivation } from '../src/keys/pkcs12/kdf.js'
import { newWork, openPfx, readPfx } from '../src/keys/pkcs12/pfx.js'
import { deriveAhead, WORKER_START_COST } from '../src/keys/pkcs12/threads.js'
import { ROOT } from './support/run-action.js'

const DIR = join(ROOT, '__tests__', 'fixtures', 'pfx')
const corpus = JSON.parse(readFileSync(join(DIR, 'corpus.json'), 'utf8')) as {
  name: string
  password?: string
}[]
const WORKER = join(ROOT, 'dist', 'kdf-worker.js')
const LYING = join(ROOT, '__tests__', 'support', 'lying-kdf-worker.cjs')
const FAILING = join(ROOT, '__tests__', 'support', 'failing-kdf-worker.cjs')

const pass = Buffer.from('\0p\0w\0\0', 'latin1')
/** A PKCS#12-KDF derivation of `iterations` (SHA-1, one block), told apart by `purpose` and `salt`. */
function pkcs12(iterations: number, salt: string, purpose = 1): Derivation {
  const common = { hash: 'sha1', pass, salt: Buffer.from(salt), iterations, purpose, length: 20 }
  return { kdf: 'pkcs12', blockSize: 64, ...common }
}
const pbkdf2: Derivation = {
  kdf: 'pbkdf2',
  hash: 'sha256',
  pass: Buffer.from('pw'),
  salt: Buffer.from('salt-of-pbkdf2'),
  iterations: 1000,
  length: 32
}
const ZEROS = Buffer.alloc(20).toString('hex')

/** The keys of `derived`, by the salt of the derivation, as hex. */
function keysBySalt(planned: Derivation[], derived: Map<string, Buffer>): Record<string, string> {
  return Object.fromEntries(
    planned
      .filter((d) => derived.has(derivationId(d)))
      .map((d) => [d.salt.toString(), derived.get(derivationId(d))?.toString('hex') ?? ''])
  )
}

describe('deriveAhead', () => {
  it('gives, from the worker thread of dist/, the keys the KDF gives here', async () => {
    expect(existsSync(WORKER)).toBe(true)
    const planned = [pkcs12(200_000, 'a'), pkcs12(200_000, 'b'), pkcs12(200_000, 'c'), pbkdf2]
    const derived = await deriveAhead(planned, Infinity, WORKER)
    expect(keysBySalt(planned, derived)).toEqual(
      Object.fromEntries(planned.map((d) => [d.salt.toString(), derive(d).toString('hex')]))
    )
  })

  it('gives the worker the costliest work that it would finish sooner, counting its start', async () => {
    // Here: 400,000 (a), then c (200,000) as the worker would finish it later (250,000 + 300,000 + 200,000).
    const planned = [pkcs12(200_000, 'c'), pkcs12(400_000, 'a'), pkcs12(300_000, 'b'), pbkdf2]
    const keys = keysBySalt(planned, await deriveAhead(planned, Infinity, LYING))
    expect(keys).toEqual({
      a: derive(planned[1]).toString('hex'),
      b: ZEROS,
      c: derive(planned[0]).toString('hex'),
      'salt-of-pbkdf2': derive(pbkdf2).toString('hex')
    })
  })

  it('starts no worker for work worth less than its start', async () => {
    const small = WORKER_START_COST / 2
    const planned = [pkcs12(small, 'a'), pkcs12(small, 'b'), pkcs12(2048, 'c')]
    const keys = keysBySalt(planned, await deriveAhead(planned, Infinity, LYING))
    expect(Object.values(keys)).not.toContain(ZEROS)
    expect(Object.keys(keys)).toEqual(['a', 'b', 'c'])
  })

  it('derives everything here when there is no worker file (tests of src/)', async () => {
    const planned = [pkcs12(400_000, 'a'), pkcs12(400_000, 'b')]
    const keys = keysBySalt(planned, await deriveAhead(planned, Infinity, join(DIR, 'missing.js')))
    expect(keys).toEqual({
      a: derive(planned[0]).toString('hex'),
      b: derive(planned[1]).toString('hex')
    })
  })

  it('leaves the keys of a worker that fails to readPfx', async () => {
    const planned = [pkcs12(400_000, 'a'), pkcs12(400_000, 'b')]
    const keys = keysBySalt(planned, await deriveAhead(planned, Infinity, FAILING))
    expect(keys).toEqual({ a: derive(planned[0]).toString('hex') })
  })

  it('derives nothing once the deadline has passed', async () => {
    const planned = [pkcs12(400_000, 'a'), pkcs12(400_000, 'b'), pkcs12(400_000, 'c'), pbkdf2]
    const derived = await deriveAhead(planned, Date.now() - 1, WORKER)
    expect(derived.size).toBe(0)
  })

  it('ends the worker at the deadline, keeping what this thread derived before it', async () => {
    // Shared alternately: this thread takes a, c and e, the worker b, d and f. After a, the deadline
    // has passed: this thread stops, and ends the worker, which has three times a's work to do.
    const planned = ['a', 'b', 'c', 'd', 'e', 'f'].map((salt) => pkcs12(1_000_000, salt))
    const derived = await deriveAhead(planned, Date.now() + 50, WORKER)
    expect(keysBySalt(planned, derived)).toEqual({ a: derive(planned[0]).toString('hex') })
  })
})

describe('openPfx', () => {
  it.each(corpus.map((f) => [f.name, f.password] as const))(
    'answers for %s what readPfx answers, with the same work',
    async (name, password) => {
      const der = readFileSync(join(DIR, `${name}.pfx`))
      const ahead = newWork()
      const result = await openPfx(der, password, ahead)
      const plain = newWork()
      expect(result).toEqual(readPfx(der, password, plain))
      expect(ahead.left).toBe(plain.left)
    }
  )

  it('derives ahead the MAC key and both bags of an NSS file (five derivations, 4,200,000 hashes)', async () => {
    const work = newWork()
    const result = await openPfx(readFileSync(join(DIR, 'nss-3des.pfx')), 'corpus-pw', work)
    expect(result.ok).toBe(true)
    expect(work.derived.size).toBe(5)
  })

  it('derives nothing ahead beyond the budget: readPfx refuses the file', async () => {
    const work = newWork()
    work.left = 600_000
    const der = readFileSync(join(DIR, 'nss-3des.pfx'))
    expect(await openPfx(der, 'corpus-pw', work)).toEqual({
      ok: false,
      problem: 'work',
      detail: '600000'
    })
    expect(work.derived.size).toBe(0)
  })

  it('plans nothing for what is not a PFX, and readPfx says so', async () => {
    const work = newWork()
    expect(await openPfx(Buffer.from('not a pfx'), 'pw', work)).toEqual({
      ok: false,
      problem: 'not-pfx'
    })
    expect(work.derived.size).toBe(0)
  })
})
