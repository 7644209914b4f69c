// The built action (dist/index.js) run as the runner runs it, against the Entra-like HTTPS server.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { createHash, randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { decodeJwt, jwtVerify } from 'jose'
import { makeCert, makeTlsCert } from './support/certs.js'
import { startEntraServer } from './support/entra-server.js'
import { startProxy } from './support/proxy.js'
import { findLeaks, runAction, type ActionRun } from './support/run-action.js'

type Server = Awaited<ReturnType<typeof startEntraServer>>

const CLIENT = randomUUID()
const TENANT = randomUUID()
const dir = mkdtempSync(join(tmpdir(), 'action-'))
const tls = makeTlsCert(dir)
const ca = makeCert({ ca: true, commonName: 'Issuing CA' })
const cert = makeCert({ commonName: 'app certificate', issuer: ca })
const keyLines = cert.keyPem.split('\n').filter((l) => l.length > 40)
const env = { NODE_EXTRA_CA_CERTS: tls.caFile }

let server: Server
let inputs: Record<string, string>

beforeAll(async () => {
  server = await startEntraServer({
    apps: [{ clientId: CLIENT, tenantId: TENANT, certificates: [cert.cert] }],
    tls: { keyPem: tls.keyPem, certPem: tls.certPem }
  })
  inputs = {
    'client-id': CLIENT,
    'tenant-id': TENANT,
    scope: 'https://graph.microsoft.com/.default',
    certificate: cert.keyPem + cert.certPem + ca.certPem,
    'authority-host': server.url
  }
})
afterAll(async () => {
  await server.close()
  rmSync(dir, { recursive: true, force: true })
})

/** Every secret a run could leak: the token, each assertion sent, the key. */
function leaks(run: ActionRun): string[] {
  const assertions = server.requests.map((r) => r.form.client_assertion).filter(Boolean)
  return findLeaks(run, [run.outputs['access-token'] ?? 'none', ...assertions, ...keyLines])
}

/** Runs the action and returns the run with the requests it sent. */
async function runCounting(extra: Record<string, string | undefined>, options = { env }) {
  const before = server.requests.length
  const merged = Object.fromEntries(
    Object.entries({ ...inputs, ...extra }).filter(([, v]) => v !== undefined)
  ) as Record<string, string>
  const run = await runAction(merged, options)
  return { run, sent: server.requests.slice(before) }
}

