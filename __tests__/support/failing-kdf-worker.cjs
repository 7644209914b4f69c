// A stand-in for dist/kdf-worker.js that fails as it starts, as a worker that cannot load pfx.js would.
throw new Error('this worker cannot start')
