import { HttpClient, type HttpClientResponse } from '@actions/http-client'
import { decodeJwt } from 'jose'
import { measureClockSkew } from './clock.js'
import * as diagnostics from 'node:diagnostics_channel'
import type { IncomingMessage } from 'node:http'
import type { Socket } from 'node:net'
import { errorCode, excerpt, parseJson, preview, tokenLike, type Json } from './answer.js'
import { clip, Secrets } from '../log.js'
import { TokenError } from '../errors.js'
import { parseRetryAfter, TransientError, withRetries, type RetryDeps } from './retry.js'

/** A token as the server issued it. */
export interface TokenResponse {
  accessToken: string
  tokenType: string
  expiresIn: number
  expiresOn: Date
}

/** One HTTP answer, body read in full. */
export interface HttpAnswer {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: string
}

const USER_AGENT = 'certificate-token-action'
const FORM = 'application/x-www-form-urlencoded'

/** Largest answer body read: token answers are a few KiB; more is not a token server's answer. */
export const MAX_BODY_BYTES = 1024 * 1024

/** Thrown by the transport when the answer body passes {@link MAX_BODY_BYTES}. */
class BodyTooLarge extends Error {
  readonly code = 'EBODYTOOLARGE'
}

/**
 * Sends a form POST and reads the answer within `timeoutMs`; rejects on network faults. Through
 * `@actions/http-client` (proxies through `HTTPS_PROXY`/`NO_PROXY`), no redirects, no retries of its
 * own. The body is read through a bounded reader ({@link MAX_BODY_BYTES}). When the attempt ends,
 * answered or abandoned, every socket it opened is destroyed: the client's own (through its agent)
 * and those the proxy tunnel opens for its CONNECT, which the client cannot reach (found through
 * Node's `net.client.socket` diagnostics channel), so nothing keeps the process alive.
 */
async function postForm(
  url: string,
  body: string,
  headers: Record<string, string>,
  timeoutMs: number
): Promise<HttpAnswer> {
  const client = new HttpClient(USER_AGENT, undefined, {
    allowRedirects: false,
    // Stryker disable next-line BooleanLiteral: http-client retries only GET, HEAD, OPTIONS and DELETE, never this POST
    allowRetries: false,
    // Stryker disable next-line BooleanLiteral: every socket of an attempt is destroyed when it ends, kept alive or not
    keepAlive: false,
    socketTimeout: timeoutMs
  })
  const sockets = new Set<Socket>()
  const track = (message: unknown): void => {
    const socket = (message as { socket?: Socket }).socket
    if (socket) sockets.add(socket)
  }
  diagnostics.subscribe('net.client.socket', track)
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      // Stryker disable next-line StringLiteral: only the code is read
      () => reject(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })),
      timeoutMs
    )
  })
  let response: HttpClientResponse | undefined
  try {
    const exchange = (async () => {
      response = await client.post(url, body, { 'Content-Type': FORM, ...headers })
      return {
        status: response.message.statusCode ?? 0,
        headers: response.message.headers,
        body: await readBounded(response.message, MAX_BODY_BYTES)
      }
    })()
    // The race handles a rejection of the exchange that comes after the deadline.
    return await Promise.race([exchange, deadline])
  } finally {
    // Stryker disable next-line CallExpression: a pending timer only rejects a promise no one awaits; the process exits on its own
    clearTimeout(timer)
    // Stryker disable next-line CallExpression,StringLiteral: a socket tracked after the attempt is never read
    diagnostics.unsubscribe('net.client.socket', track)
    response?.message.destroy()
    // Stryker disable next-line CallExpression: its agents' sockets are destroyed on the next line
    client.dispose()
    for (const socket of sockets) socket.destroy()
  }
}

/**
 * Reads a body up to `limit` bytes; past that, stops reading, destroys the stream and rejects with
 * {@link BodyTooLarge}. Decoded as UTF-8 once, at the end.
 */
