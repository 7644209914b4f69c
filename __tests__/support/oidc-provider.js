// A real, independent OAuth 2.0 authorization server for the tests: panva's oidc-provider (v9), set
// up for the client_credentials grant with private_key_jwt client authentication, on loopback.
//
// It runs in a Node process of its own (this file is also its entry point), talked to over IPC:
// inside jest's VM context oidc-provider refuses every client ("client JSON Web Key Set is
// invalid"), because its `isPlainObject` is `a.constructor === Object` and jest hands the context
// the outer realm's `structuredClone`, whose copies have the outer realm's `Object`. A process of
// its own is also what a real server is, and what it prints stays out of the test log (`log()`).
//
// What oidc-provider needs (read from and measured against 9.13.3):
// - `features.clientCredentials.enabled: true` (off by default), and the client registered with
//   `grant_types: ['client_credentials']`, `response_types: []`, `redirect_uris: []`.
// - the scope in the provider's `scopes`: without a `resource` parameter the token endpoint keeps
//   only the scopes it knows (`filterStatics` in lib/shared/check_resource.js) and silently drops
//   the rest: an unknown scope gives a token without scope, and a response without `scope`. The
//   client's own `scope` metadata is the allow-list among known scopes (else `invalid_scope`).
//   `features.resourceIndicators` is on by default and needs nothing: without `resource` the
//   default `defaultResource` gives none, and the token is an opaque one for the scopes.
// - the client's `jwks` holding its public key; `alg` is optional, `kid` is not needed.
//   oidc-provider picks candidate keys by `kty`, `alg`, `crv` (and `kid` only when the assertion's
//   header has one; a `kid` in the header that no key has fails: "no applicable key found") and
//   tries each. The `x5t#S256`/`x5t` header the action sends is not looked at (a bogus one is
//   accepted), so the JWK needs no thumbprint. `token_endpoint_auth_signing_alg` pins the `alg`
//   ("alg mismatch" otherwise), and must be in `enabledJWA.clientAuthSigningAlgValues`, whose
//   default lacks ES384 (a client registered with ES384 is refused as invalid_client_metadata).
// - `aud` of the assertion (lib/shared/jwt_client_auth.js, lib/helpers/oidc_context.js
//   `clientJwtAuthExpectedAudience`): the issuer identifier, or the token endpoint URL as built
//   from the request's own scheme and Host header (so `localhost` in `aud` fails when the request
//   went to 127.0.0.1), or an array holding one of them; exact string match (no trailing slash).
//   `exp`, `jti`, `iss` (= client_id) and `sub` are required. A `jti` is accepted once per client
//   until the assertion's `exp` (+ clock tolerance): `ReplayDetection.unique` in the adapter,
//   always on ("client assertion tokens must only be used once").
// - quiet: explicit signing keys (`jwks`), explicit `ttl.ClientCredentials`, `devInteractions`
//   off, `silent` (Koa's error printing); the remaining notices (the in-memory adapter, and
//   "Unsupported runtime" on Node < 22 when the package is imported) go through
//   console.warn/console.info and are swallowed while the package loads and the provider is built.
import { spawn } from 'node:child_process'
import { createPublicKey, generateKeyPairSync, randomUUID } from 'node:crypto'
import { createServer as createHttpServer } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import { fileURLToPath } from 'node:url'
import { decodeJwt, decodeProtectedHeader, exportJWK } from 'jose'

/**
 * One registered client.
 * @typedef {object} OidcClient
 * @property {string} clientId
 * @property {string} [publicKeyPem] its public key, as SPKI PEM, a certificate PEM or even the private key PEM
 * @property {import('jose').JWK} [jwk] its public key as a JWK, instead of `publicKeyPem`
 * @property {'PS256' | 'RS256' | 'ES256' | 'ES384'} alg the one algorithm its assertions may use
 * @property {string} [scope] the scopes it may ask for; default 'profile-search'
 */

