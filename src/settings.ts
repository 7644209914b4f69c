/**
 * The action's settings, typed, and the constants they are checked against: what the input reader
 * (action/inputs.ts) produces and everything below it (oauth/, keys/, service/) takes, so that none
 * of those imports the reader.
 */

/** Signing algorithms the action can use for the client assertion. */
export type Algorithm = 'PS256' | 'RS256' | 'ES256' | 'ES384'
export const ALGORITHMS: readonly Algorithm[] = ['PS256', 'RS256', 'ES256', 'ES384']

/**
 * Lifetime of an assertion, by default and at most. Microsoft's certificate credentials page
 * (entra-docs, docs/identity-platform/certificate-credentials.md, claim `exp`): "keep it short -
 * 5-10 minutes after `nbf` at most"; @azure/msal-node signs its own with `exp` = `nbf` + 600
 * (lib/msal-node/src/client/ClientAssertion.ts, createJwt).
 */
export const ASSERTION_LIFETIME_SECONDS = 600
/**
 * Shortest lifetime accepted: Entra sets no lower bound, but an assertion handed to a later step
 * must outlive that step's start on a server that allows no clock skew.
 */
export const MIN_ASSERTION_LIFETIME_SECONDS = 60

/** Microsoft Entra ID's public cloud, the default authority host. */
export const DEFAULT_AUTHORITY_HOST = 'https://login.microsoftonline.com'
/** The audience Entra expects in a GitHub OIDC token by default (PROTOCOL.md §5). */
export const DEFAULT_OIDC_AUDIENCE = 'api://AzureADTokenExchange'

/** Where the signing key and certificate come from. */
export interface CertificateSource {
  kind: 'certificate'
  /** PEM text (key and certificates) or base64 of a PKCS#12/PFX file. */
  certificate?: string
  /** Absolute path of a PEM or PFX file. */
  certificateFile?: string
  /** PEM private key, when `certificate` holds only certificates. */
  privateKey?: string
  /** Passphrase of an encrypted key or of the PFX. */
  password?: string
}

/** No certificate: the runner's GitHub OIDC token is the client assertion (PROTOCOL.md §5). */
export interface OidcSource {
  kind: 'oidc'
  /** The `aud` to ask the runner for. */
  audience: string
}

/** Everything the action needs, read and checked once. */
export interface Settings {
  clientId: string
  /** Set when the token endpoint is Entra's (built from `authority-host` and `tenant-id`). */
  tenantId?: string
  /** Empty only with `assertionOnly` when no scope is given. */
  scope: string
  /** The URL the token request is POSTed to. */
  tokenEndpoint: string
  /** Whether Entra's rules apply (no `token-endpoint` given). */
  entra: boolean
  /** The assertion's `aud`. */
  audience: string
  algorithm: Algorithm
  sendX5c: boolean
  credential: CertificateSource | OidcSource
  /** Partner Center-style exchange endpoint (PROTOCOL.md §3). */
  exchangeUrl?: string
  /** Environment variable to export the token to. */
  exportVariable?: string
  /** Seconds the `client-assertion` output (and every assertion sent) is valid. */
  assertionLifetime: number
  /** Only sign the assertion for later steps: no token request. */
  assertionOnly: boolean
  /** Start the token service for the job's later steps (src/service/). */
  identityEndpoint: boolean
}
