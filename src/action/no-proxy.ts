/**
 * The token service and a job's proxy. Corporate self-hosted runners set `HTTP_PROXY`/`HTTPS_PROXY`
 * with a `NO_PROXY` such as `localhost,.corp.example`: then `@azure/identity`, Python's
 * `azure-identity` (requests), and curl send `GET http://127.0.0.1:<port>/msi/token`, with its
 * `X-IDENTITY-HEADER`, to the proxy. The main step adds `127.0.0.1` to both spellings of
 * `NO_PROXY` for the job's later steps, each kept as the job set it.
 */

/** The variables by which a client finds a proxy (curl, requests, Go, @azure/identity). */
const PROXY_VARIABLES = [
  'HTTP_PROXY',
  'http_proxy',
  'HTTPS_PROXY',
  'https_proxy',
  'ALL_PROXY',
  'all_proxy'
]

/** Whether the job has a proxy variable set. */
export function hasProxy(env: NodeJS.ProcessEnv): boolean {
  return PROXY_VARIABLES.some((name) => Boolean(env[name]?.trim()))
}

/**
 * Whether a `NO_PROXY` list already sends 127.0.0.1 past the proxy for every client: `*` or the
 * address itself. Other forms are not read alike by every client (`127.0.0.0/8` is a CIDR for
 * curl ≥ 7.86 and Go, a plain name for Node's clients and requests), so with them `127.0.0.1` is
 * added all the same, which costs nothing.
 */
export function coversLoopback(noProxy: string): boolean {
  return noProxy.split(/[\s,]+/).some((entry) => entry === '*' || entry === '127.0.0.1')
}

/**
 * The `NO_PROXY` and `no_proxy` values later steps need, or nothing to set when the job has no
 * proxy or both already cover 127.0.0.1. Each keeps the job's own value: Python's requests reads
 * the lowercase one first, curl and Node's clients the uppercase one, so each is the value that
 * spelling's readers saw (the other spelling's when it was unset), plus `127.0.0.1`.
 */
export function noProxyFor(env: NodeJS.ProcessEnv): Record<string, string> {
  if (!hasProxy(env)) return {}
  const upper = env.NO_PROXY ?? env.no_proxy ?? ''
  const lower = env.no_proxy ?? env.NO_PROXY ?? ''
  const values: Record<string, string> = {}
  if (!coversLoopback(upper)) values.NO_PROXY = withLoopback(upper)
  if (!coversLoopback(lower)) values.no_proxy = withLoopback(lower)
  return values
}

function withLoopback(list: string): string {
  const kept = list.trim().replace(/,+$/, '')
  return kept ? `${kept},127.0.0.1` : '127.0.0.1'
}

/**
 * Whether a client reading the proxy variables as most do would send a request for
 * `http://127.0.0.1` to a proxy: some proxy variable set and neither spelling of `NO_PROXY`
 * covering the address. The main step's first request is sent directly in any case (never the
 * identity header to a proxy); when this holds it warns that later steps' clients would not.
 */
export function proxiesLoopback(env: NodeJS.ProcessEnv): boolean {
  if (!hasProxy(env)) return false
  return !coversLoopback(env.NO_PROXY ?? '') || !coversLoopback(env.no_proxy ?? env.NO_PROXY ?? '')
}