function readBounded(stream: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    stream.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size > limit) {
        // Stryker disable next-line CallExpression: the finally of the attempt destroys the response and its socket
        stream.destroy()
        // Stryker disable next-line StringLiteral: only the code is read
        reject(new BodyTooLarge('body too large'))
        return
      }
      chunks.push(chunk)
    })
    stream.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
    // Stryker disable next-line all: IncomingMessage emits error only to a listener, and close rejects with ECONNRESET too
    stream.on('error', reject)
    // Stryker disable next-line all: a body cut short emits error and close, and error rejects with ECONNRESET too
    stream.on('close', () => reject(Object.assign(new Error('closed'), { code: 'ECONNRESET' })))
  })
}

/**
 * What signed the request, for the hints: the certificate (its SHA-1 thumbprint, hex), the GitHub
 * OIDC token (federation), or nothing of the action's (the exchange's bearer token).
 */
export type Signer = { thumbprint: string } | 'federation'

/** What the token request needs besides the assertion. */
export interface TokenRequest {
  tokenEndpoint: string
  clientId: string
  scope: string
  /** Signs (or fetches) a fresh assertion within `timeoutMs`: each attempt needs its own `jti`. */
  assertion: (timeoutMs: number) => Promise<string>
  /** The leaf certificate's SHA-1 thumbprint (hex), named in hints; absent with OIDC federation. */
  thumbprint?: string
  /**
   * With a certificate: told the server's clock minus ours (ms) when the server refused the
   * assertion's time range and its clock is off by more than a minute (see clock.ts); the request
   * is then made once more, with assertions the callback has set to the server's time.
   */
  onClockSkew?: (offsetMs: number) => void
}

/**
 * Client credentials grant with a JWT client assertion (RFC 7521 §4.2, RFC 7523 §2.2, PROTOCOL.md
 * §1), retried on transient faults with a fresh assertion each time, and once more on the
 * server's clock when it says the runner's is off (`onClockSkew`).
 * @throws {TokenError} with the server's explanation.
 */
export async function requestToken(request: TokenRequest, deps: RetryDeps): Promise<TokenResponse> {
  const skew: { ms?: number } = {}
  // Every assertion sent so far: a server may quote an earlier one in a later answer.
  // Stryker disable next-line ArrayDeclaration: a text no answer holds would only be redacted
  const signed: string[] = []
  try {
    return await requestTokenOnce(request, deps, signed, skew)
  } catch (error) {
    // A runner whose clock is off (AADSTS700024): once more on the server's time, never twice.
    if (skew.ms === undefined || request.onClockSkew === undefined) throw error
    request.onClockSkew(skew.ms)
    return await requestTokenOnce(request, deps, signed)
  }
}

/**
 * The token request with its retries; `signed` collects the assertions sent, `skew` gets the clock
 * offset the last answer shows.
 */
async function requestTokenOnce(
  request: TokenRequest,
  deps: RetryDeps,
  signed: string[],
  skew?: { ms?: number }
): Promise<TokenResponse> {
  return withRetries(async (timeoutMs) => {
    const assertion = await request.assertion(timeoutMs)
    signed.push(assertion)
    const body = new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: request.clientId,
      scope: request.scope,
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: assertion
    }).toString()
    const sent = deps.now()
    const answer = await send(request.tokenEndpoint, body, {}, timeoutMs, 'Token request')
    if (skew && request.onClockSkew) skew.ms = measureClockSkew(answer, deps.now())
    return readToken(
      answer,
      'Token request',
      request.tokenEndpoint,
      sent,
      signed,
      request.thumbprint === undefined ? 'federation' : { thumbprint: request.thumbprint }
    )
  }, deps)
}

/**
 * Partner Center's token exchange (PROTOCOL.md §3): the app-only Entra token as a bearer token,
 * `grant_type=jwt_token`, answered with the Partner Center token.
 */
export async function exchangeToken(
  url: string,
  token: string,
  deps: RetryDeps
): Promise<TokenResponse> {
  return withRetries(async (timeoutMs) => {
    const sent = deps.now()
    const headers = { Authorization: `Bearer ${token}` }
    const answer = await send(url, 'grant_type=jwt_token', headers, timeoutMs, 'Token exchange')
    return readToken(answer, 'Token exchange', url, sent, [token])
  }, deps)
}