/**
 * @typedef {object} OidcProviderOptions
 * @property {OidcClient[]} clients
 * @property {{ keyPem: string, certPem: string }} [tls] serve HTTPS with this certificate; plain HTTP otherwise
 * @property {number} [tokenTtl] lifetime of issued tokens in seconds; default 1800
 */

/**
 * What the server said about a token it issued.
 * @typedef {{ active: false } | { active: true, clientId: string, scope: string | undefined, exp: number }} Introspection
 */

/**
 * Why a request was refused, as oidc-provider reported it (its `grant.error` event): `error` and
 * `description` as sent, `detail` only logged (the reason, e.g. 'signature verification failed').
 * @typedef {{ error: string, description: string | undefined, detail: string | undefined }} OidcError
 */

/**
 * One token request the provider answered, with the client assertion it carried.
 * @typedef {object} OidcRequest
 * @property {string | undefined} assertion the `client_assertion` as sent
 * @property {import('jose').ProtectedHeaderParameters | undefined} header its decoded header
 * @property {import('jose').JWTPayload | undefined} payload its decoded claims
 * @property {OidcError} [error] set when the request was refused
 */

/**
 * @typedef {object} OidcProvider
 * @property {string} issuer the issuer identifier, `http(s)://127.0.0.1:PORT`
 * @property {string} tokenEndpoint `${issuer}/token`
 * @property {(token: string) => Promise<Introspection>} introspect looks the token up in the provider's own store
 * @property {OidcRequest[]} requests token requests answered so far, oldest first; complete after `sync()`
 * @property {() => Promise<void>} sync waits until every request answered so far is in `requests`
 * @property {() => string} log what the server process printed (nothing, when all is well)
 * @property {() => Promise<void>} close
 */

/**
 * The part of oidc-provider's Provider (a Koa application) used here.
 * @typedef {object} Provider
 * @property {boolean} silent
 * @property {(event: string, listener: (...args: any[]) => void) => void} on
 * @property {() => import('node:http').RequestListener} callback
 * @property {{ find(token: string): Promise<{ clientId: string, scope?: string, exp: number } | undefined> }} ClientCredentials
 */

/**
 * Messages between the test process and the server process.
 * @typedef {{ type: 'start', options: OidcProviderOptions } | { type: 'introspect', id: number, token: string } | { type: 'sync', id: number } | { type: 'close' }} ToServer
 * @typedef {{ type: 'ready', issuer: string } | { type: 'failed', message: string } | { type: 'request', request: OidcRequest } | { type: 'reply', id: number, result?: Introspection }} FromServer
 */

/** The scope the tests ask for. */
export const DEFAULT_SCOPE = 'profile-search'

const SELF = fileURLToPath(import.meta.url)

/**
 * Starts oidc-provider in a process of its own, on 127.0.0.1 at a free port.
 * @param {OidcProviderOptions} options
 * @returns {Promise<OidcProvider>}
 */
