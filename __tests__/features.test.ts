// Partner Center exchange, GitHub OIDC federation, export-variable and the job summary, each end to
// end through dist/index.js against the Entra-like HTTPS server (which also plays Partner Center
// and the runner's OIDC token endpoint).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createLocalJWKSet, jwtVerify } from 'jose'
import { makeCert, makeTlsCert } from './support/certs.js'
import { startEntraServer } from './support/entra-server.js'
import { findLeaks, runAction, type ActionRun } from './support/run-action.js'

type Server = Awaited<ReturnType<typeof startEntraServer>>

const CLIENT = randomUUID()
const FEDERATED_CLIENT = randomUUID()
const TENANT = randomUUID()
const tlsDir = mkdtempSync(join(tmpdir(), 'features-'))
const tls = makeTlsCert(tlsDir)
const cert = makeCert({ commonName: 'features' })
const keyLines = cert.keyPem.split('\n').filter((l) => l.length > 40)
const env = { NODE_EXTRA_CA_CERTS: tls.caFile }

let server: Server
let base: Record<string, string>

beforeAll(async () => {
  server = await startEntraServer({
    apps: [
      {
        clientId: CLIENT,
        tenantId: TENANT,
        certificates: [cert.cert],
        roles: ['Synchronization.ReadWrite.All']
      }
    ],
    tls: { keyPem: tls.keyPem, certPem: tls.certPem }
  })
  server.apps.push({
    clientId: FEDERATED_CLIENT,
    tenantId: TENANT,
    certificates: [],
    federated: {}
  })
  base = {
    'client-id': CLIENT,
    'tenant-id': TENANT,
    scope: 'https://graph.microsoft.com/.default',
    certificate: cert.keyPem + cert.certPem,
    'authority-host': server.url
  }
})
afterAll(async () => {
  await server.close()
  rmSync(tlsDir, { recursive: true, force: true })
})

/** Every secret of the run: tokens issued, assertions and OIDC tokens sent, the key. */
function leaks(run: ActionRun): string[] {
  const assertions = server.requests.map((r) => r.form.client_assertion).filter(Boolean)
  return findLeaks(run, [...server.issued, ...server.idTokens, ...assertions, ...keyLines])
}

describe('Partner Center exchange', () => {
  it('exchanges the Entra token and outputs the masked Partner Center token', async () => {
    const before = server.requests.length
    const run = await runAction(
      {
        ...base,
        scope: 'https://api.partner.microsoft.com/.default',
        'exchange-url': server.exchangeUrl
      },
      { env }
    )
    expect(run.code).toBe(0)
    const [token, exchange] = server.requests.slice(before)
    expect(token.path).toBe(`/${TENANT}/oauth2/v2.0/token`)
    expect(exchange.path).toBe('/generatetoken')
    expect(exchange.headers.authorization).toBe(`Bearer ${run.outputs['access-token']}`)
    expect(exchange.headers.accept).toBe('application/json')
    expect(exchange.form).toEqual({ grant_type: 'jwt_token' })
    expect(run.outputs['exchanged-token']).toBe(server.issued.at(-1))
    expect(run.outputs['exchanged-expires-in']).toBe('899')
    expect(run.masked).toEqual(
      expect.arrayContaining([run.outputs['access-token'], run.outputs['exchanged-token']])
    )
    expect(leaks(run)).toEqual([])
  })

  it('explains a refused exchange without retrying it', async () => {
    const before = server.requests.length
    const run = await runAction({ ...base, 'exchange-url': server.exchangeUrl }, { env })
    expect(run.code).toBe(1)
    expect(server.requests.slice(before).map((r) => r.path)).toEqual([
      `/${TENANT}/oauth2/v2.0/token`,
      '/generatetoken'
    ])
    expect(run.errors).toHaveLength(1)
    expect(run.errors[0]).toMatch(
      new RegExp(
        `^Token exchange to ${server.exchangeUrl.replace(/[.?]/g, '\\$&')} failed: HTTP 401 invalid_grant\\. `
      )
    )
    expect(leaks(run)).toEqual([])
  })
})