describe('dist/index.js against an Entra-like server', () => {
  it('gets a Graph token with PS256 and x5t#S256, masks it and sets every output', async () => {
    const { run, sent } = await runCounting({})
    expect(run.code).toBe(0)
    expect(run.errors).toEqual([])
    expect(sent).toHaveLength(1)
    const token = run.outputs['access-token']
    expect(token).toBe(server.issued.at(-1))
    expect(run.outputs['token-type']).toBe('Bearer')
    expect(run.outputs['expires-in']).toBe('3599')
    expect(run.outputs['expires-on']).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
    expect(run.stdout.indexOf(`::add-mask::${token}`)).toBeGreaterThanOrEqual(0)
    // The key's lines are masked for the rest of the job, before anything is sent.
    expect(run.masked).toEqual(expect.arrayContaining(keyLines))
    expect(run.stdout.indexOf(`::add-mask::${keyLines[0]}`)).toBeLessThan(
      run.stdout.indexOf(`::add-mask::${token}`)
    )
    expect(sent[0].assertion?.header).toEqual({
      alg: 'PS256',
      typ: 'JWT',
      'x5t#S256': createHash('sha256').update(cert.cert.raw).digest('base64url')
    })
    const { payload } = await jwtVerify(sent[0].form.client_assertion, cert.cert.publicKey)
    expect(payload.exp! - payload.nbf!).toBe(600)
    expect(payload.aud).toBe(server.tokenUrl(TENANT))
    expect(run.log).toContain(
      `Got a Bearer token for 'https://graph.microsoft.com/.default' from ${server.tokenUrl(TENANT)}`
    )
    expect(leaks(run)).toEqual([])
  })

  it('signs RS256 with the SHA-1 x5t when asked', async () => {
    const { run, sent } = await runCounting({ algorithm: 'RS256' })
    expect(run.code).toBe(0)
    expect(sent[0].assertion?.header).toEqual({
      alg: 'RS256',
      typ: 'JWT',
      x5t: createHash('sha1').update(cert.cert.raw).digest('base64url')
    })
  })

  it('sends the chain in x5c with send-x5c', async () => {
    const { run, sent } = await runCounting({ 'send-x5c': 'true' })
    expect(run.code).toBe(0)
    expect(sent[0].assertion?.header.x5c).toEqual([
      cert.cert.raw.toString('base64'),
      ca.cert.raw.toString('base64')
    ])
  })

  it('reaches the default login.microsoftonline.com through HTTPS_PROXY', async () => {
    // The proxy tunnels to the local server, which presents a certificate for login.microsoftonline.com.
    const entra = makeCert({
      commonName: 'login.microsoftonline.com',
      altNames: ['DNS:login.microsoftonline.com']
    })
    const caFile = join(dir, 'entra-ca.pem')
    writeFileSync(caFile, entra.certPem)
    const local = await startEntraServer({
      apps: [{ clientId: CLIENT, tenantId: TENANT, certificates: [cert.cert] }],
      tls: { keyPem: entra.keyPem, certPem: entra.certPem }
    })
    const proxy = await startProxy({ port: Number(new URL(local.url).port) })
    try {
      const run = await runAction(
        { ...inputs, 'authority-host': '' },
        { env: { NODE_EXTRA_CA_CERTS: caFile, HTTPS_PROXY: proxy.url } }
      )
      expect(run.errors).toEqual([])
      expect(proxy.connects).toEqual(['login.microsoftonline.com:443'])
      expect(local.requests[0].assertion?.payload.aud).toBe(
        `https://login.microsoftonline.com/${TENANT}/oauth2/v2.0/token`
      )
      expect(run.outputs['access-token']).toBe(local.issued[0])
    } finally {
      await proxy.close()
      await local.close()
    }
  })

  it('says when the proxy refuses the tunnel, without retrying', async () => {
    const proxy = await startProxy({ port: 1, refuse: 407 })
    try {
      const run = await runAction(
        { ...inputs, 'authority-host': '' },
        { env: { HTTPS_PROXY: proxy.url } }
      )
      expect(run.code).toBe(1)
      expect(proxy.connects).toEqual(['login.microsoftonline.com:443'])
      expect(run.errors).toEqual([
        `Token request to https://login.microsoftonline.com/${TENANT}/oauth2/v2.0/token failed: the proxy refused to connect to login.microsoftonline.com: HTTP 407 (proxy authentication required). Check HTTPS_PROXY (and its credentials) and NO_PROXY.`
      ])
    } finally {
      await proxy.close()
    }
  })

  it.each([
    [
      'an unknown client',
      { 'client-id': randomUUID() },
      'HTTP 400 unauthorized_client. AADSTS700016: ',
      "Hint: check 'client-id', and that 'tenant-id' is the tenant that holds the app registration."
    ],
    [
      'an unknown tenant',
      { 'tenant-id': randomUUID() },
      'HTTP 400 invalid_request. AADSTS90002: ',
      "Hint: check 'tenant-id', and 'authority-host' for a sovereign cloud"
    ],
    [
      'a wrong audience',
      { audience: 'https://example.com/token' },
      'HTTP 401 invalid_client. AADSTS700023: ',
      "Hint: the assertion's audience is not the token endpoint"
    ],
    [
      'an unknown resource',
      { scope: 'https://unknown.example.com/.default' },
      'HTTP 400 invalid_resource. AADSTS500011: ',
      "Hint: the scope's resource is not in this tenant"
    ]
  ])(
    'explains %s in one line, with the trace and correlation IDs, after one request',
    async (_, extra, start, hint) => {
      const { run, sent } = await runCounting(extra)
      expect(run.code).toBe(1)
      expect(sent).toHaveLength(1)
      expect(run.errors).toHaveLength(1)
      const [error] = run.errors
      expect(error.startsWith(`Token request to ${server.url}/`)).toBe(true)
      expect(error).toContain(start)
      expect(error).toContain(hint)
      expect(error).toMatch(/ Trace ID: [0-9a-f-]{36}\. Correlation ID: [0-9a-f-]{36}\.$/)
      expect(error).not.toContain('\n')
      expect(run.stderr).toBe('')
      expect(leaks(run)).toEqual([])
    }
  )

  it.each([
    [
      'tenant-id',
      { 'tenant-id': '../x' },
      "Input 'tenant-id' must be a directory (tenant) ID GUID such as 72f988bf-86f1-41af-91ab-2d7cd011db47 or a verified domain such as contoso.onmicrosoft.com; got '../x'."
    ],
    [
      'authority-host',
      { 'authority-host': 'http://login.example.com' },
      "Input 'authority-host' must use https:// (plain http:// is allowed only for loopback hosts such as 127.0.0.1); got 'http://login.example.com'."
    ],
    [
      'algorithm',
      { algorithm: 'HS256' },
      "Input 'algorithm' must be one of PS256, RS256, ES256, ES384; got 'HS256'."
    ],
    [
      'scope',
      { scope: 'User.Read' },
      "Input 'scope' must be a resource followed by /.default for Microsoft Entra ID, e.g. 'https://graph.microsoft.com/.default' (app-only tokens carry the application permissions granted to the app); got 'User.Read'."
    ],
    [
      'client-id',
      { 'client-id': undefined },
      "Input 'client-id' is required: set it in the step's 'with:' block."
    ]
  ])(
    'refuses a bad %s with one error line, no stack trace, and no request',
    async (_, extra, message) => {
      const { run, sent } = await runCounting(extra)
      expect(run.code).toBe(1)
      expect(sent).toHaveLength(0)
      expect(run.log.trim()).toBe(`::error::${message}`)
      expect(run.stderr).toBe('')
    }
  )

  it('says the TLS certificate is not trusted, without retrying', async () => {
    const { run, sent } = await runCounting(
      {},
      { env: { NODE_EXTRA_CA_CERTS: undefined as never } }
    )
    expect(run.code).toBe(1)
    expect(sent).toHaveLength(0)
    expect(run.errors).toEqual([
      `Token request to ${server.tokenUrl(TENANT)} failed: the TLS certificate of ${new URL(server.url).host} is not trusted: DEPTH_ZERO_SELF_SIGNED_CERT (TLS certificate not trusted). A self-hosted runner behind a TLS-inspecting proxy needs its CA in NODE_EXTRA_CA_CERTS.`
    ])
  })

  it('issues a fresh jti on every run', async () => {
    const a = await runCounting({})
    const b = await runCounting({})
    const [ja, jb] = [a.sent[0], b.sent[0]].map((r) => decodeJwt(r.form.client_assertion).jti)
    expect(ja).not.toBe(jb)
  })

  it.each([
    ['GITHUB_OUTPUT', {}],
    ['GITHUB_ENV', { 'export-variable': 'GRAPH_TOKEN' }]
  ])('refuses to run without %s rather than print the token', async (name, extra) => {
    const { run, sent } = await runCounting(extra, { env: { ...env, [name]: undefined } })
    expect(run.code).toBe(1)
    expect(run.errors).toEqual([
      `${name} is not set: run this action on a GitHub Actions runner (v2.327.1 or later, for node24). The token is written to the runner's files, never printed.`
    ])
    expect(sent).toEqual([])
    expect(run.stdout).not.toMatch(/::set-(output|env)/)
  })
})