export async function startOidcProvider(options) {
  // Without the parent's NODE_OPTIONS (jest's --experimental-vm-modules): a plain Node process.
  const child = spawn(process.execPath, [SELF], {
    env: { ...process.env, NODE_OPTIONS: '' },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc']
  })
  // Nothing of the child holds the test process open: when a test file ends without close() (a
  // hook that timed out before the server was ready, or a failed test), jest can still exit, and
  // the child, its IPC channel gone, exits on 'disconnect'.
  child.unref()
  child.channel?.unref()
  let printed = ''
  for (const stream of [child.stdout, child.stderr]) {
    if (!stream) continue
    stream.on('data', (d) => (printed += d))
    // A piped stdio stream is a socket; unref'd like the child.
    const socket = /** @type {{ unref?: () => void }} */ (/** @type {unknown} */ (stream))
    socket.unref?.()
  }
  /** @type {OidcRequest[]} */
  const requests = []
  /** @type {Map<number, { resolve: (result?: Introspection) => void, reject: (error: Error) => void }>} */
  const pending = new Map()
  let nextId = 0
  /** @param {Error} error */
  const failAll = (error) => {
    for (const { reject } of pending.values()) reject(error)
    pending.clear()
  }
  /** @type {(issuer: string) => void} */
  let onReady = () => {}
  /** @type {(error: Error) => void} */
  let onFailed = failAll
  /** @type {Promise<string>} */
  const ready = new Promise((resolve, reject) => {
    onReady = resolve
    onFailed = (error) => {
      reject(error)
      failAll(error)
    }
  })
  child.on('message', (/** @type {FromServer} */ message) => {
    if (message.type === 'ready') onReady(message.issuer)
    else if (message.type === 'failed') onFailed(new Error(`oidc-provider: ${message.message}`))
    else if (message.type === 'request') requests.push(message.request)
    else if (message.type === 'reply') {
      pending.get(message.id)?.resolve(message.result)
      pending.delete(message.id)
    }
  })
  const exited = new Promise((resolve) =>
    child.once('exit', (code) => {
      onFailed(new Error(`oidc-provider exited with ${code}:\n${printed}`))
      resolve(undefined)
    })
  )
  /** @param {ToServer} message */
  const send = (message) => child.send(message)
  /**
   * @param {(id: number) => ToServer} message
   * @returns {Promise<Introspection | undefined>}
   */
  const ask = (message) =>
    new Promise((resolve, reject) => {
      if (child.exitCode !== null) return reject(new Error('oidc-provider has stopped'))
      const id = nextId++
      pending.set(id, { resolve, reject })
      send(message(id))
    })

  send({ type: 'start', options })
  let issuer
  try {
    issuer = await ready
  } catch (error) {
    child.kill()
    throw error
  }
  return {
    issuer,
    tokenEndpoint: `${issuer}/token`,
    requests,
    async introspect(token) {
      return /** @type {Introspection} */ (await ask((id) => ({ type: 'introspect', id, token })))
    },
    async sync() {
      // IPC keeps order: the answer comes after every request reported before it.
      await ask((id) => ({ type: 'sync', id }))
    },
    log: () => printed,
    async close() {
      if (child.exitCode === null) send({ type: 'close' })
      await exited
    }
  }
}

/**
 * The server itself, in this process.
 * @param {OidcProviderOptions} options
 * @param {(request: OidcRequest) => void} onRequest told of every token request answered, before the answer is sent
 */
async function serve(options, onRequest) {
  const clients = await Promise.all(options.clients.map(clientMetadata))
  const scopes = new Set(['openid'])
  for (const client of clients) for (const s of client.scope.split(' ')) scopes.add(s)

  /** @type {import('node:http').RequestListener} */
  let handler = (_req, res) => {
    res.writeHead(503).end()
  }
  const server = options.tls
    ? createHttpsServer({ key: options.tls.keyPem, cert: options.tls.certPem }, (req, res) =>
        handler(req, res)
      )
    : createHttpServer((req, res) => handler(req, res))
  await new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve(undefined))
  })
  const { port } = /** @type {import('node:net').AddressInfo} */ (server.address())
  const issuer = `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}`

  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const signingKey = {
    ...(await exportJWK(privateKey)),
    kid: randomUUID(),
    alg: 'RS256',
    use: 'sig'
  }

  /** @type {Provider} */
  const provider = await quietly(async () => {
    // @ts-expect-error -- oidc-provider ships no type declarations (and @types/oidc-provider is not installed)
    const { default: Provider } = await import('oidc-provider')
    return new Provider(issuer, {
      clients,
      scopes: [...scopes],
      jwks: { keys: [signingKey] },
      cookies: { keys: [randomUUID()] },
      clientAuthMethods: ['private_key_jwt'],
      // The default list is RS256, PS256, ES256, Ed25519, EdDSA (and HS256): no ES384.
      enabledJWA: { clientAuthSigningAlgValues: ['PS256', 'RS256', 'ES256', 'ES384'] },
      features: {
        clientCredentials: { enabled: true },
        devInteractions: { enabled: false },
        introspection: { enabled: false },
        revocation: { enabled: false }
      },
      ttl: { ClientCredentials: options.tokenTtl ?? 1800 }
    })
  })
  // Koa would print every 5xx; they are reported as requests instead.
  provider.silent = true
  /** @param {any} ctx @param {OidcError} [error] */
  const record = (ctx, error) =>
    onRequest({ ...decoded(ctx?.oidc?.params?.client_assertion), error })
  provider.on('grant.success', (/** @type {any} */ ctx) => record(ctx))
  provider.on('grant.error', (/** @type {any} */ ctx, /** @type {any} */ error) =>
    record(ctx, {
      error: String(error.error ?? error.message),
      description: error.error_description,
      detail: error.error_detail
    })
  )
  provider.on('server_error', (/** @type {any} */ ctx, /** @type {any} */ error) =>
    record(ctx, { error: 'server_error', description: String(error), detail: error?.stack })
  )
  handler = provider.callback()

  return {
    issuer,
    /**
     * @param {string} token
     * @returns {Promise<Introspection>}
     */
    async introspect(token) {
      const found = await provider.ClientCredentials.find(token)
      if (!found) return { active: false }
      return { active: true, clientId: found.clientId, scope: found.scope, exp: found.exp }
    },
    /** @returns {Promise<void>} */
    close: () =>
      new Promise((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()))
        server.closeAllConnections()
      })
  }
}