describe('GitHub OIDC federation', () => {
  const oidcEnv = () => ({
    ...env,
    ACTIONS_ID_TOKEN_REQUEST_URL: server.oidcRequestUrl,
    ACTIONS_ID_TOKEN_REQUEST_TOKEN: server.oidcRequestToken
  })
  const federated = () => ({ ...base, 'client-id': FEDERATED_CLIENT, certificate: '' })

  it('sends the runner OIDC token as the assertion when no certificate is given', async () => {
    const before = server.requests.length
    const run = await runAction(federated(), { env: oidcEnv() })
    expect(run.errors).toEqual([])
    expect(run.code).toBe(0)
    const sent = server.requests.slice(before)
    expect(sent.map((r) => r.path.split('?')[0])).toEqual([
      '/oidc-token',
      `/${TENANT}/oauth2/v2.0/token`
    ])
    expect(sent[0].headers.authorization).toBe(`Bearer ${server.oidcRequestToken}`)
    const assertion = sent[1].form.client_assertion
    expect(assertion).toBe(server.idTokens.at(-1))
    const { payload } = await jwtVerify(assertion, createLocalJWKSet(server.githubJwks))
    expect(payload.aud).toBe('api://AzureADTokenExchange')
    expect(run.masked).toContain(assertion)
    expect(run.outputs['access-token']).toBe(server.issued.at(-1))
    expect(run.summary).toContain('<td>Credential</td><td>GitHub OIDC token (federation)</td>')
    expect(run.log.split(/\r?\n/)).toContain(
      'No certificate was given, so the GitHub OIDC token is the assertion (federation); a certificate from an empty secret looks the same.'
    )
    expect(leaks(run)).toEqual([])
  })

  it('asks the runner for the oidc-audience given', async () => {
    const run = await runAction(
      { ...federated(), 'oidc-audience': 'api://custom-audience' },
      { env: oidcEnv() }
    )
    // The app's federated credential expects the default audience, so Entra refuses it.
    expect(run.code).toBe(1)
    const { payload } = await jwtVerify(
      server.idTokens.at(-1)!,
      createLocalJWKSet(server.githubJwks)
    )
    expect(payload.aud).toBe('api://custom-audience')
    expect(run.errors[0]).toContain('AADSTS70021')
    expect(run.errors[0]).toMatch(
      /Hint: no federated credential of the app matches this workflow: .* Federation was used because no certificate was given; if the certificate comes from a secret, that secret is empty in this run \(forks, Dependabot, a misspelt name, or an environment secret outside its environment\)\. Trace ID: /
    )
    expect(leaks(run)).toEqual([])
  })

  it.each([
    ['private-key', 'key-pem'],
    ['certificate-password', 'pfx-password']
  ])(
    'takes %s without a certificate for an empty certificate secret, before anything is sent',
    async (input, value) => {
      const before = server.requests.length
      // What the runner passes for `certificate: ${{ secrets.MISSING }}`: the input, empty.
      const run = await runAction({ ...federated(), [input]: value }, { env: oidcEnv() })
      expect(run.code).toBe(1)
      expect(server.requests.length).toBe(before)
      expect(run.log.split(/\r?\n/).filter((line) => line.startsWith('::error::'))).toEqual([
        `::error::Input '${input}' is set but 'certificate' and 'certificate-file' are empty. If the certificate comes from a secret, that secret is empty in this run: pull requests from forks and Dependabot get no secrets, the secret's name may be misspelt, or it is an environment secret and the job has no 'environment:' naming that environment. Set 'certificate' (or 'certificate-file') to the certificate PEM too; the thumbprint the server matches comes from the certificate.`
      ])
    }
  )

  it("refuses 'audience' with federation before asking the runner for a token", async () => {
    const before = server.requests.length
    const run = await runAction(
      { ...federated(), audience: 'api://AzureADTokenExchange' },
      { env: oidcEnv() }
    )
    expect(run.code).toBe(1)
    expect(server.requests.length).toBe(before)
    expect(run.errors).toEqual([
      "Input 'audience' is the 'aud' of an assertion signed with a certificate, and no certificate is given: with GitHub OIDC federation the assertion is the GitHub OIDC token, whose audience is 'oidc-audience' (default api://AzureADTokenExchange). Use 'oidc-audience' instead, or set 'certificate'."
    ])
  })

  it('says both ways out when the job has no id-token permission', async () => {
    const before = server.requests.length
    const run = await runAction(federated(), { env })
    expect(run.code).toBe(1)
    expect(server.requests.length).toBe(before)
    expect(run.log.trim()).toBe(
      "::error::No credential: 'certificate' and 'certificate-file' are empty, and the job has no GitHub OIDC token. If the certificate comes from a secret, that secret is empty in this run: pull requests from forks and Dependabot get no secrets, the secret's name may be misspelt, or it is an environment secret and the job has no 'environment:' naming that environment. To sign in without a certificate, add 'permissions: id-token: write' to the job to use GitHub OIDC federation."
    )
  })
})

describe('export-variable', () => {
  it('exports the token to GITHUB_ENV under the name given', async () => {
    const run = await runAction({ ...base, 'export-variable': 'GRAPH_TOKEN' }, { env })
    expect(run.code).toBe(0)
    expect(run.exported).toEqual({ GRAPH_TOKEN: run.outputs['access-token'] })
    expect(run.log).toContain('Exported the token as $GRAPH_TOKEN for later steps.')
    expect(leaks(run)).toEqual([])
  })

  it('writes nothing to GITHUB_ENV without it', async () => {
    const run = await runAction(base, { env })
    expect(run.code).toBe(0)
    expect(run.exported).toEqual({})
  })

  it('refuses a name that is not a variable name, before any request', async () => {
    const before = server.requests.length
    const run = await runAction({ ...base, 'export-variable': 'graph token' }, { env })
    expect(run.code).toBe(1)
    expect(server.requests.length).toBe(before)
    expect(run.errors).toEqual([
      "Input 'export-variable' must be a name in capitals that ends in _TOKEN, e.g. GRAPH_TOKEN or ARM_ACCESS_TOKEN: a name that says it holds a token is one that no tool reads as a program, a path or its settings; got 'graph token'."
    ])
  })
})

describe('job summary', () => {
  it('shows the request, the decoded token claims and the certificate, and nothing secret', async () => {
    const run = await runAction(base, { env })
    expect(run.code).toBe(0)
    const rows = Object.fromEntries(
      [...run.summary.matchAll(/<tr><td>(.*?)<\/td><td>(.*?)<\/td><\/tr>/g)].map((m) => [
        m[1],
        m[2]
      ])
    )
    expect(rows).toEqual({
      'Client ID': CLIENT,
      Tenant: TENANT,
      'Token endpoint': server.tokenUrl(TENANT),
      Scope: 'https://graph.microsoft.com/.default',
      Credential: 'certificate',
      'Token audience': 'https://graph.microsoft.com',
      'Token roles': 'Synchronization.ReadWrite.All',
      'Token expires': `${run.outputs['expires-on']} (in 3599 s)`,
      'Certificate subject': 'CN=features',
      'Certificate thumbprint (SHA-1)': cert.cert.fingerprint.replace(/:/g, ''),
      'Certificate thumbprint (SHA-256)': cert.cert.fingerprint256.replace(/:/g, ''),
      'Certificate expires': new Date(cert.cert.validTo).toISOString()
    })
    expect(leaks(run)).toEqual([])
  })
})
