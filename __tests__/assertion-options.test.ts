// The assertion's lifetime and clock offset (signAssertion), and the inputs that set them.
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals'
import { decodeJwt } from 'jose'
import { signAssertion } from '../src/oauth/assertion.js'
import { loadCredential } from '../src/keys/credential.js'
import { InputError } from '../src/errors.js'
import { readSettings } from '../src/action/inputs.js'
import { summariseAssertion } from '../src/action/summary.js'
import { makeCert } from './support/certs.js'

const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47'
const CLIENT = '11111111-2222-3333-4444-555555555555'
const TOKEN_URL = `https://login.microsoftonline.com/${TENANT}/oauth2/v2.0/token`
const cert = makeCert({ commonName: 'options test' })

describe('signAssertion times', () => {
  const now = new Date('2026-11-23T10:00:00.000Z')
  const at = Math.floor(now.getTime() / 1000)
  const sign = async (extra: { lifetimeSeconds?: number; clockOffsetMs?: number }) =>
    decodeJwt(
      await signAssertion(
        await loadCredential({ kind: 'certificate', certificate: cert.keyPem + cert.certPem }),
        {
          clientId: CLIENT,
          audience: TOKEN_URL,
          algorithm: 'PS256',
          sendX5c: false,
          now: () => now,
          ...extra
        }
      )
    )

  it('lives 600 s by default', async () => {
    expect(await sign({})).toMatchObject({ iat: at, nbf: at, exp: at + 600 })
  })

  it('lives as long as asked', async () => {
    expect(await sign({ lifetimeSeconds: 60 })).toMatchObject({ iat: at, nbf: at, exp: at + 60 })
  })

  it("moves every time by the server's clock offset", async () => {
    const claims = await sign({ lifetimeSeconds: 120, clockOffsetMs: -600_500 })
    expect(claims).toMatchObject({ iat: at - 601, nbf: at - 601, exp: at - 601 + 120 })
  })
})

describe('readSettings: assertion-lifetime and assertion-only', () => {
  const clear = () => {
    for (const name of Object.keys(process.env))
      if (name.startsWith('INPUT_')) delete process.env[name]
  }
  const set = (inputs: Record<string, string>) => {
    for (const [name, value] of Object.entries(inputs))
      process.env[`INPUT_${name.toUpperCase()}`] = value
  }
  const failure = (): InputError => {
    try {
      readSettings()
    } catch (error) {
      if (error instanceof InputError) return error
      throw error
    }
    throw new Error('readSettings did not throw')
  }
  beforeEach(() => {
    clear()
    set({
      'client-id': CLIENT,
      'tenant-id': TENANT,
      scope: 'https://graph.microsoft.com/.default',
      certificate: 'x'
    })
  })
  afterEach(clear)

  it('defaults to 600 s and a token request', () => {
    expect(readSettings()).toMatchObject({ assertionLifetime: 600, assertionOnly: false })
  })

  it.each(['60', '600', '0600'])('takes %s seconds', (value) => {
    set({ 'assertion-lifetime': value })
    expect(readSettings().assertionLifetime).toBe(Number(value))
  })

  it.each(['59', '601', '1e3', '60s'])('refuses %j, naming the input and the bounds', (value) => {
    set({ 'assertion-lifetime': value })
    const error = failure()
    expect(error.input).toBe('assertion-lifetime')
    expect(error.message).toMatch(
      /^Input 'assertion-lifetime' must be a whole number of seconds from 60 to 600 /
    )
  })

  it('refuses a lifetime without a certificate', () => {
    delete process.env.INPUT_CERTIFICATE
    set({ 'assertion-lifetime': '300' })
    expect(failure().input).toBe('assertion-lifetime')
  })

  it("takes action.yml's default (600), which the runner passes, without a certificate too", () => {
    delete process.env.INPUT_CERTIFICATE
    set({ 'assertion-lifetime': '600' })
    expect(readSettings().assertionLifetime).toBe(600)
  })

  it('needs no scope with assertion-only, and skips the scope checks', () => {
    delete process.env.INPUT_SCOPE
    set({ 'assertion-only': 'true' })
    expect(readSettings()).toMatchObject({ assertionOnly: true, scope: '', audience: TOKEN_URL })
  })

  it('still checks a scope given with assertion-only', () => {
    set({ 'assertion-only': 'true', scope: 'https://graph.microsoft.com/User.Read' })
    expect(failure().input).toBe('scope')
  })

  it.each([
    ['exchange-url', 'https://api.partnercenter.microsoft.com/generatetoken'],
    ['export-variable', 'GRAPH_TOKEN']
  ])('refuses %s with assertion-only: there is no token', (name, value) => {
    set({ 'assertion-only': 'true', [name]: value })
    const error = failure()
    expect(error.input).toBe(name)
    expect(error.message).toBe(
      `Input '${name}' acts on the access token, and 'assertion-only' requests none: remove '${name}', or 'assertion-only'.`
    )
  })

  it('summarises an assertion-only run without the assertion', () => {
    delete process.env.INPUT_SCOPE
    set({ 'assertion-only': 'true' })
    const settings = readSettings()
    expect(
      summariseAssertion(settings, '2026-11-23T10:10:00.000Z', {
        chain: [cert.cert],
        thumbprints: {
          sha1: cert.cert.fingerprint.replace(/:/g, ''),
          sha256: cert.cert.fingerprint256.replace(/:/g, '')
        }
      })
    ).toEqual([
      ['Client ID', CLIENT],
      ['Tenant', TENANT],
      ['Assertion audience', TOKEN_URL],
      ['Credential', 'certificate'],
      ['Assertion expires', '2026-11-23T10:10:00.000Z'],
      ['Certificate subject', 'CN=options test'],
      ['Certificate thumbprint (SHA-1)', cert.cert.fingerprint.replace(/:/g, '')],
      ['Certificate thumbprint (SHA-256)', cert.cert.fingerprint256.replace(/:/g, '')],
      ['Certificate expires', new Date(cert.cert.validTo).toISOString()]
    ])
    expect(summariseAssertion({ ...settings, tenantId: undefined }, 'x')).toEqual([
      ['Client ID', CLIENT],
      ['Assertion audience', TOKEN_URL],
      ['Credential', 'GitHub OIDC token (federation)'],
      ['Assertion expires', 'x']
    ])
  })

  it('refuses an assertion-only that is not a boolean', () => {
    set({ 'assertion-only': 'yes' })
    expect(failure().message).toBe("Input 'assertion-only' must be true or false; got 'yes'.")
  })
})
