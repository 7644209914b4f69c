// measureClockSkew on Entra-shaped answers, and run() in-process (plain http on loopback) for the
// client-assertion outputs, assertion-only and the one retry on the server's clock.
import {
  afterAll,
  afterEach,
  beforeAll,
  beforeEach,
  describe,
  expect,
  it,
  jest
} from '@jest/globals'
import { randomUUID } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { decodeJwt } from 'jose'
import { measureClockSkew } from '../src/oauth/clock.js'
import { run } from '../src/action/main.js'
import { makeCert } from './support/certs.js'
import { startEntraServer, type EntraServer } from './support/entra-server.js'
import { parseFileCommand } from './support/run-action.js'

const RECEIVED = Date.parse('2026-11-23T10:00:00.000Z')
const refusal = (body: object, date?: string, status = 401) => ({
  status,
  headers: { date },
  body: JSON.stringify(body)
})
const ENTRA_700024 = {
  error: 'invalid_client',
  error_description: 'AADSTS700024: Client assertion is not within its valid time range.',
  error_codes: [700024]
}

describe('measureClockSkew', () => {
  it("measures the server's clock minus ours from an AADSTS700024 answer's Date", () => {
    const answer = refusal(ENTRA_700024, 'Mon, 23 Nov 2026 10:10:00 GMT')
    expect(measureClockSkew(answer, RECEIVED)).toBe(600_500)
  })

  it('measures a server behind us as a negative offset', () => {
    const answer = refusal(ENTRA_700024, 'Mon, 23 Nov 2026 09:50:00 GMT', 400)
    expect(measureClockSkew(answer, RECEIVED)).toBe(-599_500)
  })

  it('reads the code from the description when error_codes is absent', () => {
    const body = { error: ENTRA_700024.error, error_description: ENTRA_700024.error_description }
    const answer = refusal(body, 'Mon, 23 Nov 2026 10:10:00 GMT')
    expect(measureClockSkew(answer, RECEIVED)).toBe(600_500)
  })

  it('reads error_codes given as strings, as the error explanation does', () => {
    const answer = refusal(
      { ...ENTRA_700024, error_codes: ['700024'] },
      'Mon, 23 Nov 2026 10:10:00 GMT'
    )
    expect(measureClockSkew(answer, RECEIVED)).toBe(600_500)
  })

  it.each([
    ['clocks a minute apart or less', refusal(ENTRA_700024, 'Mon, 23 Nov 2026 10:00:59 GMT')],
    [
      'another AADSTS code',
      refusal({ ...ENTRA_700024, error_codes: [700027] }, 'Mon, 23 Nov 2026 10:10:00 GMT')
    ],
    ['no Date header', refusal(ENTRA_700024)],
    ['a Date that is not an HTTP date', refusal(ENTRA_700024, '2026-11-23T10:10:00Z')],
    [
      'a body that is not JSON',
      { status: 401, headers: { date: 'Mon, 23 Nov 2026 10:10:00 GMT' }, body: '<html>' }
    ],
    [
      'a JSON body that is not an object',
      { status: 401, headers: { date: 'Mon, 23 Nov 2026 10:10:00 GMT' }, body: 'null' }
    ],
    [
      'a description without the code',
      refusal(
        { error: 'invalid_client', error_description: 'expired' },
        'Mon, 23 Nov 2026 10:10:00 GMT'
      )
    ],
    ['another status', refusal(ENTRA_700024, 'Mon, 23 Nov 2026 10:10:00 GMT', 500)]
  ])('finds nothing with %s', (_, answer) => {
    expect(measureClockSkew(answer, RECEIVED)).toBeUndefined()
  })

  it('leaves clocks exactly a minute apart alone, either way', () => {
    const receivedAt = RECEIVED + 500
    expect(
      measureClockSkew(refusal(ENTRA_700024, 'Mon, 23 Nov 2026 10:01:00 GMT'), receivedAt)
    ).toBeUndefined()
    expect(
      measureClockSkew(refusal(ENTRA_700024, 'Mon, 23 Nov 2026 09:59:00 GMT'), receivedAt)
    ).toBeUndefined()
    expect(
      measureClockSkew(refusal(ENTRA_700024, 'Mon, 23 Nov 2026 10:01:01 GMT'), receivedAt)
    ).toBe(61_000)
  })

  it('takes the first of repeated Date headers', () => {
    const answer = {
      ...refusal(ENTRA_700024),
      headers: { date: ['Mon, 23 Nov 2026 10:10:00 GMT', 'Mon, 23 Nov 2026 10:00:00 GMT'] }
    }
    expect(measureClockSkew(answer, RECEIVED)).toBe(600_500)
  })
})

