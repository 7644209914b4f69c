// The job summary's rows, exactly: what a reader of the run sees, and nothing secret.
import { describe, expect, it } from '@jest/globals'
import type { X509Certificate } from 'node:crypto'
import type { Settings } from '../src/inputs.js'
import { summarise } from '../src/summary.js'
import type { TokenResponse } from '../src/token.js'
import { makeCert } from './support/certs.js'

const settings: Settings = {
  clientId: 'client-1',
  tenantId: 'contoso.onmicrosoft.com',
  scope: 'https://graph.microsoft.com/.default',
  tokenEndpoint: 'https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token',
  entra: true,
  audience: 'https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token',
  algorithm: 'PS256',
  sendX5c: false,
  credential: { kind: 'certificate', certificate: 'x' },
  assertionLifetime: 600,
  assertionOnly: false
}
/** What the summary reads of a credential: the leaf and its thumbprints (hex, no colons). */
const credentialOf = (certificate: X509Certificate) => ({
  chain: [certificate],
  thumbprints: {
    sha1: certificate.fingerprint.replace(/:/g, ''),
    sha256: certificate.fingerprint256.replace(/:/g, '')
  }
})
const jwt = (claims: object) =>
  `eyJhbGciOiJub25lIn0.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.sig`
const token = (accessToken: string): TokenResponse => ({
  accessToken,
  tokenType: 'Bearer',
  expiresIn: 3599,
  expiresOn: new Date('2026-11-22T11:00:00.000Z')
})

describe('summarise', () => {
  it('shows the request, the token claims and the certificate, row by row', () => {
    const cert = makeCert({ commonName: 'summary test' })
    const access = jwt({ aud: ['api://one', 'api://two'], roles: ['A.Read', 'B.Write'] })
    const rows = summarise(settings, token(access), credentialOf(cert.cert))
    expect(rows).toEqual([
      ['Client ID', 'client-1'],
      ['Tenant', 'contoso.onmicrosoft.com'],
      ['Token endpoint', settings.tokenEndpoint],
      ['Scope', 'https://graph.microsoft.com/.default'],
      ['Credential', 'certificate'],
      ['Token audience', 'api://one, api://two'],
      ['Token roles', 'A.Read, B.Write'],
      ['Token expires', '2026-11-22T11:00:00.000Z (in 3599 s)'],
      ['Certificate subject', 'CN=summary test'],
      ['Certificate thumbprint (SHA-1)', cert.cert.fingerprint.replace(/:/g, '')],
      ['Certificate thumbprint (SHA-256)', cert.cert.fingerprint256.replace(/:/g, '')],
      ['Certificate expires', new Date(cert.cert.validTo).toISOString()]
    ])
    expect(JSON.stringify(rows)).not.toContain(access)
  })

  it('shows a delegated-style scp and a single audience, and no tenant for another server', () => {
    const rows = summarise(
      { ...settings, tenantId: undefined, credential: { kind: 'oidc', audience: 'api://x' } },
      token(jwt({ aud: 'api://one', scp: 'read write', roles: [] }))
    )
    expect(rows).toEqual([
      ['Client ID', 'client-1'],
      ['Token endpoint', settings.tokenEndpoint],
      ['Scope', 'https://graph.microsoft.com/.default'],
      ['Credential', 'GitHub OIDC token (federation)'],
      ['Token audience', 'api://one'],
      ['Token scopes (scp)', 'read write'],
      ['Token expires', '2026-11-22T11:00:00.000Z (in 3599 s)']
    ])
  })

  it('shows a subject of several parts on one line', () => {
    // node:crypto gives the subject one part per line; only the fields the summary reads.
    const certificate = {
      subject: 'C=US\nO=Contoso\nCN=build agent',
      fingerprint: 'AB:CD',
      fingerprint256: 'EF:01',
      validTo: 'Nov 22 11:00:00 2027 GMT'
    } as X509Certificate
    expect(
      summarise(settings, token('opaque-token-0123456789'), credentialOf(certificate)).slice(-4)
    ).toEqual([
      ['Certificate subject', 'C=US, O=Contoso, CN=build agent'],
      ['Certificate thumbprint (SHA-1)', 'ABCD'],
      ['Certificate thumbprint (SHA-256)', 'EF01'],
      ['Certificate expires', '2027-11-22T11:00:00.000Z']
    ])
  })

  it('shows no claims for an opaque token or a JWT without them', () => {
    const expected = [
      ['Client ID', 'client-1'],
      ['Tenant', 'contoso.onmicrosoft.com'],
      ['Token endpoint', settings.tokenEndpoint],
      ['Scope', 'https://graph.microsoft.com/.default'],
      ['Credential', 'GitHub OIDC token (federation)'],
      ['Token expires', '2026-11-22T11:00:00.000Z (in 3599 s)']
    ]
    expect(summarise(settings, token('opaque-token-0123456789'))).toEqual(expected)
    expect(summarise(settings, token(jwt({ sub: 'x', scp: 42 })))).toEqual(expected)
  })
})