/** The server process: started by `startOidcProvider`, driven over IPC. */
function main() {
  /** @param {FromServer} message */
  const send = (message) => process.send?.(message)
  /** @type {Awaited<ReturnType<typeof serve>> | undefined} */
  let running
  process.on('disconnect', () => process.exit(0))
  process.on('message', async (/** @type {ToServer} */ message) => {
    try {
      if (message.type === 'start') {
        running = await serve(message.options, (request) => send({ type: 'request', request }))
        send({ type: 'ready', issuer: running.issuer })
      } else if (message.type === 'introspect') {
        send({ type: 'reply', id: message.id, result: await running?.introspect(message.token) })
      } else if (message.type === 'sync') {
        send({ type: 'reply', id: message.id })
      } else if (message.type === 'close') {
        await running?.close()
        process.exit(0)
      }
    } catch (error) {
      send({
        type: 'failed',
        message: error instanceof Error ? (error.stack ?? error.message) : String(error)
      })
    }
  })
}

if (process.argv[1] === SELF && process.send) main()

/**
 * The client's registration: private_key_jwt with one public key, client_credentials only.
 * @param {OidcClient} client
 */
async function clientMetadata(client) {
  if (!client.jwk && !client.publicKeyPem) {
    throw new TypeError(`client ${client.clientId}: give publicKeyPem or jwk`)
  }
  const jwk = client.jwk
    ? { ...client.jwk }
    : await exportJWK(createPublicKey(/** @type {string} */ (client.publicKeyPem)))
  return {
    client_id: client.clientId,
    token_endpoint_auth_method: 'private_key_jwt',
    token_endpoint_auth_signing_alg: client.alg,
    jwks: { keys: [{ ...jwk, alg: client.alg, use: 'sig' }] },
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    scope: client.scope ?? DEFAULT_SCOPE
  }
}

/**
 * A client assertion and what it says, as far as it decodes.
 * @param {unknown} assertion
 * @returns {Pick<OidcRequest, 'assertion' | 'header' | 'payload'>}
 */
function decoded(assertion) {
  if (typeof assertion !== 'string')
    return { assertion: undefined, header: undefined, payload: undefined }
  try {
    return { assertion, header: decodeProtectedHeader(assertion), payload: decodeJwt(assertion) }
  } catch {
    return { assertion, header: undefined, payload: undefined }
  }
}

/**
 * Runs `action` with console.warn and console.info silenced: oidc-provider's start-up notices.
 * @template T
 * @param {() => Promise<T>} action
 * @returns {Promise<T>}
 */
async function quietly(action) {
  const { warn, info } = console
  console.warn = () => {}
  console.info = () => {}
  try {
    return await action()
  } finally {
    console.warn = warn
    console.info = info
  }
}