async function send(
  url: string,
  body: string,
  headers: Record<string, string>,
  timeoutMs: number,
  what: string
): Promise<HttpAnswer> {
  try {
    return await postForm(url, body, { Accept: 'application/json', ...headers }, timeoutMs)
  } catch (error) {
    // Only the error code and our own words: a library's message may quote the request.
    // Stryker disable next-line StringLiteral: every error of node:net, node:tls and http-client here has a code
    const code = String((error as NodeJS.ErrnoException).code ?? 'network error')
    const host = new URL(url).host
    if (code === 'EBODYTOOLARGE') {
      throw new TokenError(
        `${what} to ${url} failed: ${host} answered with a body over ${MAX_BODY_BYTES / 1024 / 1024} MiB, which is not a token answer: check the URL and the proxy.`
      )
    }
    if (code.startsWith('HPE_')) {
      // The answer is not valid HTTP: a wrong port, or something other than a web server.
      throw new TokenError(
        `${what} to ${url} failed: ${host} gave a malformed HTTP answer (${code}): check the URL (scheme and port) and the proxy.`
      )
    }
    if (code === 'ETIMEDOUT') {
      const cause = `no answer within ${Math.round(timeoutMs / 1000)} s`
      throw new TransientError(`${what} to ${url} failed: ${host} gave ${cause}.`, cause)
    }
    // tunnel reports a proxy that refuses the CONNECT as ECONNRESET; its message has the status.
    // Stryker disable next-line Regex: tunnel's message starts with this text, never has it later
    const refused = /^tunneling socket could not be established, statusCode=(\d+)/.exec(
      // Stryker disable next-line StringLiteral: an Error always has a message
      (error as Error).message ?? ''
    )
    if (refused) {
      throw new TokenError(
        `${what} to ${url} failed: the proxy refused to connect to ${host}: HTTP ${refused[1]}${refused[1] === '407' ? ' (proxy authentication required)' : ''}. Check HTTPS_PROXY (and its credentials) and NO_PROXY.`
      )
    }
    const cause = `${code}${NETWORK_CODES[code] ? ` (${NETWORK_CODES[code]})` : ''}`
    if (TLS_CODES.has(code)) {
      throw new TokenError(
        `${what} to ${url} failed: the TLS certificate of ${host} is not trusted: ${cause}. A self-hosted runner behind a TLS-inspecting proxy needs its CA in NODE_EXTRA_CA_CERTS.`
      )
    }
    if (code === 'ENOTFOUND') {
      throw new TokenError(
        `${what} to ${url} failed: ${host} could not be reached: ${cause}. Check the URL, DNS, and the proxy (HTTPS_PROXY/NO_PROXY).`
      )
    }
    throw new TransientError(
      `${what} to ${url} failed: ${host} could not be reached: ${cause}.`,
      cause
    )
  }
}

const NETWORK_CODES: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'DNS lookup timed out',
  EPIPE: 'connection closed',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'TLS certificate not trusted',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'TLS certificate not trusted',
  CERT_HAS_EXPIRED: 'TLS certificate expired',
  SELF_SIGNED_CERT_IN_CHAIN: 'TLS certificate not trusted',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'TLS certificate not trusted',
  ERR_TLS_CERT_ALTNAME_INVALID: 'TLS certificate does not match the host'
}
// A TLS certificate that is not trusted will not become trusted on retry.
const TLS_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_HAS_EXPIRED',
  'ERR_TLS_CERT_ALTNAME_INVALID'
])

/**
 * Reads a token server's answer, which is untrusted in every part: the token from a 2xx JSON
 * answer, else a one-line explanation of the failure (status, error, AADSTS code, first sentence,
 * trace and correlation IDs, hint) with `secrets` and token-like values of the body redacted
 * before anything is clipped. Linear in the body.
 * @param what `Token request` or `Token exchange`, the start of the message.
 * @param sent when the request was sent (epoch ms): the base of `expires_in`.
 * @throws {TransientError} for 429, 5xx (but 501, 505) and `temporarily_unavailable`.
 * @throws {TokenError} for every other failure.
 */
