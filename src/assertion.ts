import { randomUUID } from 'node:crypto'
import { SignJWT, type JWTHeaderParameters } from 'jose'
import type { Credential } from './credential.js'
import { ActionError } from './errors.js'
import type { Algorithm } from './inputs.js'

/** Lifetime of an assertion: Entra allows "5-10 minutes after nbf at most"; MSAL uses 600 s. */
export const ASSERTION_LIFETIME_SECONDS = 600

/** What the assertion says, besides the key that signs it. */
export interface AssertionOptions {
  clientId: string
  /** The `aud` claim: the token endpoint URL, or the server's issuer identifier. */
  audience: string
  algorithm: Algorithm
  /** Send the certificate chain in `x5c` (subject name + issuer authentication). */
  sendX5c: boolean
  /** Clock, injectable for tests. */
  now?: () => Date
  /** `jti` source, injectable for tests; a fresh GUID by default. */
  newId?: () => string
}

/**
 * Signs a client assertion (RFC 7523 §2.2, PROTOCOL.md §1): `iss` = `sub` = client ID, `aud`,
 * a fresh `jti`, `nbf` = `iat` = now, `exp` = now + 600 s. The header names the certificate by
 * thumbprint: `x5t#S256` with PS256 (and with ES256/ES384), `x5t` with RS256; `x5c` on request.
 */
export async function signAssertion(
  credential: Credential,
  options: AssertionOptions
): Promise<string> {
  const now = Math.floor((options.now ?? (() => new Date()))().getTime() / 1000)
  const header: JWTHeaderParameters = { alg: options.algorithm, typ: 'JWT' }
  if (options.algorithm === 'RS256') header.x5t = credential.x5t
  else header['x5t#S256'] = credential.x5tS256
  if (options.sendX5c) header.x5c = credential.chain.map((c) => c.raw.toString('base64'))

  try {
    return await new SignJWT({ jti: (options.newId ?? randomUUID)() })
      .setProtectedHeader(header)
      .setIssuer(options.clientId)
      .setSubject(options.clientId)
      .setAudience(options.audience)
      .setIssuedAt(now)
      .setNotBefore(now)
      .setExpirationTime(now + ASSERTION_LIFETIME_SECONDS)
      .sign(credential.privateKey)
  } catch (error) {
    // jose's text names the key type or algorithm only, never key material; kept for diagnosis.
    const reason = error instanceof Error ? error.message : String(error)
    throw new ActionError(
      `Could not sign the client assertion with ${options.algorithm}: ${reason}`
    )
  }
}
