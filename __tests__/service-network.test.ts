// The token service's network behaviour, as the runner runs it (dist/index.js starts it, dist/post.js
// stops it): connections that send nothing, a request line alone or headers a byte at a time; a
// flood of 3,000 idle sockets while a later step's real client (@azure/identity) signs in; and an
// Entra-like token server that answers 503 or 429 for a few seconds, then recovers.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { request } from 'node:http'
import { connect, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { makeCert, makeTlsCert } from './support/certs.js'
import { startEntraServer } from './support/entra-server.js'
import { ROOT, spawnNode } from './support/run-action.js'
import { startService, stopService, type Started } from './support/token-service.js'

type Server = Awaited<ReturnType<typeof startEntraServer>>

const CLIENT = randomUUID()
const TENANT = randomUUID()
const dir = mkdtempSync(join(tmpdir(), 'service-network-'))
const tls = makeTlsCert(dir)
const cert = makeCert({ commonName: 'service network app' })
const VAULT = 'https://vault.azure.net'

let server: Server

beforeAll(async () => {
  server = await startEntraServer({
    apps: [{ clientId: CLIENT, tenantId: TENANT, certificates: [cert.cert] }],
    tls: { keyPem: tls.keyPem, certPem: tls.certPem },
    resources: ['https://graph.microsoft.com', VAULT]
  })
})
afterAll(async () => {
  await server.close()
  rmSync(dir, { recursive: true, force: true })
})

/** The main step with identity-endpoint, as the runner runs it. */
function start(): Promise<Started> {
  return startService({
    dir,
    inputs: {
      'client-id': CLIENT,
      'tenant-id': TENANT,
      'authority-host': server.url,
      certificate: cert.keyPem + cert.certPem,
      scope: 'https://graph.microsoft.com/.default'
    },
    env: { NODE_EXTRA_CA_CERTS: tls.caFile }
  })
}

const post = stopService

/** A later step signing in with @azure/identity's ManagedIdentityCredential, timed. */
async function signIn(started: Started, resource: string) {
  const began = Date.now()
  const run = await spawnNode(
    [join(ROOT, '__tests__', 'support', 'mi-clients.mjs'), 'managed-identity-credential', resource],
    started.stepEnv,
    120_000
  )
  return { line: run.stdout.trim(), ms: Date.now() - began }
}

/** One raw request to the service: its status, Retry-After and body. */
function ask(started: Started, resource: string) {
  return new Promise<{ status: number; retryAfter?: string; body: Record<string, string> }>(
    (resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port: started.port,
          path: `/msi/token?api-version=2019-08-01&resource=${encodeURIComponent(resource)}`,
          headers: { 'X-IDENTITY-HEADER': started.header }
        },
        (res) => {
          let body = ''
          res.on('data', (chunk: Buffer) => (body += chunk))
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              retryAfter: res.headers['retry-after'],
              body: JSON.parse(body) as Record<string, string>
            })
          )
        }
      )
      req.on('error', reject)
      req.end()
    }
  )
}

/** A raw connection; resolves with how long after connecting the service closed it. */
function rawConnection(port: number, send: (socket: Socket) => void): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    let opened = 0
    socket.on('connect', () => {
      opened = Date.now()
      send(socket)
    })
    socket.on('data', () => {})
    socket.on('error', () => {})
    socket.on('close', () => (opened ? resolve(Date.now() - opened) : reject(new Error('refused'))))
  })
}

const tokenLine = (resource: string) =>
  expect.stringMatching(new RegExp(`^\\{"resource":"${resource}","sha256":"[0-9a-f]{64}"`))

describe('the token service: connections', () => {
  it('closes a connection that sends nothing, a request line alone, or headers a byte at a time, 5 s after it was accepted', async () => {
    const started = await start()
    try {
      const requestLine = `GET /msi/token?api-version=2019-08-01&resource=${VAULT} HTTP/1.1\r\n`
      const headers = `${requestLine}Host: 127.0.0.1:${started.port}\r\nX-IDENTITY-HEADER: ${started.header}\r\n\r\n`
      const closed = await Promise.all([
        rawConnection(started.port, () => {}),
        rawConnection(started.port, (socket) => socket.write(requestLine)),
        rawConnection(started.port, (socket) => {
          let sent = 0
          const timer = setInterval(() => {
            if (sent < headers.length && !socket.destroyed) socket.write(headers[sent++])
            else clearInterval(timer)
          }, 100)
          socket.on('close', () => clearInterval(timer))
        })
      ])
      for (const ms of closed) {
        expect(ms).toBeGreaterThanOrEqual(4_900)
        expect(ms).toBeLessThan(6_500)
      }
    } finally {
      await post(started)
    }
  }, 30_000)

  it('serves a real client while 3,000 idle sockets flood it, holding at most 256 of them', async () => {
    const started = await start()
    const sockets: Socket[] = []
    const connectedAt: number[] = []
    let closed = 0
    try {
      // In waves that the listen queue (511) takes whole: each socket then reaches the service.
      for (let wave = 0; wave < 12; wave++) {
        await Promise.all(
          Array.from(
            { length: 250 },
            () =>
              new Promise<void>((resolve) => {
                const socket = connect(started.port, '127.0.0.1')
                sockets.push(socket)
                socket.on('connect', () => {
                  connectedAt.push(Date.now())
                  resolve()
                })
                socket.on('error', () => resolve())
                socket.on('close', () => {
                  closed++
                  resolve()
                })
              })
          )
        )
      }
      const signedIn = await signIn(started, VAULT)
      expect(signedIn.line).toEqual(tokenLine(VAULT))
      // The service closed the oldest as the newest came: what is still open is what it holds.
      await new Promise((resolve) => setTimeout(resolve, 200))
      const held = sockets.length - closed
      // A socket still without headers 5 s after it connected is closed anyway: on a machine slow
      // enough that the flood outlasts that (Windows under emulation), fewer are left to hold.
      const young = connectedAt.filter((at) => at > Date.now() - 4_000).length
      expect(held).toBeGreaterThanOrEqual(Math.min(200, young))
      expect(held).toBeLessThanOrEqual(256)
    } finally {
      for (const socket of sockets) socket.destroy()
      await post(started)
    }
  }, 60_000)
})

