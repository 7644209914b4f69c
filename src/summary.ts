import { X509Certificate } from 'node:crypto'
import { decodeJwt } from 'jose'
import type { Settings } from './inputs.js'
import type { TokenResponse } from './token.js'

/** One row of the job summary: a label and a value that is safe to show. */
export type SummaryRow = [label: string, value: string]

/**
 * What the job summary shows: the request, the token's claims when it is a JWT (decoded, never the
 * token itself), and the certificate's subject, thumbprints and expiry. Nothing secret.
 */
export function summarise(
  settings: Settings,
  token: TokenResponse,
  certificate?: X509Certificate
): SummaryRow[] {
  const rows: SummaryRow[] = [['Client ID', settings.clientId]]
  if (settings.tenantId) rows.push(['Tenant', settings.tenantId])
  rows.push(['Token endpoint', settings.tokenEndpoint], ['Scope', settings.scope])
  rows.push(['Credential', certificate ? 'certificate' : 'GitHub OIDC token (federation)'])

  const claims = decodeClaims(token.accessToken)
  if (claims) {
    const aud = claims.aud
    if (aud !== undefined)
      rows.push(['Token audience', Array.isArray(aud) ? aud.join(', ') : String(aud)])
    const roles = Array.isArray(claims.roles) ? claims.roles.join(', ') : undefined
    if (roles) rows.push(['Token roles', roles])
    if (typeof claims.scp === 'string') rows.push(['Token scopes (scp)', claims.scp])
  }
  rows.push(['Token expires', `${token.expiresOn.toISOString()} (in ${token.expiresIn} s)`])

  if (certificate) rows.push(...certificateRows(certificate))
  return rows
}

/**
 * The job summary of an `assertion-only` run: who the assertion is for, until when, and the
 * certificate that signed it. Never the assertion.
 */
export function summariseAssertion(
  settings: Settings,
  expiresOn: string,
  certificate?: X509Certificate
): SummaryRow[] {
  const rows: SummaryRow[] = [['Client ID', settings.clientId]]
  if (settings.tenantId) rows.push(['Tenant', settings.tenantId])
  rows.push(
    ['Assertion audience', settings.audience],
    ['Credential', certificate ? 'certificate' : 'GitHub OIDC token (federation)'],
    ['Assertion expires', expiresOn]
  )
  if (certificate) rows.push(...certificateRows(certificate))
  return rows
}

function certificateRows(certificate: X509Certificate): SummaryRow[] {
  return [
    ['Certificate subject', certificate.subject.replace(/\n/g, ', ')],
    ['Certificate thumbprint (SHA-1)', certificate.fingerprint.replace(/:/g, '')],
    ['Certificate thumbprint (SHA-256)', certificate.fingerprint256.replace(/:/g, '')],
    ['Certificate expires', new Date(certificate.validTo).toISOString()]
  ]
}

function decodeClaims(token: string): Record<string, unknown> | undefined {
  try {
    return decodeJwt(token)
  } catch {
    return undefined // an opaque token: nothing to show
  }
}
