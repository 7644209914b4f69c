import { decodeJwt } from 'jose'
import type { Credential } from './credential.js'
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
  credential?: Pick<Credential, 'chain' | 'thumbprints'>
): SummaryRow[] {
  const certificate = credential?.chain[0]
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

  if (credential && certificate) {
    // Computed from the certificate's bytes as given, as the portal computes its own.
    rows.push(
      ['Certificate subject', certificate.subject.replace(/\n/g, ', ')],
      ['Certificate thumbprint (SHA-1)', credential.thumbprints.sha1],
      ['Certificate thumbprint (SHA-256)', credential.thumbprints.sha256],
      ['Certificate expires', new Date(certificate.validTo).toISOString()]
    )
  }
  return rows
}

function decodeClaims(token: string): Record<string, unknown> | undefined {
  try {
    return decodeJwt(token)
  } catch {
    return undefined // an opaque token: nothing to show
  }
}
