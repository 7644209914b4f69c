// What the main step hands the token service over its stdin pipe: never through argv, the
// environment or a file, which other processes of the runner can read.
import type { Algorithm } from '../settings.js'

export interface ServiceConfig {
  clientId: string
  tokenEndpoint: string
  /** With a certificate: the key (PKCS#8 PEM) and the chain (base64 DER, leaf first). */
  certificate?: {
    keyPem: string
    chain: string[]
    audience: string
    algorithm: Algorithm
    sendX5c: boolean
    lifetimeSeconds: number
    clockOffsetMs: number
  }
  /** With GitHub OIDC federation: the runner's OIDC endpoint, asked for a fresh token each time. */
  oidc?: { requestUrl: string; requestToken: string; audience: string }
  /** The `X-IDENTITY-HEADER` value. */
  header: string
  /** The secret path segment of the IMDS-shaped URL. */
  pathSecret: string
  /** The key of the stop request. */
  stopKey: string
  /** The main step's token, for the resource of its scope. */
  seed?: { resource: string; accessToken: string; tokenType: string; expiresOn: number }
  /** The service's own log, which `post:` shows. */
  logFile: string
  /** The runner's worker process: when it is gone, nothing can reach the service any more. */
  watchPid?: number
}

/** Longest config read from the pipe: a key, a chain of 32 certificates and a token. */
export const MAX_CONFIG_BYTES = 1024 * 1024