export function readToken(
  answer: HttpAnswer,
  what: string,
  url: string,
  sent: number,
  secrets: string[],
  signer?: Signer
): TokenResponse {
  const json = parseJson(answer.body)
  if (answer.status < 100 || answer.status > 599) {
    // Not an HTTP status (RFC 9110 §15): neither success nor a failure worth retrying.
    throw new TokenError(
      `${what} to ${url} failed: the server answered with HTTP status ${answer.status}, which is not a valid status: check the URL and the proxy.`,
      answer.status
    )
  }
  if (answer.status >= 200 && answer.status < 300) {
    const token = json?.access_token
    if (typeof token === 'string' && token.trim()) {
      if (!isToken(token)) {
        // Checked before anything masks it: masking the pieces of such a value would hide
        // ordinary words (a line `the`) in every later line of the job.
        throw new TokenError(
          `${what} to ${url} failed: the access_token it answered is not a token (RFC 6749 appendix A.12: visible ASCII characters, at most ${MAX_TOKEN_LENGTH / 1024} KiB; this one has a line break, a control or non-ASCII character, or is longer): check that the URL is the token endpoint.`,
          answer.status
        )
      }
      const expiresIn = lifetime(json!.expires_in, token, sent)
      return {
        accessToken: token,
        // Only a plain word: the server's text goes into the log.
        tokenType:
          typeof json!.token_type === 'string' && TOKEN_TYPE.test(json!.token_type)
            ? json!.token_type
            : 'Bearer',
        expiresIn,
        expiresOn: new Date(sent + expiresIn * 1000)
      }
    }
    // A success in a shape not expected may still hold the token somewhere: never quote it.
    const keys = json && Object.keys(json).slice(0, 10)
    const fields = keys
      ? `fields: ${keys.map((k) => clip(k.replace(/[^\w.-]/g, '?'), 40)).join(', ') || 'none'}`
      : 'not JSON'
    const blank = typeof token === 'string' ? ', access_token is blank' : ''
    throw new TokenError(
      `${what} to ${url} failed: HTTP ${answer.status} without an access_token (${fields}${blank}).`,
      answer.status
    )
  }
  const failure = describe(answer, json, [...secrets, ...tokenLike(json)], signer)
  const message = `${what} to ${url} failed: ${failure.text}`
  const transient =
    answer.status === 429 ||
    // 5xx but 501 Not Implemented and 505 HTTP Version Not Supported, which will not change.
    (answer.status >= 500 && answer.status !== 501 && answer.status !== 505) ||
    json?.error === 'temporarily_unavailable'
  if (transient) {
    const retryAfter = parseRetryAfter(header(answer, 'retry-after'), sent)
    // The error name tells why a 4xx is retried (temporarily_unavailable).
    const name = answer.status < 429 && typeof json?.error === 'string' ? ` ${json.error}` : ''
    const cause = `HTTP ${answer.status}${name}${failure.code ? ` (AADSTS${failure.code})` : ''}`
    throw new TransientError(message, cause, answer.status, retryAfter)
  }
  throw new TokenError(message, answer.status)
}

/**
 * Seconds the token lives: `expires_in` as a number or numeric string (Partner Center sends a
 * string); when absent or unreadable (RFC 6749 §5.1 only recommends it), from the token's own `exp`
 * if it is a JWT; else the common one hour.
 */
function lifetime(expiresIn: unknown, token: string, sent: number): number {
  const seconds =
    typeof expiresIn === 'string' && /^\d+$/.test(expiresIn.trim()) ? Number(expiresIn) : expiresIn
  if (typeof seconds === 'number' && seconds >= 0 && seconds <= MAX_LIFETIME_SECONDS) {
    return Math.floor(seconds)
  }
  try {
    const exp = decodeJwt(token).exp
    if (typeof exp === 'number') {
      return Math.min(MAX_LIFETIME_SECONDS, Math.max(0, Math.floor(exp - sent / 1000)))
    }
  } catch {
    // an opaque token
  }
  return 3600
}

const TOKEN_TYPE = /^[A-Za-z][\w.-]{0,30}$/

/** Longest token taken: real ones are a few KiB (an HTTP header rarely takes more than 16 KiB). */
export const MAX_TOKEN_LENGTH = 64 * 1024

/**
 * Whether a value can be an access token: `1*VSCHAR` (RFC 6749 appendix A.12: the visible ASCII
 * characters and space) of at most {@link MAX_TOKEN_LENGTH} characters.
 */
