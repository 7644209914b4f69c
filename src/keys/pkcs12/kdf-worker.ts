// The worker thread of threads.ts: derives the keys it is given, in order, and answers them. It
// loads pfx.js, beside it in dist/, for derive rather than carrying a second copy of the KDF.
import { parentPort, workerData } from 'node:worker_threads'
import { derive, type Derivation } from './pfx.js'

const list = workerData as Derivation[]
parentPort?.postMessage(
  list.map((d) => derive({ ...d, pass: Buffer.from(d.pass), salt: Buffer.from(d.salt) }))
)
