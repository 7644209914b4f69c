// The action end to end on this machine, no Azure account needed: a throwaway certificate, a local
// Entra-like HTTPS token server that checks assertions the way Entra does, and dist/index.js run
// exactly as a runner runs it. Shows what the step printed (as the runner shows it: masked values
// hidden), its outputs (masked ones by length only) and summary, a failure and how it is explained,
// a mistake caught before anything is sent, and identity-endpoint: a later step (its own process,
// as the runner starts it) getting a token from the service with @azure/identity, then the post
// step stopping the service.
import { randomUUID } from 'node:crypto'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { makeCert, makeTlsCert } from '../__tests__/support/certs.js'
import { startEntraServer } from '../__tests__/support/entra-server.js'
import { ACTION, ROOT, runAction, runnerLog, spawnNode } from '../__tests__/support/run-action.js'

if (!existsSync(ACTION)) {
  console.error('dist/index.js is missing: run `npm run package` first.')
  process.exit(1)
}

const bold = (/** @type {string} */ text) => (process.stdout.isTTY ? `\x1b[1m${text}\x1b[0m` : text)
const indent = (/** @type {string} */ text) => text.trimEnd().replace(/^/gm, '    ')

/** Each output, a masked one (the token, the assertion) as its length only. */
function printOutputs(/** @type {import('../__tests__/support/run-action.js').ActionRun} */ run) {
  for (const [name, value] of Object.entries(run.outputs)) {
    const shown = run.masked.includes(value) ? `*** (${value.length} characters, masked)` : value
    console.log(`    ${name.padEnd(27)} ${shown}`)
  }
}

/**
 * identity-endpoint: the main step starts the token service and exports its address; a later step,
 * a separate process with only what the runner gives it, asks it for a token with @azure/identity's
 * ManagedIdentityCredential; the post step stops it.
 * @param {Record<string, string>} inputs
 * @param {Record<string, string>} env
 * @returns {Promise<boolean>} whether every step did what it should
 */
async function identityEndpoint(inputs, env) {
  console.log(bold('\n4. identity-endpoint: a token service for the later steps of the job\n'))
  const runnerTemp = mkdtempSync(join(dir, 'runner-temp-'))
  const main = await runAction(
    { ...inputs, 'identity-endpoint': 'true' },
    { env: { ...env, RUNNER_TEMP: runnerTemp, RUNNER_TRACKING_ID: `github_${randomUUID()}` } }
  )
  console.log(indent(main.log))
  console.log(bold('\n   Exported for later steps (the masked ones by length only):'))
  for (const [name, value] of Object.entries(main.exported)) {
    const shown = main.masked.includes(value) ? `*** (${value.length} characters, masked)` : value
    console.log(`    ${name.padEnd(17)} ${shown}`)
  }
  if (main.code !== 0) return false

  const identity = import.meta.resolve('@azure/identity')
  const laterStep = `
    const { ManagedIdentityCredential } = await import(${JSON.stringify(identity)})
    const token = await new ManagedIdentityCredential().getToken('https://vault.azure.net/.default')
    console.log('Got a token for https://vault.azure.net: ' + token.token.length +
      ' characters, expires ' + new Date(token.expiresOnTimestamp).toISOString())`
  console.log(bold('\n   A later step: new ManagedIdentityCredential().getToken(vault)'))
  const later = await spawnNode(
    ['--input-type=module', '-e', laterStep],
    { PATH: process.env.PATH, ...env, ...main.exported },
    30_000
  )
  console.log(indent(later.stdout + later.stderr.split(/\r?\n/).slice(0, 3).join('\n')))

  console.log(bold('\n   The post step, at the end of the job:'))
  const post = await spawnNode(
    [join(ROOT, 'dist', 'post.js')],
    { PATH: process.env.PATH, 'STATE_identity-endpoint': main.state['identity-endpoint'] },
    30_000
  )
  console.log(indent(runnerLog(post.stdout + post.stderr, [])))
  console.log(`\n    exit codes: later step ${later.code}, post step ${post.code}\n`)
  return later.code === 0 && post.code === 0
}

const dir = mkdtempSync(join(tmpdir(), 'demo-'))
const tls = makeTlsCert(dir)
const certificate = makeCert({ commonName: 'github-actions-token (demo)' })
const clientId = randomUUID()
const tenantId = randomUUID()
const server = await startEntraServer({
  apps: [{ clientId, tenantId, certificates: [certificate.cert], roles: ['Application.Read.All'] }],
  tls: { keyPem: tls.keyPem, certPem: tls.certPem },
  resources: ['https://graph.microsoft.com', 'https://vault.azure.net']
})

try {
  const inputs = {
    'client-id': clientId,
    'tenant-id': tenantId,
    scope: 'https://graph.microsoft.com/.default',
    certificate: certificate.keyPem + certificate.certPem,
    'authority-host': server.url
  }
  const env = { NODE_EXTRA_CA_CERTS: tls.caFile }

  console.log(
    bold(`\n1. A token for Microsoft Graph from the local Entra-like server at ${server.url}`)
  )
  console.log(
    `   (a throwaway certificate, thumbprint ${certificate.cert.fingerprint.replace(/:/g, '')}, is registered there)\n`
  )
  const ok = await runAction(inputs, { env })
  console.log(bold('   What the step printed, as the runner shows it:'))
  console.log(indent(ok.log))
  console.log(bold('\n   Step outputs (the masked ones shown here by length only):'))
  printOutputs(ok)
  console.log(bold('\n   Job summary (Markdown/HTML in GITHUB_STEP_SUMMARY, as a table here):'))
  for (const [, row] of ok.summary.matchAll(/<tr>(.*?)<\/tr>/g)) {
    const [label, value] = [...row.matchAll(/<t[dh]>(.*?)<\/t[dh]>/g)].map((m) => m[1])
    console.log(`    ${label.padEnd(34)} ${value}`)
  }
  const request = server.requests.at(-1)
  console.log(bold('\n   The server checked the assertion; its header and claims were:'))
  console.log(indent(JSON.stringify(request?.assertion, null, 2)))

  console.log(
    bold('\n2. The same step with a certificate that is not uploaded to the app registration\n')
  )
  const stranger = makeCert({ commonName: 'not uploaded' })
  const failed = await runAction(
    { ...inputs, certificate: stranger.keyPem + stranger.certPem },
    { env }
  )
  console.log(indent(failed.log))
  console.log(`\n    exit code ${failed.code}`)

  console.log(bold('\n3. A mistake caught before anything is sent\n'))
  const before = server.requests.length
  const local = await runAction(
    { ...inputs, scope: 'https://graph.microsoft.com/User.Read' },
    { env }
  )
  console.log(indent(local.log))
  console.log(`\n    exit code ${local.code}; requests sent: ${server.requests.length - before}`)

  const served = await identityEndpoint(inputs, env)
  process.exitCode = ok.code === 0 && failed.code === 1 && local.code === 1 && served ? 0 : 1
} finally {
  await server.close()
  rmSync(dir, { recursive: true, force: true })
}
