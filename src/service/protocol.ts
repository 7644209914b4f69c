// The managed-identity endpoint protocols the token service speaks (PROTOCOL.md §7), as a pure
// function of the request: which token is asked for, or why the request is refused. No I/O here.
import { createHash, timingSafeEqual } from 'node:crypto'

/** App Service's current protocol (api-version 2019-08-01), read by every current Azure client. */
export const APP_SERVICE_PATH = '/msi/token'
export const APP_SERVICE_API_VERSION = '2019-08-01'
/** The Instance Metadata Service's path, which Terraform's azurerm provider calls. */
export const IMDS_PATH = '/metadata/identity/oauth2/token'
export const STOP_PATH = '/stop'

/** Longest request target taken: a resource URI and a few parameters. */
export const MAX_TARGET_LENGTH = 2048

/** What the service knows when it judges a request. */
export interface Expected {
  /** `127.0.0.1:PORT`: any other `Host` (DNS rebinding) is refused. */
  host: string
  /** The `X-IDENTITY-HEADER` value. */
  header: string
  /** The secret first segment of the IMDS-shaped URL, which cannot carry a header. */
  pathSecret: string
  /** The `X-Stop-Key` of the stop request, known to the action's `post:` step only. */
  stopKey: string
  /** The one app this endpoint serves. */
  clientId: string
}

/** What a request reaches the service with. */
export interface Request {
  method: string
  target: string
  headers: Record<string, string | string[] | undefined>
}

export type Route =
  | { kind: 'token'; resource: string; shape: 'app-service' | 'imds' }
  | { kind: 'stop' }
  | { kind: 'refuse'; status: number; message?: string }

/** Query parameters that name another managed identity: this endpoint has only one. */
const OTHER_IDENTITIES = ['principal_id', 'object_id', 'mi_res_id', 'msi_res_id', 'resource_id']

/** Compares secrets in constant time (their hashes, so that lengths do not show either). */
export function sameSecret(given: string | undefined, expected: string): boolean {
  if (given === undefined) return false
  const hash = (text: string): Buffer => createHash('sha256').update(text).digest()
  return timingSafeEqual(hash(given), hash(expected))
}

function header(request: Request, name: string): string | undefined {
  const value = request.headers[name]
  return Array.isArray(value) ? value[0] : value
}

/**
 * Why a request comes from elsewhere than a step of this runner, if it does: this endpoint is
 * for the job's steps, which ask it directly.
 * - A browser's page: only browsers send `Origin` (the Fetch standard: on every cross-origin
 *   request and every POST) and `Sec-Fetch-Site` (W3C Fetch Metadata; `same-origin` and `none`
 *   cannot come from a page elsewhere).
 * - A proxy relaying: an absolute-form target (RFC 9112 §3.2.2) is what a client sends to a
 *   forward proxy; a proxy adds `Via` (RFC 9110 §7.6.3), `X-Forwarded-For` or `Forwarded`
 *   (RFC 7239), and `Proxy-*` headers are addressed to a proxy, never to an origin server.
 * @returns the explanation for a 403, or undefined.
 */
function relay(request: Request): string | undefined {
  const names = Object.keys(request.headers)
  if (names.includes('origin')) return 'Requests from a browser (Origin) are refused.'
  const site = header(request, 'sec-fetch-site')
  if (site === 'cross-site' || site === 'same-site') {
    return `Requests from a browser (Sec-Fetch-Site: ${site}) are refused.`
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(request.target)) {
    return 'Requests for an absolute URL (to a proxy) are refused: ask for the path, with no proxy for 127.0.0.1 (NO_PROXY).'
  }
  if (names.includes('x-forwarded-for') || names.includes('forwarded')) {
    return 'Relayed requests (X-Forwarded-For, Forwarded) are refused.'
  }
  if (names.some((name) => name === 'via' || name.startsWith('proxy-'))) {
    return 'Requests relayed by a proxy (Via, Proxy-*) are refused: ask with no proxy for 127.0.0.1 (NO_PROXY).'
  }
  return undefined
}

/**
 * Judges one request. Checks come in this order: the request's size, `Host`, a relay, the secret
 * (401 with nothing else, before anything about the request is said), then the protocol.
 */
export function route(request: Request, expected: Expected): Route {
  if (request.target.length > MAX_TARGET_LENGTH) return { kind: 'refuse', status: 414 }
  // A page in a browser that resolves its own name to 127.0.0.1 sends its own Host.
  if (header(request, 'host') !== expected.host) {
    return { kind: 'refuse', status: 421, message: `Host must be ${expected.host}.` }
  }
  const relayed = relay(request)
  if (relayed !== undefined) return { kind: 'refuse', status: 403, message: relayed }
  if (!request.target.startsWith('/')) {
    return { kind: 'refuse', status: 400, message: 'The request target is not a URL path.' }
  }
  let url: URL
  try {
    url = new URL(request.target, `http://${expected.host}`)
  } catch {
    return { kind: 'refuse', status: 400, message: 'The request target is not a URL path.' }
  }
  let shape: 'app-service' | 'imds'
  if (url.pathname === STOP_PATH && request.method === 'POST') {
    return sameSecret(header(request, 'x-stop-key'), expected.stopKey)
      ? { kind: 'stop' }
      : { kind: 'refuse', status: 401 }
  } else if (url.pathname === APP_SERVICE_PATH) {
    if (!sameSecret(header(request, 'x-identity-header'), expected.header)) {
      return { kind: 'refuse', status: 401 }
    }
    shape = 'app-service'
  } else if (url.pathname.endsWith(IMDS_PATH)) {
    const secret = url.pathname.slice(1, -IMDS_PATH.length)
    if (!sameSecret(secret, expected.pathSecret)) return { kind: 'refuse', status: 401 }
    if (header(request, 'metadata') !== 'true') {
      return { kind: 'refuse', status: 400, message: 'The Metadata: true header is missing.' }
    }
    shape = 'imds'
  } else {
    return { kind: 'refuse', status: 404, message: `No such path: use ${APP_SERVICE_PATH}.` }
  }
  if (request.method !== 'GET') {
    return { kind: 'refuse', status: 405, message: 'Only GET asks for a token.' }
  }
  const query = url.searchParams
  if (shape === 'app-service' && query.get('api-version') !== APP_SERVICE_API_VERSION) {
    return {
      kind: 'refuse',
      status: 400,
      message: `api-version must be ${APP_SERVICE_API_VERSION}.`
    }
  }
  const resource = query.get('resource')
  if (!resource) {
    return {
      kind: 'refuse',
      status: 400,
      message: 'The resource parameter is missing, e.g. resource=https://management.azure.com/.'
    }
  }
  const other = OTHER_IDENTITIES.find((name) => query.has(name))
  const clientId = query.get('client_id') ?? query.get('clientid')
  if (other !== undefined || (clientId !== null && clientId !== expected.clientId)) {
    return {
      kind: 'refuse',
      status: 400,
      message: `This endpoint serves one app, client ID ${expected.clientId}: ask without ${other ?? 'client_id'}, or with client_id=${expected.clientId}.`
    }
  }
  return { kind: 'token', resource, shape }
}

/** The scope of a v1 resource, kept as the client sent it (`https://management.core.windows.net/` too). */
export function scopeOf(resource: string): string {
  return `${resource}/.default`
}
