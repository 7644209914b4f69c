import { describe, expect, it } from '@jest/globals'
import { createHash } from 'node:crypto'
import { compactVerify, decodeProtectedHeader, jwtVerify } from 'jose'
import { signAssertion } from '../src/oauth/assertion.js'
import { loadCredential, type Credential } from '../src/keys/credential.js'
import type { Algorithm } from '../src/settings.js'
import { makeCert } from './support/certs.js'

const TOKEN_URL =
  'https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/oauth2/v2.0/token'
const CLIENT = '11111111-2222-3333-4444-555555555555'
const ca = makeCert({ ca: true, commonName: 'Test CA' })
const leaf = makeCert({ issuer: ca, commonName: 'leaf' })
const load = (cert: { keyPem: string; certPem: string }, extra = ''): Promise<Credential> =>
  loadCredential({ kind: 'certificate', certificate: cert.keyPem + cert.certPem + extra })
const options = {
  clientId: CLIENT,
  audience: TOKEN_URL,
  algorithm: 'PS256' as const,
  sendX5c: false
}

describe('signAssertion', () => {
  it('signs PS256 with x5t#S256 and the claims Entra requires', async () => {
    const credential = await load(leaf)
    const now = new Date('2026-11-22T10:00:00Z')
    const jwt = await signAssertion(credential, { ...options, now: () => now, newId: () => 'id-1' })
    const { payload, protectedHeader } = await jwtVerify(jwt, leaf.cert.publicKey, {
      algorithms: ['PS256'],
      currentDate: now
    })
    expect(protectedHeader).toEqual({
      alg: 'PS256',
      typ: 'JWT',
      'x5t#S256': createHash('sha256').update(leaf.cert.raw).digest('base64url')
    })
    const iat = now.getTime() / 1000
    expect(payload).toEqual({
      aud: TOKEN_URL,
      iss: CLIENT,
      sub: CLIENT,
      jti: 'id-1',
      iat,
      nbf: iat,
      exp: iat + 600
    })
  })

  it('uses a fresh GUID jti for every assertion', async () => {
    const credential = await load(leaf)
    const ids = await Promise.all(
      [1, 2, 3].map(
        async () =>
          (await jwtVerify(await signAssertion(credential, options), leaf.cert.publicKey)).payload
            .jti
      )
    )
    expect(new Set(ids).size).toBe(3)
    for (const id of ids)
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
  })

  it('signs RS256 with the SHA-1 x5t', async () => {
    const credential = await load(leaf)
    const jwt = await signAssertion(credential, { ...options, algorithm: 'RS256' })
    const { protectedHeader } = await compactVerify(jwt, leaf.cert.publicKey)
    expect(protectedHeader).toEqual({
      alg: 'RS256',
      typ: 'JWT',
      x5t: createHash('sha1').update(leaf.cert.raw).digest('base64url')
    })
  })

  it('sends the chain in x5c, leaf first, as standard base64 DER', async () => {
    const credential = await load(leaf, ca.certPem)
    const header = decodeProtectedHeader(
      await signAssertion(credential, { ...options, sendX5c: true })
    )
    expect(header.x5c).toEqual([leaf.cert.raw.toString('base64'), ca.cert.raw.toString('base64')])
  })

  it('signs ES256 with an EC P-256 key', async () => {
    const ec = makeCert({ curve: 'P-256' })
    const credential = await load(ec)
    const jwt = await signAssertion(credential, { ...options, algorithm: 'ES256' })
    const { protectedHeader } = await compactVerify(jwt, ec.cert.publicKey)
    expect(protectedHeader.alg).toBe('ES256')
    expect(protectedHeader['x5t#S256']).toBe(credential.x5tS256)
  })

  it('signs ES384 with an EC P-384 key', async () => {
    const ec = makeCert({ curve: 'P-384' })
    const credential = await load(ec)
    const jwt = await signAssertion(credential, { ...options, algorithm: 'ES384' })
    const { protectedHeader } = await compactVerify(jwt, ec.cert.publicKey)
    expect(protectedHeader.alg).toBe('ES384')
  })

  it('explains a key that cannot sign with the algorithm instead of signing with it', async () => {
    const rsaKey = await load(leaf)
    const ecKey = await load(makeCert({ curve: 'P-256' }))
    const small = await load(makeCert({ bits: 512 }))
    const failure = (credential: Credential, algorithm: Algorithm): Promise<string> =>
      signAssertion(credential, { ...options, algorithm }).then(
        () => 'signed',
        (error: Error) => `${error.constructor.name}: ${error.message}`
      )
    expect(await failure(rsaKey, 'ES256')).toBe(
      'ActionError: Could not sign the client assertion with ES256: the key is not an EC key of the size ES256 needs.'
    )
    expect(await failure(ecKey, 'PS256')).toBe(
      'ActionError: Could not sign the client assertion with PS256: the key is not an RSA key of the size PS256 needs.'
    )
    expect(await failure(ecKey, 'RS256')).toBe(
      'ActionError: Could not sign the client assertion with RS256: the key is not an RSA key of the size RS256 needs.'
    )
    // 64 bytes of modulus: too few for PSS with SHA-256 and a 32-byte salt (66 at least).
    expect(await failure(small, 'PS256')).toBe(
      'ActionError: Could not sign the client assertion with PS256: the key is not an RSA key of the size PS256 needs.'
    )
    expect(await failure(small, 'RS256')).toBe('signed')
    expect(await failure(ecKey, 'ES384')).toBe(
      'ActionError: Could not sign the client assertion with ES384: the key is not an EC key of the size ES384 needs.'
    )
  })
})
