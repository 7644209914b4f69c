// A PFX asks for a few key derivations, independent of one another: its MAC's and each encrypted
// part's. With NSS's and GnuTLS's defaults each costs 600,000 iterations, up to seven of them,
// and computed one after another, as readPfx meets them, they take longer than OpenSSL takes for
// the same file. Known ahead (openPfx in pfx.ts), they run side by side: PBKDF2 through
// node:crypto's asynchronous pbkdf2 (libuv's thread pool), the PKCS#12 KDF on this thread and on
// one worker thread (kdf-worker.ts). Nothing depends on this: a key missing from the answer is
// derived where readPfx needs it.
import { pbkdf2 } from 'node:crypto'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { Worker } from 'node:worker_threads'
import { derivationCost, derivationId, derive, type Derivation } from './kdf.js'

/**
 * A worker thread costs about 40 ms to start (Node 24, loading pfx.js), about what 250,000 hashes
 * of the PKCS#12 KDF cost: it takes work only beyond that.
 */
export const WORKER_START_COST = 250_000

/**
 * The worker's script, next to this file in dist/. Tests of src/ run without it, and derive
 * everything here.
 */
const WORKER_FILE = typeof __dirname === 'string' ? join(__dirname, 'kdf-worker.js') : ''

/**
 * Computes `planned` side by side, stopping at `deadline` (epoch ms).
 * @returns the keys computed, by derivationId.
 */
export async function deriveAhead(
  planned: Derivation[],
  deadline: number,
  workerFile = WORKER_FILE
): Promise<Map<string, Buffer>> {
  const derived = new Map<string, Buffer>()
  if (Date.now() > deadline) return derived
  const pending: Promise<void>[] = []
  for (const d of planned.filter((d) => d.kdf === 'pbkdf2')) {
    pending.push(
      new Promise((resolve) =>
        pbkdf2(d.pass, d.salt, d.iterations, d.length, d.hash, (error, key) => {
          if (!error) derived.set(derivationId(d), key)
          resolve()
        })
      )
    )
  }
  const [here, there] = share(planned.filter((d) => d.kdf === 'pkcs12'))
  if (there.length > 0 && workerFile && existsSync(workerFile)) {
    pending.push(inWorker(workerFile, there, deadline, derived))
  } else {
    here.push(...there)
  }
  for (const d of here) {
    if (Date.now() > deadline) break
    derived.set(derivationId(d), derive(d))
  }
  await Promise.all(pending)
  return derived
}

/**
 * Shares derivations between this thread and a worker, the costliest first, each to the one that
 * would finish it sooner; the worker starts WORKER_START_COST behind.
 */
function share(list: Derivation[]): [Derivation[], Derivation[]] {
  const here: Derivation[] = []
  const there: Derivation[] = []
  let hereCost = 0
  let thereCost = WORKER_START_COST
  for (const d of [...list].sort((a, b) => derivationCost(b) - derivationCost(a))) {
    const cost = derivationCost(d)
    if (thereCost + cost < hereCost + cost) {
      there.push(d)
      thereCost += cost
    } else {
      here.push(d)
      hereCost += cost
    }
  }
  return [here, there]
}

/** Runs `list` on a worker thread, ended at `deadline`; adds what it answers to `derived`. */
function inWorker(
  file: string,
  list: Derivation[],
  deadline: number,
  derived: Map<string, Buffer>
): Promise<void> {
  return new Promise((resolve) => {
    const worker = new Worker(file, { workerData: list })
    const timer = Number.isFinite(deadline)
      ? setTimeout(() => void worker.terminate(), Math.max(0, deadline - Date.now()))
      : undefined
    const done = (): void => {
      clearTimeout(timer)
      resolve()
    }
    worker.once('message', (keys: Uint8Array[]) => {
      keys.forEach((key, i) => derived.set(derivationId(list[i]), Buffer.from(key)))
      done()
    })
    // A worker that cannot start or fails leaves its keys to readPfx.
    worker.once('error', done)
    worker.once('exit', done)
  })
}