describe('run() with the client-assertion outputs', () => {
  const CLIENT = randomUUID()
  const TENANT = randomUUID()
  const cert = makeCert({ commonName: 'clock test' })
  let server: EntraServer
  let shiftMs = 0
  let dir: string
  let printed: string

  beforeAll(async () => {
    server = await startEntraServer({
      apps: [{ clientId: CLIENT, tenantId: TENANT, certificates: [cert.cert] }],
      now: () => Date.now() + shiftMs
    })
  })
  afterAll(async () => server.close())
  beforeEach(() => {
    shiftMs = 0
    server.requests.length = 0
    dir = mkdtempSync(join(tmpdir(), 'clock-'))
    for (const name of Object.keys(process.env)) {
      if (name.startsWith('INPUT_') || name.startsWith('ACTIONS_ID_TOKEN')) delete process.env[name]
    }
    process.env.GITHUB_OUTPUT = join(dir, 'output')
    writeFileSync(process.env.GITHUB_OUTPUT, '')
    delete process.env.GITHUB_STEP_SUMMARY
    setInputs({
      'client-id': CLIENT,
      'tenant-id': TENANT,
      scope: 'https://graph.microsoft.com/.default',
      certificate: cert.keyPem + cert.certPem,
      'authority-host': server.url
    })
    printed = ''
    jest.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
      printed += String(chunk)
      return true
    })
    process.exitCode = undefined
  })
  afterEach(() => {
    jest.restoreAllMocks()
    process.exitCode = undefined
    rmSync(dir, { recursive: true, force: true })
  })

  function setInputs(inputs: Record<string, string | undefined>): void {
    for (const [name, value] of Object.entries(inputs)) {
      const key = `INPUT_${name.toUpperCase()}`
      if (value === undefined) delete process.env[key]
      else process.env[key] = value
    }
  }
  const outputs = () => parseFileCommand(readFileSync(join(dir, 'output'), 'utf8'))
  const lines = (kind: string) =>
    [...printed.matchAll(new RegExp(`^::${kind}::(.*)$`, 'gm'))].map((m) => m[1])

  it('sets client-assertion and its expiry beside the token', async () => {
    setInputs({ 'assertion-lifetime': '300' })
    await run()
    expect(lines('error')).toEqual([])
    const out = outputs()
    const claims = decodeJwt(out['client-assertion'])
    expect((claims.exp ?? 0) - (claims.nbf ?? 0)).toBe(300)
    expect(out['client-assertion-expires-on']).toBe(
      new Date((claims.exp ?? 0) * 1000).toISOString()
    )
    expect(lines('add-mask')).toContain(out['client-assertion'])
  })

  it('signs only, without scope or request, with assertion-only', async () => {
    setInputs({ 'assertion-only': 'true', scope: undefined })
    await run()
    expect(lines('error')).toEqual([])
    expect(server.requests).toEqual([])
    expect(Object.keys(outputs())).toEqual(['client-assertion', 'client-assertion-expires-on'])
  })

  it('outputs the GitHub OIDC token it sent when there is no certificate', async () => {
    const federated = randomUUID()
    setInputs({ certificate: undefined, 'client-id': federated })
    process.env.ACTIONS_ID_TOKEN_REQUEST_URL = server.oidcRequestUrl
    process.env.ACTIONS_ID_TOKEN_REQUEST_TOKEN = server.oidcRequestToken
    server.apps.push({
      clientId: federated,
      tenantId: TENANT,
      certificates: [],
      federated: { subject: 'repo:octo/repo:ref:refs/heads/main' }
    })
    try {
      await run()
    } finally {
      server.apps.pop()
    }
    expect(lines('error')).toEqual([])
    expect(outputs()['client-assertion']).toBe(server.idTokens.at(-1))
    expect(server.requests.at(-1)?.form.client_assertion).toBe(server.idTokens.at(-1))
  })

  it('does not retry with a GitHub OIDC token, whose times GitHub sets', async () => {
    const federated = randomUUID()
    setInputs({ certificate: undefined, 'client-id': federated })
    process.env.ACTIONS_ID_TOKEN_REQUEST_URL = server.oidcRequestUrl
    process.env.ACTIONS_ID_TOKEN_REQUEST_TOKEN = server.oidcRequestToken
    server.faults.push({
      status: 401,
      body: JSON.stringify(ENTRA_700024),
      headers: { Date: new Date(Date.now() + 600_000).toUTCString() }
    })
    await run()
    expect(server.requests.filter((r) => r.method === 'POST')).toHaveLength(1)
    expect(lines('warning')).toEqual([])
    expect(lines('error')).toHaveLength(1)
    expect(lines('error')[0]).toMatch(/AADSTS700024/)
  })

  it("retries once on the server's clock and warns with the offset", async () => {
    shiftMs = -10 * 60_000
    await run()
    expect(lines('error')).toEqual([])
    expect(server.requests).toHaveLength(2)
    expect(lines('warning')).toHaveLength(1)
    expect(lines('warning')[0]).toMatch(
      /^The token endpoint's clock is (599|600|601) s \(10 min\) behind this runner's/
    )
    const [first, second] = server.requests.map((r) => r.assertion?.payload.nbf ?? 0)
    expect(first - second).toBeGreaterThanOrEqual(598)
    expect(first - second).toBeLessThanOrEqual(602)
  })

  it('says the offset in seconds alone when it is under two minutes', async () => {
    server.faults.push({
      status: 401,
      body: JSON.stringify(ENTRA_700024),
      headers: { Date: new Date(Date.now() - 90_000).toUTCString() }
    })
    await run()
    expect(lines('error')).toEqual([])
    expect(server.requests).toHaveLength(2)
    expect(lines('warning')[0]).toMatch(
      /^The token endpoint's clock is (89|90|91) s behind this runner's:/
    )
  })
})
