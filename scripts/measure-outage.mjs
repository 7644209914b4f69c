// Measures how long a later step's @azure/identity ManagedIdentityCredential takes to get a token
// through the token service (dist/, started by the main step as the runner does) while the
// Entra-like token server answers every token request with 503 for OUTAGE seconds, then recovers.
//
//   node scripts/build.mjs && node scripts/measure-outage.mjs [OUTAGE seconds, default 30] [503|429] [python]
//
// With `python`, the client is Python's azure-identity (__tests__/support/mi_client.py) instead.
import { execFile } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { makeCert, makeTlsCert } from '../__tests__/support/certs.js'
import { startEntraServer } from '../__tests__/support/entra-server.js'
import { ROOT, runAction, spawnNode } from '../__tests__/support/run-action.js'

const outageSeconds = Number(process.argv[2] ?? 30)
const status = Number(process.argv[3] ?? 503)
const python = process.argv[4] === 'python'
/** Debian's Python, which has python3-azure, as the tests use it. */
const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3'
const clientId = randomUUID()
const tenantId = randomUUID()
const dir = mkdtempSync(join(tmpdir(), 'measure-outage-'))
const tls = makeTlsCert(dir)
const cert = makeCert({ commonName: 'outage app' })
const resource = 'https://vault.azure.net'
const server = await startEntraServer({
  apps: [{ clientId, tenantId, certificates: [cert.cert] }],
  tls: { keyPem: tls.keyPem, certPem: tls.certPem },
  resources: ['https://graph.microsoft.com', resource]
})
const temp = mkdtempSync(join(dir, 'runner-temp-'))
const main = await runAction(
  {
    'client-id': clientId,
    'tenant-id': tenantId,
    'authority-host': server.url,
    certificate: cert.keyPem + cert.certPem,
    scope: 'https://graph.microsoft.com/.default',
    'identity-endpoint': 'true'
  },
  { env: { NODE_EXTRA_CA_CERTS: tls.caFile, RUNNER_TEMP: temp } }
)
const state = main.state['identity-endpoint']
try {
  const asked = server.requests.length
  const began = Date.now()
  const outage = setInterval(() => server.faults.push({ status }), 10)
  setTimeout(() => {
    clearInterval(outage)
    server.faults.length = 0
  }, outageSeconds * 1000)
  const env = { PATH: process.env.PATH, NODE_EXTRA_CA_CERTS: tls.caFile, ...main.exported }
  const run = python
    ? await new Promise((resolve) =>
        execFile(
          PYTHON,
          [join(ROOT, '__tests__', 'support', 'mi_client.py'), resource],
          { env, timeout: 300_000 },
          (_, stdout) => resolve({ stdout })
        )
      )
    : await spawnNode(
        [
          join(ROOT, '__tests__', 'support', 'mi-clients.mjs'),
          'managed-identity-credential',
          resource
        ],
        env,
        300_000
      )
  const line = String(run.stdout).trim()
  const outcome = line.startsWith('{') ? 'got a token' : line
  console.log(
    `${outageSeconds}-s ${status} outage: ${python ? "Python's azure-identity" : '@azure/identity'} ${outcome} after ${((Date.now() - began) / 1000).toFixed(1)} s; ${server.requests.length - asked} token requests reached the token server.`
  )
} finally {
  const summary = join(temp, 'summary.md')
  writeFileSync(summary, '')
  await spawnNode(
    [join(ROOT, 'dist', 'post.js')],
    { PATH: process.env.PATH, 'STATE_identity-endpoint': state, GITHUB_STEP_SUMMARY: summary },
    30_000
  )
  await server.close()
  rmSync(dir, { recursive: true, force: true })
}