export function isToken(value: string): boolean {
  return value.length <= MAX_TOKEN_LENGTH && /^[\x20-\x7e]+$/.test(value)
}
/** Longest lifetime believed (ten years); a larger `expires_in` is not a real one. */
const MAX_LIFETIME_SECONDS = 10 * 365 * 86_400

function header(answer: HttpAnswer, name: string): string | undefined {
  const value = answer.headers[name]
  return Array.isArray(value) ? value[0] : value
}

/** Hints for the usual causes, by AADSTS code (PROTOCOL.md §1); the text itself is only shown. */
const HINTS: Record<string, string> = {
  '700016':
    "check 'client-id', and that 'tenant-id' is the tenant that holds the app registration.",
  '90002':
    "check 'tenant-id', and 'authority-host' for a sovereign cloud (login.microsoftonline.us, login.chinacloudapi.cn).",
  '700027':
    'upload this certificate (thumbprint {thumbprint}) to the app registration under Certificates & secrets, or use the certificate that is uploaded there; if it is uploaded, try algorithm: RS256.',
  '700023':
    "the assertion's audience is not the token endpoint: remove 'audience', or set it to the token endpoint URL.",
  '700021':
    "'client-id' must be the application (client) ID of the app registration that holds the certificate.",
  '700024': "the assertion is outside its valid time range: the runner's clock is off.",
  '70011':
    "set 'scope' to one resource followed by /.default, e.g. https://graph.microsoft.com/.default.",
  '1002012':
    "set 'scope' to one resource followed by /.default, e.g. https://graph.microsoft.com/.default.",
  '500011':
    "the scope's resource is not in this tenant: check the resource URI in 'scope', or grant the app access to it in this tenant.",
  '7000215':
    'the app registration was sent a client secret; this action sends a certificate assertion: check that the certificate is uploaded to this app.',
  '1000502':
    'the certificate has expired or was revoked: create a new one and upload it to the app registration.',
  '7000214':
    'the certificate has expired or was revoked: create a new one and upload it to the app registration.',
  '7000277':
    'the certificate has expired or was revoked: create a new one and upload it to the app registration.',
  '50196': 'the server is throttling requests: run less often, or try again later.',
  '90055': 'the server is throttling requests: run less often, or try again later.'
}

/**
 * Hints when the assertion is the GitHub OIDC token (no certificate). The issuer is the OIDC
 * token's `iss`: https://token.actions.githubusercontent.com on github.com, and
 * https://HOSTNAME/_services/token on GitHub Enterprise Server (GitHub Docs, "About security
 * hardening with OpenID Connect"). The national clouds' audiences are those of Microsoft Graph's
 * federatedIdentityCredential `audiences`.
 */
const FEDERATION_HINTS: Record<string, string> = {
  '700027':
    "the GitHub OIDC token was not accepted: add a federated credential for this repository to the app registration (issuer https://token.actions.githubusercontent.com, or https://HOSTNAME/_services/token on GitHub Enterprise Server; audience as in 'oidc-audience').",
  '70021':
    "no federated credential of the app matches this workflow: its subject must match the job's (repo:OWNER/REPO:ref:refs/heads/BRANCH, or :environment:NAME for jobs with an environment).",
  '700024': "the GitHub OIDC token is outside its valid time range: the runner's clock is off.",
  '700211':
    "no federated credential of the app has the OIDC token's issuer (https://token.actions.githubusercontent.com, or https://HOSTNAME/_services/token on GitHub Enterprise Server).",
  '700212':
    "no federated credential of the app has the OIDC token's audience: set 'oidc-audience' to the credential's audience (default api://AzureADTokenExchange; Microsoft suggests api://AzureADTokenExchangeUSGov for US Government and api://AzureADTokenExchangeChina for Microsoft Azure operated by 21Vianet).",
  '700213':
    "no federated credential of the app matches this workflow's subject (repo:OWNER/REPO:ref:refs/heads/BRANCH, or :environment:NAME for jobs with an environment)."
}

/** After every federation hint: a certificate meant to be used may have come from an empty secret. */
const FEDERATION_CAUSE =
  'Federation was used because no certificate was given; if the certificate comes from a secret, that secret is empty in this run (forks, Dependabot, a misspelt name, or an environment secret outside its environment).'

