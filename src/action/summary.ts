import { decodeJwt } from 'jose'
import type { Credential } from '../keys/credential.js'
import type { Settings } from '../settings.js'
import type { TokenResponse } from '../oauth/token.js'

/** One row of the job summary: a label and a value that is safe to show, HTML-escaped. */
export type SummaryRow = [label: string, value: string]

/** What the summary shows of a credential: the leaf certificate and its thumbprints. */
type SummaryCredential = Pick<Credential, 'chain' | 'thumbprints'>

/**
 * What the job summary shows: the request, the token's claims when it is a JWT (decoded, never the
 * token itself), and the certificate's subject, thumbprints and expiry. Nothing secret. Every value
 * is HTML-escaped: `core.summary` writes cells as they are, and the claims, the endpoint and the
 * scope come from a server or an input.
 */
export function summarise(
  settings: Settings,
  token: TokenResponse,
  credential?: SummaryCredential
): SummaryRow[] {
  const certificate = credential?.chain[0]
  const rows: SummaryRow[] = [['Client ID', settings.clientId]]
  if (settings.tenantId) rows.push(['Tenant', settings.tenantId])
  rows.push(['Token endpoint', settings.tokenEndpoint], ['Scope', settings.scope])
  rows.push(['Credential', certificate ? 'certificate' : 'GitHub OIDC token (federation)'])

  const claims = decodeClaims(token.accessToken)
  if (claims) {
    // Only strings: a claim is the server's JSON, of any shape and depth.
    const aud = strings(claims.aud)
    if (aud) rows.push(['Token audience', aud])
    const roles = strings(claims.roles)
    if (roles) rows.push(['Token roles', roles])
    if (typeof claims.scp === 'string') rows.push(['Token scopes (scp)', claims.scp])
  }
  rows.push(['Token expires', `${token.expiresOn.toISOString()} (in ${token.expiresIn} s)`])

  if (credential) rows.push(...certificateRows(credential))
  return escapeRows(rows)
}

/** Every value HTML-escaped: `core.summary` writes cells as they are. */
function escapeRows(rows: SummaryRow[]): SummaryRow[] {
  return rows.map(([label, value]) => [label, escapeHtml(value)])
}

const ENTITIES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;'
}

/**
 * Escapes text for an HTML table cell in the job summary: the five HTML metacharacters as entities,
 * line breaks and other control characters as spaces (a line break would end the Markdown table),
 * and at most 1,000 characters.
 */
export function escapeHtml(text: string): string {
  const plain = text.length > 1000 ? `${text.slice(0, 997)}...` : text
  return (
    plain
      .replace(/[&<>"']/g, (c) => ENTITIES[c])
      // eslint-disable-next-line no-control-regex
      .replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, ' ')
  )
}

/** A string claim, or an array claim's string items joined; empty when there are none. */
function strings(claim: unknown): string {
  const items = (Array.isArray(claim) ? claim : [claim]).filter((c) => typeof c === 'string')
  return items.slice(0, 100).join(', ')
}

/**
 * The job summary of an `assertion-only` run: who the assertion is for, until when, and the
 * certificate that signed it. Never the assertion.
 */
export function summariseAssertion(
  settings: Settings,
  expiresOn: string,
  credential?: SummaryCredential
): SummaryRow[] {
  const rows: SummaryRow[] = [['Client ID', settings.clientId]]
  if (settings.tenantId) rows.push(['Tenant', settings.tenantId])
  rows.push(
    [
      'Assertion audience',
      settings.credential.kind === 'oidc' ? settings.credential.audience : settings.audience
    ],
    ['Credential', credential ? 'certificate' : 'GitHub OIDC token (federation)'],
    ['Assertion expires', expiresOn]
  )
  if (credential) rows.push(...certificateRows(credential))
  return escapeRows(rows)
}

/** The leaf's thumbprints come from its bytes as given, as the portal computes its own. */
function certificateRows(credential: SummaryCredential): SummaryRow[] {
  const certificate = credential.chain[0]
  return [
    ['Certificate subject', certificate.subject.replace(/\n/g, ', ')],
    ['Certificate thumbprint (SHA-1)', credential.thumbprints.sha1],
    ['Certificate thumbprint (SHA-256)', credential.thumbprints.sha256],
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
