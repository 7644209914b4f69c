import { describe, expect, it } from '@jest/globals'
import { createHash } from 'node:crypto'
import { compactVerify, decodeProtectedHeader, jwtVerify } from 'jose'
import { signAssertion } from '../src/assertion.js'
import { loadCredential, type Credential } from '../src/credential.js'
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

  it('explains a key that cannot sign with the algorithm', async () => {
    const credential = await load(leaf)
    await expect(signAssertion(credential, { ...options, algorithm: 'ES256' })).rejects.toThrow(
      /^Could not sign the client assertion with ES256: /
    )
  })
})
