// A stand-in for dist/kdf-worker.js that answers a key of zeros for each derivation it is given,
// so that a test can see which derivations went to the worker thread.
const { parentPort, workerData } = require('node:worker_threads')
parentPort?.postMessage(
  workerData.map((/** @type {{ length: number }} */ d) => new Uint8Array(d.length))
)
