// The PFX corpus (fixtures/pfx, made by OpenSSL 3, JDK keytool, Python cryptography, BouncyCastle
// and node-forge: see fixtures/pfx/README.md) run through the built action (dist/index.js) against
// the Entra-like server, with each fixture's certificate registered as the making tool exported it.
// What the action sends (x5t#S256, x5t, x5c) and the summary's thumbprints must be computed from
// exactly those bytes.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { createHash, randomUUID, X509Certificate } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { startEntraServer } from './support/entra-server.js'
import { findLeaks, ROOT, runAction } from './support/run-action.js'

interface Fixture {
  name: string
  tool: string
  options: string
  password?: string
  /** The certificates the action must send in x5c, leaf first (files beside the PFX). */
  certificates?: string[]
  /** The one error line the action must fail with instead. */
  error?: string
}

const DIR = join(ROOT, '__tests__', 'fixtures', 'pfx')
const corpus = JSON.parse(readFileSync(join(DIR, 'corpus.json'), 'utf8')) as Fixture[]
const read = (file: string): Buffer => readFileSync(join(DIR, file))
const digest = (algorithm: string, der: Buffer): Buffer =>
  createHash(algorithm).update(der).digest()

const CLIENT = randomUUID()
const TENANT = randomUUID()
let server: Awaited<ReturnType<typeof startEntraServer>>

beforeAll(async () => {
  const leaves = corpus.flatMap((f) => (f.certificates ? [read(f.certificates[0])] : []))
  server = await startEntraServer({
    apps: [
      {
        clientId: CLIENT,
        tenantId: TENANT,
        certificates: leaves.map((der) => new X509Certificate(der))
      }
    ]
  })
})
afterAll(async () => server.close())

async function act(fixture: Fixture, inputs: Record<string, string>) {
  const pfx = read(`${fixture.name}.pfx`)
  const before = server.requests.length
  const run = await runAction({
    'client-id': CLIENT,
    'tenant-id': TENANT,
    scope: 'https://graph.microsoft.com/.default',
    'authority-host': server.url,
    certificate: pfx.toString('base64'),
    ...(fixture.password !== undefined ? { 'certificate-password': fixture.password } : {}),
    ...inputs
  })
  const secrets = [pfx.toString('base64'), ...(fixture.password ? [fixture.password] : [])]
  expect(findLeaks(run, secrets)).toEqual([])
  return { run, sent: server.requests.slice(before) }
}

describe.each(corpus.filter((f) => f.certificates))('$name ($tool, $options)', (fixture) => {
  const ders = (fixture.certificates ?? []).map(read)

  it('sends x5t#S256 and x5c computed from the certificates exactly as the tool exported them', async () => {
    const { run, sent } = await act(fixture, { algorithm: 'PS256', 'send-x5c': 'true' })
    expect(run.errors).toEqual([])
    expect(run.code).toBe(0)
    expect(run.outputs['access-token']).toBe(server.issued.at(-1))
    const header = sent[0].assertion?.header
    expect(header?.['x5t#S256']).toBe(digest('sha256', ders[0]).toString('base64url'))
    expect(header?.x5c).toEqual(ders.map((der) => der.toString('base64')))
    expect(run.summary).toContain(digest('sha1', ders[0]).toString('hex').toUpperCase())
    expect(run.summary).toContain(digest('sha256', ders[0]).toString('hex').toUpperCase())
  })

  it('sends x5t computed from the leaf exactly as the tool exported it', async () => {
    const { run, sent } = await act(fixture, { algorithm: 'RS256' })
    expect(run.errors).toEqual([])
    expect(sent[0].assertion?.header.x5t).toBe(digest('sha1', ders[0]).toString('base64url'))
  })
})

describe.each(corpus.filter((f) => f.error))('$name ($tool, $options)', (fixture) => {
  it('is refused with one clear line, sending nothing', async () => {
    const { run, sent } = await act(fixture, {})
    expect(run.errors).toEqual([fixture.error])
    expect(run.code).toBe(1)
    expect(sent).toEqual([])
  })
})

describe("'certificate-password' saved with a trailing line break", () => {
  it('opens the PFX without it, warns, and gets the token', async () => {
    const fixture = corpus.find((f) => f.name === 'keytool-default') as Fixture
    const { run, sent } = await act(fixture, { 'certificate-password': `${fixture.password}\n` })
    expect(run.errors).toEqual([])
    expect(run.warnings).toEqual([
      "'certificate-password' has a line break or spaces around it that are not part of the password: the PFX in 'certificate' opened without them. Remove them from the secret."
    ])
    expect(sent).toHaveLength(1)
  })
})
