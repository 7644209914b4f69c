// The job summary's rows, exactly: what a reader of the run sees, and nothing secret.
import { describe, expect, it } from '@jest/globals'
import type { X509Certificate } from 'node:crypto'
import type { Settings } from '../src/settings.js'
import { escapeHtml, summarise } from '../src/action/summary.js'
import type { TokenResponse } from '../src/oauth/token.js'
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
  assertionOnly: false,
  identityEndpoint: false
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

describe('escapeHtml', () => {
  it('turns the five HTML metacharacters into entities', () => {
    expect(escapeHtml(`<a href="x" title='y'>&amp;</a>`)).toBe(
      '&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;amp;&lt;/a&gt;'
    )
  })

  it('turns line breaks and other control characters into spaces, and keeps the rest', () => {
    expect(escapeHtml('a\u0000b\tc\nd\re\u001ff\u007fg\u0085h\u009fi\u2028j\u2029k')).toBe(
      'a b c d e f g h i j k'
    )
    expect(escapeHtml(' !~\u00a0é\u2027\u202a€')).toBe(' !~\u00a0é\u2027\u202a€')
  })

  it('keeps 1,000 characters whole and clips a longer text to 997 and "..."', () => {
    const thousand = 'x'.repeat(1000)
    expect(escapeHtml(thousand)).toBe(thousand)
    expect(escapeHtml(`${'y'.repeat(997)}abcd`)).toBe(`${'y'.repeat(997)}...`)
  })
})

describe('summarise: claims from a server', () => {
  it('escapes every value, claims and inputs alike', () => {
    const rows = summarise(
      { ...settings, clientId: '<id>', tenantId: undefined, scope: 'a&b' },
      token(jwt({ aud: '<script>', roles: ['"r"'], scp: "it's\nx" }))
    )
    expect(rows).toEqual([
      ['Client ID', '&lt;id&gt;'],
      ['Token endpoint', settings.tokenEndpoint],
      ['Scope', 'a&amp;b'],
      ['Credential', 'GitHub OIDC token (federation)'],
      ['Token audience', '&lt;script&gt;'],
      ['Token roles', '&quot;r&quot;'],
      ['Token scopes (scp)', 'it&#39;s x'],
      ['Token expires', '2026-11-22T11:00:00.000Z (in 3599 s)']
    ])
  })

  it('shows only the string items of a claim, at most 100 of them', () => {
    const roles = Array.from({ length: 101 }, (_, i) => `R${i}`)
    const rows = summarise(
      settings,
      token(jwt({ aud: [1, 'api://one', { a: 'b' }, null, 'api://two'], roles }))
    )
    expect(rows.find(([label]) => label === 'Token audience')).toEqual([
      'Token audience',
      'api://one, api://two'
    ])
    expect(rows.find(([label]) => label === 'Token roles')).toEqual([
      'Token roles',
      roles.slice(0, 100).join(', ')
    ])
  })

  it('shows no audience or roles row for claims without a string', () => {
    const rows = summarise(settings, token(jwt({ aud: 7, roles: [1, 2], scp: ['a'] })))
    expect(rows.map(([label]) => label)).toEqual([
      'Client ID',
      'Tenant',
      'Token endpoint',
      'Scope',
      'Credential',
      'Token expires'
    ])
  })
})