/** Hints for standard OAuth 2.0 error codes (RFC 6749 §5.2) from servers other than Entra. */
const OAUTH_HINTS: Record<string, string> = {
  invalid_client:
    "the server did not accept the client assertion: check 'client-id', that the certificate's public key is registered for the client, and 'audience'.",
  invalid_scope: "check 'scope' against what the server allows this client.",
  unauthorized_client: 'the client is not allowed the client_credentials grant on this server.',
  invalid_grant: "the server refused the grant: check 'client-id' and 'audience'.",
  unsupported_grant_type: 'the server does not support the client_credentials grant.'
}

/**
 * Explains a failed answer in one line: status, error, AADSTS code and the first sentence of the
 * description, trace and correlation IDs, and a hint. A non-JSON body (an HTML error page) is
 * summarised as a short excerpt without tags.
 */
function describe(
  answer: HttpAnswer,
  json: Json | undefined,
  secrets: string[],
  signer?: Signer
): { text: string; code?: string } {
  // Redacted and clipped in one pass, so no part of a secret the server echoes survives, and the
  // work is bounded by what is shown, however long the field is.
  const hidden = new Secrets()
  for (const secret of secrets) hidden.add(secret)
  const shown = (value: string, max: number): string => hidden.show(value.replace(/\s+/g, ' '), max)
  const parts = [`HTTP ${answer.status}`]
  let code: string | undefined
  if (json) {
    const error = str(json.error)
    const description = str(json.error_description) ?? str(json.message) ?? str(json.description)
    code = errorCode(json.error_codes, description)
    if (error) parts[0] += ` ${shown(error, 100)}`
    if (description) {
      // One line: Entra separates the trace and correlation IDs with line breaks.
      const text = shown(description, 2000).replace(/^AADSTS\d+:\s*/, '')
      const sentence = firstSentence(text)
      parts.push(`${code ? `AADSTS${code}: ` : ''}${clip(sentence, 300)}`)
    } else if (code) {
      parts.push(`AADSTS${code}`)
    } else if (!error) {
      parts.push(`body: ${shown(preview(json, 400, hidden), 200)}`)
    }
    const federated =
      signer === 'federation' &&
      code !== undefined &&
      Object.hasOwn(FEDERATION_HINTS, code) &&
      // A clock that is off says nothing about which credential was meant.
      `${FEDERATION_HINTS[code]}${code === '700024' ? '' : ` ${FEDERATION_CAUSE}`}`
    const thumbprint = typeof signer === 'object' ? signer.thumbprint : ''
    const aadsts = code !== undefined ? HINTS[code] : undefined
    const hint =
      federated ||
      // A hint about the certificate only where a certificate signed what was sent.
      (aadsts && (thumbprint || !aadsts.includes('{thumbprint}')) ? aadsts : undefined) ||
      (error && Object.hasOwn(OAUTH_HINTS, error) ? OAUTH_HINTS[error] : undefined)
    if (hint) parts.push(`Hint: ${hint.replace('{thumbprint}', thumbprint)}`)
    const trace = str(json.trace_id)
    const correlation = str(json.correlation_id)
    if (trace) parts.push(`Trace ID: ${shown(trace, 100)}`)
    if (correlation) parts.push(`Correlation ID: ${shown(correlation, 100)}`)
  } else {
    const summary = shown(excerpt(answer.body, 400, hidden), 120)
    parts[0] += summary
      ? ` (not JSON): "${summary}"`
      : answer.body.trim()
        ? ` (not JSON, ${Buffer.byteLength(answer.body)} bytes without readable text)`
        : ' with an empty body'
    if (answer.status >= 300 && answer.status < 400)
      parts.push(
        `Hint: the server redirects (to ${shown(header(answer, 'location') ?? 'nowhere', 120)}); give the final token endpoint URL.`
      )
  }
  const text = parts
    .map((part) => part.replace(/\s+/g, ' ').replace(/[.\s]+$/, ''))
    .map((part) => (/[!?]$/.test(part) ? part : `${part}.`))
    .join(' ')
  return { text: hidden.show(text), code }
}

/** The first sentence of a description: up to the first `.`, `!` or `?` before a space or the end. */
function firstSentence(text: string): string {
  const end = /[.!?]\s/.exec(text)
  return end ? text.slice(0, end.index + 1) : text
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' && value ? value : undefined
}
