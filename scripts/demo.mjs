// The action end to end on this machine, no Azure account needed: a throwaway certificate, a local
// Entra-like HTTPS token server that checks assertions the way Entra does, and dist/index.js run
// exactly as a runner runs it. Shows what the step printed (as the runner shows it: masked values
// hidden), its outputs and summary, then a failure and how it is explained.
import { randomUUID } from 'node:crypto'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { makeCert, makeTlsCert } from '../__tests__/support/certs.js'
import { startEntraServer } from '../__tests__/support/entra-server.js'
import { ACTION, runAction } from '../__tests__/support/run-action.js'

if (!existsSync(ACTION)) {
  console.error('dist/index.js is missing: run `npm run package` first.')
  process.exit(1)
}

const bold = (/** @type {string} */ text) => (process.stdout.isTTY ? `\x1b[1m${text}\x1b[0m` : text)
const indent = (/** @type {string} */ text) => text.trimEnd().replace(/^/gm, '    ')

const dir = mkdtempSync(join(tmpdir(), 'demo-'))
const tls = makeTlsCert(dir)
const certificate = makeCert({ commonName: 'github-actions-token (demo)' })
const clientId = randomUUID()
const tenantId = randomUUID()
const server = await startEntraServer({
  apps: [{ clientId, tenantId, certificates: [certificate.cert], roles: ['Application.Read.All'] }],
  tls: { keyPem: tls.keyPem, certPem: tls.certPem }
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
  console.log(
    bold('\n   Step outputs (access-token is masked in the log; shown here by length only):')
  )
  for (const [name, value] of Object.entries(ok.outputs)) {
    console.log(
      `    ${name.padEnd(14)} ${name === 'access-token' ? `*** (${value.length} characters, a JWT)` : value}`
    )
  }
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
  console.log(`\n    exit code ${local.code}; requests sent: ${server.requests.length - before}\n`)
  process.exitCode = ok.code === 0 && failed.code === 1 && local.code === 1 ? 0 : 1
} finally {
  await server.close()
  rmSync(dir, { recursive: true, force: true })
}
