import { constants, randomUUID, sign, type KeyObject, type SignKeyObjectInput } from 'node:crypto'
import type { Credential } from '../keys/credential.js'
import { ActionError } from '../errors.js'
import { ASSERTION_LIFETIME_SECONDS, type Algorithm } from '../settings.js'

/** What the assertion says, besides the key that signs it. */
export interface AssertionOptions {
  clientId: string
  /** The `aud` claim: the token endpoint URL, or the server's issuer identifier. */
  audience: string
  algorithm: Algorithm
  /** Send the certificate chain in `x5c` (subject name + issuer authentication). */
  sendX5c: boolean
  /** Seconds from `nbf` to `exp`; default {@link ASSERTION_LIFETIME_SECONDS}. */
  lifetimeSeconds?: number
  /**
   * The server's clock minus this one, in ms, added to the times: measured from the server's
   * `Date` when it refused the assertion's time range (AADSTS700024). Default 0.
   */
  clockOffsetMs?: number
  /** Clock, injectable for tests. */
  now?: () => Date
  /** `jti` source, injectable for tests; a fresh GUID by default. */
  newId?: () => string
}

/**
 * Signs a client assertion (RFC 7523 §2.2, PROTOCOL.md §1): `iss` = `sub` = client ID, `aud`,
 * a fresh `jti`, `nbf` = `iat` = now (plus the clock offset), `exp` = now + the lifetime (600 s).
 * The header names the certificate by thumbprint: `x5t#S256` with PS256 (and with ES256/ES384),
 * `x5t` with RS256; `x5c` on request.
 *
 * The JWS compact serialization (RFC 7515 §7.1) is written here and signed with node:crypto rather
 * than with jose, whose WebCrypto path costs about 5 ms more per run (KeyObject to CryptoKey, the
 * async subtle.sign): a fifth of this action's own start-up. The tests verify every assertion
 * with jose.
 */
export async function signAssertion(
  credential: Credential,
  options: AssertionOptions
): Promise<string> {
  const clock = (options.now ?? (() => new Date()))().getTime() + (options.clockOffsetMs ?? 0)
  const now = Math.floor(clock / 1000)
  const header: Record<string, unknown> = { alg: options.algorithm, typ: 'JWT' }
  if (options.algorithm === 'RS256') header.x5t = credential.x5t
  else header['x5t#S256'] = credential.x5tS256
  if (options.sendX5c) header.x5c = credential.chainDer.map((der) => der.toString('base64'))
  const claims = {
    jti: (options.newId ?? randomUUID)(),
    iss: options.clientId,
    sub: options.clientId,
    aud: options.audience,
    iat: now,
    nbf: now,
    exp: now + (options.lifetimeSeconds ?? ASSERTION_LIFETIME_SECONDS)
  }
  const input = `${encode(header)}.${encode(claims)}`
  // checkCredential has matched the key to the algorithm; node:crypto would otherwise sign an EC
  // key's ECDSA signature under PS256, or an RSA signature under ES256, without complaint.
  const ec = options.algorithm.startsWith('ES')
  const mismatch = new ActionError(
    `Could not sign the client assertion with ${options.algorithm}: the key is not an ${ec ? 'EC' : 'RSA'} key of the size ${options.algorithm} needs.`
  )
  const key = credential.privateKey
  if (key.asymmetricKeyType !== (ec ? 'ec' : 'rsa')) throw mismatch
  if (ec && key.asymmetricKeyDetails?.namedCurve !== CURVES[options.algorithm]) throw mismatch
  try {
    const signature = sign(
      HASHES[options.algorithm],
      Buffer.from(input),
      signingKey(key, options.algorithm)
    )
    return `${input}.${signature.toString('base64url')}`
  } catch {
    // node:crypto's text is OpenSSL's (a key too small for the padding); it names no key
    // material, but says little either.
    throw mismatch
  }
}

/** Hash of each algorithm (RFC 7518 §3.1). */
const HASHES: Record<Algorithm, string> = {
  PS256: 'sha256',
  RS256: 'sha256',
  ES256: 'sha256',
  ES384: 'sha384'
}

/** The curve of each ECDSA algorithm (RFC 7518 §3.4), as node:crypto names it. */
const CURVES: Partial<Record<Algorithm, string>> = { ES256: 'prime256v1', ES384: 'secp384r1' }

/** Padding and signature format per algorithm (RFC 7518 §3.3-3.5). */
function signingKey(key: KeyObject, algorithm: Algorithm): SignKeyObjectInput {
  if (algorithm === 'PS256')
    return { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }
  // Stryker disable next-line ConditionalExpression: node:crypto signs with an RSA key in PKCS#1 v1.5 by default, and ignores dsaEncoding for it
  if (algorithm === 'RS256') return { key, padding: constants.RSA_PKCS1_PADDING }
  return { key, dsaEncoding: 'ieee-p1363' }
}

function encode(value: object): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url')
}