describe('the token service: the token server failing for a while', () => {
  it('passes 503 on as 503 with Retry-After, and @azure/identity signs in once the token server recovers', async () => {
    const started = await start()
    try {
      // 4 s of 503s from the token server, without Retry-After, for every request: the first
      // ones queued at once, before any request can reach the token server.
      const fail = () => server.faults.push({ status: 503 })
      for (let i = 0; i < 5; i++) fail()
      const outage = setInterval(fail, 20)
      setTimeout(() => {
        clearInterval(outage)
        server.faults.length = 0
      }, 4_000)
      const direct = await ask(started, 'https://graph.microsoft.com')
      expect(direct.status).toBe(200)
      const failed = await ask(started, VAULT)
      expect(failed.status).toBe(503)
      expect(failed.retryAfter).toBe('5')
      expect(failed.body.error).toBe('temporarily_unavailable')
      expect(failed.body.error_description).toMatch(
        /^No token for https:\/\/vault\.azure\.net now: Token request to https:\/\/127\.0\.0\.1:\d+\/[\w-]+\/oauth2\/v2\.0\/token failed: HTTP 503 temporarily_unavailable\. AADSTS90033: A transient error occurred \(gave up after 2 attempts\)\.$/
      )
      const signedIn = await signIn(started, VAULT)
      expect(signedIn.line).toEqual(tokenLine(VAULT))
      // A 5-s wait: the client's retry comes after the outage, and no sooner.
      expect(signedIn.ms).toBeLessThan(10_000)
    } finally {
      await post(started)
    }
  }, 60_000)

  it("passes 429 on as 429, with the token server's Retry-After when longer than its own wait", async () => {
    const started = await start()
    try {
      for (let i = 0; i < 2; i++) server.faults.push({ status: 429, retryAfter: '7' })
      const throttled = await ask(started, VAULT)
      expect(throttled.status).toBe(429)
      expect(throttled.retryAfter).toBe('7')
      expect(throttled.body.error).toBe('temporarily_unavailable')
      const asked = server.requests.length
      const again = await ask(started, VAULT)
      expect(again.status).toBe(429)
      expect(Number(again.retryAfter)).toBeGreaterThanOrEqual(6)
      expect(server.requests.length).toBe(asked)
      server.faults.length = 0
    } finally {
      await post(started)
    }
  }, 30_000)
})

describe('the token service: who may ask', () => {
  it("serves the IMDS shape with X-IDENTITY-HEADER too, as HashiCorp's go-azure-sdk sends it, and refuses a relay or a page", async () => {
    const started = await start()
    try {
      const endpoint = new URL(started.msiEndpoint)
      const raw = (path: string, headers: Record<string, string>) =>
        new Promise<{ status: number; body: Record<string, string> }>((resolve, reject) => {
          const req = request({ host: '127.0.0.1', port: started.port, path, headers }, (res) => {
            let body = ''
            res.on('data', (chunk: Buffer) => (body += chunk))
            res.on('end', () =>
              resolve({
                status: res.statusCode ?? 0,
                body: JSON.parse(body || '{}') as Record<string, string>
              })
            )
          })
          req.on('error', reject)
          req.end()
        })
      const imds = `${endpoint.pathname}?api-version=2018-02-01&resource=${encodeURIComponent(VAULT)}`
      const terraform = await raw(imds, { Metadata: 'true', 'X-IDENTITY-HEADER': started.header })
      expect(terraform.status).toBe(200)
      expect(Number(terraform.body.expires_in)).toBeGreaterThan(3500)
      const msi = `/msi/token?api-version=2019-08-01&resource=${encodeURIComponent(VAULT)}`
      const withHeader = { 'X-IDENTITY-HEADER': started.header }
      expect(await raw(msi, { ...withHeader, Via: '1.1 proxy.corp.example' })).toEqual({
        status: 403,
        body: {
          error: 'invalid_request',
          error_description:
            'Requests relayed by a proxy (Via, Proxy-*) are refused: ask with no proxy for 127.0.0.1 (NO_PROXY).'
        }
      })
      expect(await raw(`http://127.0.0.1:${started.port}${msi}`, withHeader)).toMatchObject({
        status: 403
      })
      expect(await raw(msi, { ...withHeader, Origin: 'https://evil.example' })).toEqual({
        status: 403,
        body: {
          error: 'invalid_request',
          error_description: 'Requests from a browser (Origin) are refused.'
        }
      })
    } finally {
      await post(started)
    }
  }, 30_000)
})
