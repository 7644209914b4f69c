// An Entra-like token server on loopback, for the tests and `npm run demo` (plain JavaScript: the
// demo runs without a compiler). It checks what Microsoft Entra ID checks in a client credentials
// request with a certificate (PROTOCOL.md §1) or a federated GitHub OIDC token (§5) and answers
// with Entra-shaped errors; it also plays Partner Center's token exchange (§3) and the runner's
// OIDC token endpoint. Faults (429, 5xx, resets, hangs, HTML gateway pages) can be queued.
// It never logs.
import { createHash, generateKeyPair, KeyObject, randomBytes, randomUUID } from 'node:crypto'
import { X509Certificate } from 'node:crypto'
import { createServer as createHttpServer } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import { URL, URLSearchParams } from 'node:url'
import { promisify } from 'node:util'
import {
  compactVerify,
  createLocalJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  exportJWK,
  SignJWT
} from 'jose'

/**
 * A GitHub-OIDC-style federated credential of an app (PROTOCOL.md §5).
 * @typedef {object} FederatedCredential
 * @property {string} [issuer] default: this server's GitHub issuer (`server.githubIssuer`).
 * @property {string} [subject] when set, the assertion's `sub` must equal it.
 * @property {string} [audience] default `api://AzureADTokenExchange`.
 * @property {import('jose').JWK | import('jose').JWK[] | import('jose').JSONWebKeySet | KeyObject} [jwks]
 *   the issuer's public key(s); default: this server's GitHub key (`server.githubJwks`).
 */
/**
 * An app registration.
 * @typedef {object} EntraApp
 * @property {string} clientId
 * @property {string} tenantId
 * @property {Array<X509Certificate | string>} certificates registered certificates (PEM or parsed).
 * @property {string[]} [roles] default `['Application.Read.All']`.
 * @property {FederatedCredential} [federated]
 */
/**
 * Answer a token or exchange request with this instead of handling it.
 * @typedef {{ status: number, body?: string, contentType?: string, retryAfter?: string, headers?: Record<string, string> }
 *   | { reset: true } | { hang: true } | { html502: true }} Fault
 */
/**
 * One request as received.
 * @typedef {object} RecordedRequest
 * @property {string} method
 * @property {string} path the request target, query included.
 * @property {import('node:http').IncomingHttpHeaders} headers
 * @property {string} body
 * @property {Record<string, string>} form the form fields ({} unless form-encoded).
 * @property {{ header: import('jose').ProtectedHeaderParameters, payload: import('jose').JWTPayload }} [assertion]
 *   the `client_assertion`, decoded (not verified), when it decodes.
 */
/**
 * @typedef {object} EntraServerOptions
 * @property {EntraApp[]} apps
 * @property {{ keyPem: string, certPem: string }} [tls] serve HTTPS with this certificate.
 * @property {string[]} [resources] resources known in every tenant (apps' client IDs are too).
 * @property {number} [maxSkewSeconds] clock skew allowed on exp, nbf and iat; default 300.
 * @property {number} [tokenLifetime] seconds the access tokens live; default 3599.
 * @property {() => number} [now] the server's clock, in ms; default Date.now. When set, every
 *   answer's `Date` header comes from it too, as a server's own clock would write it.
 * @property {boolean} [refuseReplayedJti] refuse a certificate assertion whose `jti` was accepted
 *   before (AADSTS50013). Default false, as Entra: it takes the same assertion again within its
 *   lifetime (msal-node itself reuses its signed assertion until it expires, ClientAssertion.ts),
 *   and tools given one assertion (az login --federated-token, Terraform's ARM_OIDC_TOKEN) send it
 *   for every token they need.
 */
/**
 * @typedef {object} EntraServer
 * @property {string} url the origin, e.g. `http://127.0.0.1:PORT`.
 * @property {(tenantId: string) => string} tokenUrl
 * @property {string} exchangeUrl the Partner Center-like `/generatetoken`.
 * @property {string} oidcRequestUrl for ACTIONS_ID_TOKEN_REQUEST_URL.
 * @property {string} oidcRequestToken for ACTIONS_ID_TOKEN_REQUEST_TOKEN.
 * @property {string} githubIssuer the `iss` of the OIDC tokens.
 * @property {import('jose').JSONWebKeySet} githubJwks public key of the OIDC tokens.
 * @property {import('jose').JSONWebKeySet} tokenJwks public key of the access tokens.
 * @property {EntraApp[]} apps the live app list: apps may be added after start.
 * @property {RecordedRequest[]} requests every request, in order.
 * @property {string[]} issued access tokens issued (token and exchange endpoints), in order.
 * @property {string[]} idTokens OIDC tokens issued, in order.
 * @property {Fault[]} faults consumed one per token or exchange request, before handling it.
 * @property {() => Promise<void>} close closes the server and destroys open sockets.
 */

/**
 * Entra's answers by AADSTS code: `status error text`, `{name}` filled in from the details. The
 * texts follow Entra's (reference-error-codes.md, real answers), shortened. Codes Entra does not
 * document for a check are marked "chosen".
 */
const AADSTS = {
  900561:
    '400 invalid_request The endpoint only accepts POST, OPTIONS requests. Received a {method} request.',
  // A body that is not form-encoded counts as empty: Entra reads form bodies only.
  900144: "400 invalid_request The request body must contain the following parameter: '{name}'.",
  70003: "400 unsupported_grant_type The app requested an unsupported grant type '{grantType}'.",
  7000215:
    '401 invalid_client Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app.',
  7000218:
    "401 invalid_client The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
  // Chosen: InvalidRequestParameter.
  90100:
    "400 invalid_request The parameter 'client_assertion_type' is empty or not valid. Expected 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'.",
  90002:
    "400 invalid_request Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.",
  700016:
    "400 unauthorized_client Application with identifier '{clientId}' was not found in the directory '{tenant}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.",
  700022:
    '400 invalid_scope The provided value for the input parameter scope is not valid because it contains more than one resource. Scope {scope} is not valid.',
  70011:
    "400 invalid_scope The provided value for the input parameter 'scope' is not valid. The scope {scope} is not valid.",
  1002012:
    '400 invalid_scope The provided value for scope {scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).',
  500011:
    '400 invalid_resource The resource principal named {resource} was not found in the tenant named {tenant}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.',
  // Not a compact JWS, typ not JWT, a time claim that is not a number.
  50027: '400 invalid_request JWT token is invalid or malformed. {reason}',
  // Unsupported alg, missing or unregistered thumbprint, expired certificate, bad x5c, signature.
  700027: '401 invalid_client Client assertion failed signature validation. [Reason - {reason}]',
  700021:
    "401 invalid_client Client assertion application identifier doesn't match 'client_id' parameter. Review the documentation at https://learn.microsoft.com/entra/identity-platform/certificate-credentials .",
  700023:
    "401 invalid_client Client assertion audience claim does not match Realm issuer. Expected '{expected}', got '{aud}'.",
  700024:
    '401 invalid_client Client assertion is not within its valid time range. {reason} Current time: {now}, assertion valid from {nbf}, expiry time of assertion {exp}.',
  // Chosen: MissingRequiredField ("an expected field isn't present in the credential").
  90014:
    "400 invalid_request The required field '{name}' is missing from the credential. Ensure that you have all the necessary parameters for the login request.",
  // Chosen: Entra documents no replay code; 50013 (InvalidAssertion) is its catch-all. Only with
  // the refuseReplayedJti option: Entra itself takes a reused assertion within its lifetime.
  50013:
    "401 invalid_client Assertion is invalid. The client assertion with jti '{jti}' was already used; sign a new one for every request.",
  70021:
    "400 invalid_request No matching federated identity record found for presented assertion. Assertion Issuer: '{iss}'. Assertion Subject: '{sub}'. Assertion Audience: '{aud}'."
}

const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'
const PARTNER_CENTER = 'https://api.partner.microsoft.com'
const GITHUB_ISSUER = 'https://token.actions.githubusercontent.com'
const GITHUB_SUBJECT = 'repo:octo/repo:ref:refs/heads/main'
const EXCHANGE_AUDIENCE = 'api://AzureADTokenExchange'
const DEFAULT_RESOURCES = ['https://graph.microsoft.com', PARTNER_CENTER, 'api://test-resource']
const TOKEN_PATH = /^\/([^/]+)\/oauth2\/v2\.0\/token$/
// MSAL (and so the Azure SDKs and the Azure CLI) reads a tenant's endpoints here first.
const OPENID_CONFIGURATION = /^\/([^/]+)\/v2\.0\/\.well-known\/openid-configuration$/
// Entra: exp at most "5-10 minutes after nbf"; MSAL uses 600 s. A little slack for slow signers.
const MAX_ASSERTION_LIFETIME = 600
const LIFETIME_SLACK = 30
const TOKEN_LIFETIME = 3599

/** An Entra refusal: thrown by the checks, answered by `sendEntraError`. */
class Refusal extends Error {
  /** @param {keyof typeof AADSTS} code @param {Record<string, unknown>} details */
  constructor(code, details) {
    const [, status, error, text] = /^(\d+) (\S+) (.*)$/.exec(AADSTS[code]) ?? []
    super(text.replace(/\{(\w+)\}/g, (_, name) => String(details[name] ?? 'none')))
    this.status = Number(status)
    this.error = error
    this.code = code
  }
}

/**
 * @param {keyof typeof AADSTS} code @param {Record<string, unknown>} [details]
 * @returns {never}
 */
function refuse(code, details = {}) {
  throw new Refusal(code, details)
}

/**
 * Starts the server on 127.0.0.1, on a free port.
 * @param {EntraServerOptions} options
 * @returns {Promise<EntraServer>}
 */
export async function startEntraServer(options) {
  const now = () => Math.floor((options.now ?? Date.now)() / 1000)
  const skew = options.maxSkewSeconds ?? 300
  const resources = options.resources ?? DEFAULT_RESOURCES
  const apps = [...options.apps]
  const [tokenKey, githubKey] = await Promise.all([newSigningKey(), newSigningKey()])
  const oidcRequestToken = randomBytes(24).toString('base64url')
  /** @type {RecordedRequest[]} */
  const requests = []
  /** @type {string[]} */
  const issued = []
  /** @type {string[]} */
  const idTokens = []
  /** @type {Fault[]} */
  const faults = []
  /** Access tokens issued, for the exchange. @type {Map<string, { aud: string, exp: number }>} */
  const tokens = new Map()
  /** Accepted `clientId/jti`s and their exp (refuseReplayedJti). @type {Map<string, number>} */
  const seen = new Map()

  const scheme = options.tls ? 'https' : 'http'
  /** @type {import('node:http').RequestListener} */
  const listener = (req, res) => {
    // Node writes `Date` from the machine's clock; a server with its own clock writes that one.
    if (options.now) res.setHeader('Date', new Date(options.now()).toUTCString())
    handle(req, res).catch(() => {
      // Never log: answer 500 while that is possible, else drop the connection.
      if (res.headersSent) res.destroy()
      else send(res, 500, { error: 'server_error' })
    })
  }
  const server = options.tls
    ? createHttpsServer({ key: options.tls.keyPem, cert: options.tls.certPem }, listener)
    : createHttpServer(listener)
  /** @type {Set<import('node:net').Socket>} */
  const sockets = new Set()
  server.on('connection', (socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })
  server.on('clientError', (_error, socket) => socket.destroy())
  await new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve(undefined))
  })
  const { port } = /** @type {import('node:net').AddressInfo} */ (server.address())
  const url = `${scheme}://127.0.0.1:${port}`

  /** @param {import('node:http').IncomingMessage} req @param {import('node:http').ServerResponse} res */
  async function handle(req, res) {
    const body = await readBody(req)
    const target = new URL(req.url ?? '/', url)
    const isForm = /^application\/x-www-form-urlencoded\s*(;|$)/i.test(
      req.headers['content-type'] ?? ''
    )
    /** @type {RecordedRequest} */
    const record = {
      method: req.method ?? 'GET',
      path: req.url ?? '/',
      headers: { ...req.headers },
      body,
      form: isForm ? Object.fromEntries(new URLSearchParams(body)) : {}
    }
    const assertion = decode(record.form.client_assertion)
    if (assertion) record.assertion = assertion
    requests.push(record)

    const tenant = TOKEN_PATH.exec(target.pathname)?.[1]
    const exchange = target.pathname === '/generatetoken'
    const fault = tenant !== undefined || exchange ? faults.shift() : undefined
    if (fault) return injectFault(fault, req, res)
    if (tenant !== undefined) {
      // aud must be the exact URL the client POSTed to, as it named the host.
      const audience = `${scheme}://${req.headers.host ?? target.host}${target.pathname}`
      try {
        return await issueToken(req, res, decodeURIComponent(tenant), audience, record.form)
      } catch (error) {
        if (!(error instanceof Refusal)) throw error
        return sendEntraError(req, res, error)
      }
    }
    if (exchange) return exchangeToken(req, res, record.form)
    if (target.pathname === '/oidc-token') return issueIdToken(req, res, target)
    const discovery = OPENID_CONFIGURATION.exec(target.pathname)?.[1]
    if (discovery !== undefined && req.method === 'GET') {
      return send(res, 200, openIdConfiguration(`${scheme}://${req.headers.host}/${discovery}`))
    }
    if (target.pathname === '/common/discovery/instance' && req.method === 'GET') {
      return send(res, 200, instanceDiscovery(`${req.headers.host}`))
    }
    send(res, 404, { error: 'not_found', error_description: `No endpoint at ${target.pathname}.` })
  }

  /**
   * The client credentials grant with a client assertion (PROTOCOL.md §1, §5).
   * @param {import('node:http').IncomingMessage} req @param {import('node:http').ServerResponse} res
   * @param {string} tenant @param {string} audience @param {Record<string, string>} form
   */
  async function issueToken(req, res, tenant, audience, form) {
    if (req.method !== 'POST') refuse(900561, { method: req.method })
    const need = (/** @type {string} */ name) => form[name] || refuse(900144, { name })
    const grantType = need('grant_type')
    if (grantType !== 'client_credentials') refuse(70003, { grantType })
    if (!form.client_assertion) refuse(form.client_secret ? 7000215 : 7000218)
    if (form.client_assertion_type !== JWT_BEARER) refuse(90100)
    const tenantApps = apps.filter((a) => same(a.tenantId, tenant))
    if (tenantApps.length === 0) refuse(90002, { tenant })
    const clientId = need('client_id')
    const app =
      tenantApps.find((a) => same(a.clientId, clientId)) ?? refuse(700016, { clientId, tenant })
    const resource = checkScope(need('scope'), tenant, tenantApps)

    const jws = form.client_assertion
    const { header, payload } = decode(jws) ?? malformed('The assertion is not a compact JWS.')
    const federated = app.federated
    // Entra finds a federated credential by the assertion's issuer; a GitHub token names no
    // certificate, so an assertion without a thumbprint goes there too.
    const thumbprinted = header.x5t !== undefined || header['x5t#S256'] !== undefined
    if (federated && (!thumbprinted || payload.iss === (federated.issuer ?? GITHUB_ISSUER))) {
      await checkFederated(jws, payload, federated)
    } else {
      await checkAssertion(jws, header, payload, app, audience)
    }

    const time = now()
    const lifetime = options.tokenLifetime ?? TOKEN_LIFETIME
    const exp = time + lifetime
    const accessToken = await new SignJWT({
      aud: resource,
      iss: `https://sts.windows.net/${app.tenantId}/`,
      iat: time,
      nbf: time,
      exp,
      appid: app.clientId,
      appidacr: '2',
      azp: app.clientId,
      idtyp: 'app',
      oid: objectId(app),
      sub: objectId(app),
      roles: app.roles ?? ['Application.Read.All'],
      tid: app.tenantId,
      uti: randomBytes(16).toString('base64url'),
      ver: '1.0'
    })
      .setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid: tokenKey.kid })
      .sign(tokenKey.privateKey)
    issued.push(accessToken)
    tokens.set(accessToken, { aud: resource, exp })
    send(res, 200, {
      token_type: 'Bearer',
      expires_in: lifetime,
      ext_expires_in: lifetime,
      access_token: accessToken
    })
  }

  /**
   * Exactly one `<resource>/.default`, for a resource the tenant knows (PROTOCOL.md §1).
   * @param {string} scope @param {string} tenant @param {EntraApp[]} tenantApps
   * @returns {string} the resource.
   */
  function checkScope(scope, tenant, tenantApps) {
    const scopes = scope.split(/\s+/).filter(Boolean)
    if (scopes.length > 1) {
      const owners = new Set(scopes.map((s) => s.replace(/\/[^/]*$/, '')))
      refuse(owners.size > 1 ? 700022 : 70011, { scope })
    }
    if (!scope.trim().endsWith('/.default')) refuse(1002012, { scope })
    const resource = scope.trim().slice(0, -'/.default'.length)
    if (!resource) refuse(70011, { scope })
    const known = [...resources, ...tenantApps.map((a) => a.clientId)]
    const bare = (/** @type {string} */ r) => r.replace(/\/$/, '')
    if (!known.some((r) => bare(r) === bare(resource))) refuse(500011, { resource, tenant })
    return resource
  }

  /**
   * A certificate assertion (RFC 7523 §3, PROTOCOL.md §1): its thumbprint names a registered
   * certificate whose key verifies the signature; iss = sub = client ID; aud = the token URL; a
   * short lifetime; a jti (not seen before, with refuseReplayedJti).
   * @param {string} jws @param {import('jose').ProtectedHeaderParameters} header
   * @param {import('jose').JWTPayload} payload @param {EntraApp} app @param {string} audience
   */
  async function checkAssertion(jws, header, payload, app, audience) {
    if (header.typ !== 'JWT') malformed(`The 'typ' header is '${header.typ}', not 'JWT'.`)
    // PS256 pairs with x5t#S256, RS256 with x5t; mixing them is undocumented (PROTOCOL.md §1).
    const name = { PS256: 'x5t#S256', RS256: 'x5t' }[header.alg ?? '']
    if (!name) refuse(700027, { reason: `Algorithm '${header.alg}' is not supported.` })
    const thumbprint = header[name]
    if (typeof thumbprint !== 'string' || !thumbprint) {
      refuse(700027, { reason: `An assertion signed with ${header.alg} needs '${name}'.` })
    }
    const digest = name === 'x5t' ? 'sha1' : 'sha256'
    const used = `Thumbprint of key used by client: '${hex(thumbprint)}'`
    const certificate =
      app.certificates.map(parse).find((c) => hash(digest, c.raw) === thumbprint) ??
      refuse(700027, {
        reason: `The key was not found., ${used}, Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '${app.clientId}'.`
      })
    if (Date.parse(certificate.validTo) < now() * 1000) {
      refuse(700027, { reason: `The key used is expired., ${used}` })
    }
    if (header.x5c !== undefined) checkChain(header.x5c, certificate)
    try {
      await compactVerify(jws, certificate.publicKey, { algorithms: [header.alg ?? ''] })
    } catch {
      refuse(700027, { reason: `The signature does not verify., ${used}` })
    }

    if (payload.iss !== app.clientId || payload.sub !== app.clientId) refuse(700021)
    if (payload.aud !== audience) refuse(700023, { expected: audience, aud: payload.aud })
    const exp = checkTimes(payload)
    const start = payload.nbf ?? payload.iat ?? now()
    if (exp - start > MAX_ASSERTION_LIFETIME + LIFETIME_SLACK) {
      outOfRange(`The lifetime is ${exp - start} s; at most ${MAX_ASSERTION_LIFETIME} s.`, payload)
    }
    if (typeof payload.jti !== 'string' || !payload.jti) refuse(90014, { name: 'jti' })
    const time = now()
    for (const [key, until] of seen) if (until + skew < time) seen.delete(key)
    const key = `${app.clientId}/${payload.jti}`
    if (options.refuseReplayedJti && seen.has(key)) refuse(50013, { jti: payload.jti })
    seen.set(key, exp)
  }

  /**
   * The header's `x5c` (RFC 7515 §4.1.6): standard base64 of DER, leaf first, the leaf being
   * the certificate the thumbprint names, each certificate issued by the next.
   * @param {unknown} x5c @param {X509Certificate} certificate
   */
  function checkChain(x5c, certificate) {
    if (!Array.isArray(x5c) || x5c.length === 0) badChain("'x5c' must be a non-empty array.")
    const chain = x5c.map((/** @type {unknown} */ entry, /** @type {number} */ i) => {
      if (typeof entry !== 'string' || !/^[A-Za-z0-9+/]+={0,2}$/.test(entry) || entry.length % 4) {
        return badChain(`'x5c' entry ${i} is not standard base64 of a DER certificate.`)
      }
      try {
        return new X509Certificate(Buffer.from(entry, 'base64'))
      } catch {
        return badChain(`'x5c' entry ${i} is not a certificate.`)
      }
    })
    if (!chain[0].raw.equals(certificate.raw)) badChain("'x5c' does not start with the leaf.")
    for (let i = 0; i + 1 < chain.length; i++) {
      if (!chain[i].checkIssued(chain[i + 1]) || !chain[i].verify(chain[i + 1].publicKey)) {
        badChain(`'x5c' entry ${i} is not issued by entry ${i + 1}.`)
      }
    }
  }

  /**
   * A federated credential's assertion (PROTOCOL.md §5): the record matches by issuer, subject
   * and audience; the issuer's key verifies the signature; the time range holds. No jti check:
   * Entra lets a GitHub token be presented more than once.
   * @param {string} jws @param {import('jose').JWTPayload} payload
   * @param {FederatedCredential} federated
   */
  async function checkFederated(jws, payload, federated) {
    const audiences = Array.isArray(payload.aud) ? payload.aud : [payload.aud]
    if (
      payload.iss !== (federated.issuer ?? GITHUB_ISSUER) ||
      (federated.subject !== undefined && payload.sub !== federated.subject) ||
      !audiences.includes(federated.audience ?? EXCHANGE_AUDIENCE)
    ) {
      refuse(70021, { iss: payload.iss, sub: payload.sub, aud: audiences.join(', ') })
    }
    const keys = federated.jwks ?? githubKey.jwks
    try {
      if (keys instanceof KeyObject) await compactVerify(jws, keys)
      else {
        const set = Array.isArray(keys) ? { keys } : 'keys' in keys ? keys : { keys: [keys] }
        await compactVerify(jws, createLocalJWKSet(set))
      }
    } catch {
      refuse(700027, { reason: `No key of issuer '${payload.iss}' verifies it.` })
    }
    checkTimes(payload)
  }

  /**
   * exp (required), nbf and iat against the clock, allowing the skew.
   * @param {import('jose').JWTPayload} payload
   * @returns {number} exp
   */
  function checkTimes(payload) {
    for (const claim of /** @type {const} */ (['exp', 'nbf', 'iat'])) {
      const value = payload[claim]
      if (value !== undefined && typeof value !== 'number') malformed(`'${claim}' is not a number.`)
    }
    const exp = payload.exp ?? refuse(90014, { name: 'exp' })
    const time = now()
    if (exp + skew < time) outOfRange('The assertion has expired.', payload)
    if ((payload.nbf ?? 0) - skew > time) outOfRange('It is not valid yet (nbf).', payload)
    if ((payload.iat ?? 0) - skew > time) outOfRange('It was issued in the future (iat).', payload)
    return exp
  }

  /** @param {string} reason @param {import('jose').JWTPayload} payload @returns {never} */
  function outOfRange(reason, payload) {
    const at = (/** @type {number | undefined} */ s) => (s === undefined ? 'none' : stamp(s))
    const { nbf, iat, exp } = payload
    return refuse(700024, { reason, now: at(now()), nbf: at(nbf ?? iat), exp: at(exp) })
  }

  /**
   * Partner Center's token exchange (PROTOCOL.md §3): an Entra token for Partner Center as the
   * bearer token, `Accept: application/json`, `grant_type=jwt_token`.
   * @param {import('node:http').IncomingMessage} req @param {import('node:http').ServerResponse} res
   * @param {Record<string, string>} form
   */
  function exchangeToken(req, res, form) {
    /** @param {number} status @param {string} error @param {string} description */
    const fail = (status, error, description) =>
      send(res, status, { error, error_description: description })
    if (req.method !== 'POST') return fail(405, 'invalid_request', 'Only POST is allowed.')
    const bearer = /^Bearer (\S+)$/i.exec(req.headers.authorization ?? '')?.[1]
    const claims = bearer === undefined ? undefined : tokens.get(bearer)
    if (!bearer) return fail(401, 'invalid_grant', 'The request has no bearer token.')
    if (!claims) return fail(401, 'invalid_grant', 'The bearer token is not valid.')
    if (claims.aud !== PARTNER_CENTER) {
      return fail(401, 'invalid_grant', `The token's audience is not ${PARTNER_CENTER}.`)
    }
    if (claims.exp < now()) return fail(401, 'invalid_grant', 'The bearer token has expired.')
    if (!/\bapplication\/json\b/i.test(req.headers.accept ?? '')) {
      return fail(400, 'invalid_request', 'The Accept header must be application/json.')
    }
    if (form.grant_type !== 'jwt_token') {
      return fail(400, 'unsupported_grant_type', "The body must be 'grant_type=jwt_token'.")
    }
    const token = randomBytes(160).toString('base64url') // opaque, 214 characters
    issued.push(token)
    send(res, 200, { token_type: 'bearer', access_token: token, expires_in: '899' })
  }

  /**
   * The runner's OIDC token endpoint as `core.getIDToken` calls it: GET, the request token as a
   * bearer token, `&audience=` appended to ACTIONS_ID_TOKEN_REQUEST_URL; answers `{ value }`.
   * @param {import('node:http').IncomingMessage} req @param {import('node:http').ServerResponse} res
   * @param {URL} target
   */
  async function issueIdToken(req, res, target) {
    if (req.method !== 'GET') return send(res, 405, { message: 'Only GET is allowed.' })
    if (req.headers.authorization !== `Bearer ${oidcRequestToken}`) {
      return send(res, 401, { message: 'The request token is missing or wrong.' })
    }
    const time = now()
    const token = await new SignJWT({
      jti: randomUUID(),
      sub: GITHUB_SUBJECT,
      aud: target.searchParams.get('audience') ?? 'https://github.com/octo',
      ref: 'refs/heads/main',
      repository: 'octo/repo',
      repository_owner: 'octo',
      runner_environment: 'github-hosted',
      iss: GITHUB_ISSUER,
      nbf: time,
      iat: time,
      exp: time + 300
    })
      .setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid: githubKey.kid })
      .sign(githubKey.privateKey)
    idTokens.push(token)
    send(res, 200, { value: token })
  }

  /**
   * Entra's error body: the trace and correlation IDs in the description too, the request's
   * `client-request-id` as the correlation ID when it sent one.
   * @param {import('node:http').IncomingMessage} req @param {import('node:http').ServerResponse} res
   * @param {Refusal} refusal
   */
  function sendEntraError(req, res, refusal) {
    const trace = randomUUID()
    const requested = String(req.headers['client-request-id'] ?? '')
    const correlation = /^[0-9a-f-]{36}$/i.test(requested) ? requested : randomUUID()
    const timestamp = stamp(now())
    const body = {
      error: refusal.error,
      error_description: `AADSTS${refusal.code}: ${refusal.message}\r\nTrace ID: ${trace}\r\nCorrelation ID: ${correlation}\r\nTimestamp: ${timestamp}`,
      error_codes: [refusal.code],
      timestamp,
      trace_id: trace,
      correlation_id: correlation,
      error_uri: `https://login.microsoftonline.com/error?code=${refusal.code}`
    }
    send(res, refusal.status, body, { 'x-ms-request-id': trace, 'client-request-id': correlation })
  }

  return {
    url,
    tokenUrl: (tenantId) => `${url}/${tenantId}/oauth2/v2.0/token`,
    exchangeUrl: `${url}/generatetoken`,
    oidcRequestUrl: `${url}/oidc-token?api-version=2.0`,
    oidcRequestToken,
    githubIssuer: GITHUB_ISSUER,
    githubJwks: githubKey.jwks,
    tokenJwks: tokenKey.jwks,
    apps,
    requests,
    issued,
    idTokens,
    faults,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve())
        for (const socket of sockets) socket.destroy()
        server.closeAllConnections()
      })
  }
}

/**
 * Answers with the fault instead of handling the request.
 * @param {Fault} fault @param {import('node:http').IncomingMessage} req
 * @param {import('node:http').ServerResponse} res
 */
function injectFault(fault, req, res) {
  if ('reset' in fault) {
    // A TCP reset (ECONNRESET for the client); a TLS socket cannot reset, so it is destroyed.
    try {
      req.socket.resetAndDestroy()
    } catch {
      req.socket.destroy()
    }
  } else if ('html502' in fault) {
    res.writeHead(502, { 'Content-Type': 'text/html; charset=utf-8' })
    res.end(gatewayPage())
  } else if ('status' in fault) {
    const body = fault.body ?? transientBody(fault.status)
    const type = isJson(body) ? 'application/json' : 'text/plain'
    res.writeHead(fault.status, {
      'Content-Type': fault.contentType ?? `${type}; charset=utf-8`,
      ...(fault.retryAfter === undefined ? {} : { 'Retry-After': fault.retryAfter }),
      ...fault.headers
    })
    res.end(body)
  }
  // { hang: true }: never answer; close() destroys the socket.
}

/** The default body of a status fault: Entra's throttling (50196) or transient error (90033). */
function transientBody(/** @type {number} */ status) {
  const code = status === 429 ? 50196 : 90033
  const text = status === 429 ? 'The server is throttling requests.' : 'A transient error occurred.'
  return JSON.stringify({
    error: 'temporarily_unavailable',
    error_description: `AADSTS${code}: ${text}\r\nTrace ID: ${randomUUID()}\r\nCorrelation ID: ${randomUUID()}\r\nTimestamp: ${stamp(Date.now() / 1000)}`,
    error_codes: [code]
  })
}

/** A gateway's error page of some KB, with a title, styles and a script, as proxies send. */
function gatewayPage() {
  const row =
    '<tr><td>edge</td><td>upstream connect error or disconnect/reset before headers</td></tr>'
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>502 Bad Gateway</title>
<style>body{font-family:Segoe UI,Helvetica,Arial,sans-serif;margin:0;background:#f2f2f2}
.box{max-width:720px;margin:60px auto;background:#fff;padding:32px}h1{color:#d13438}
td{padding:4px;border-bottom:1px solid #eee}</style>
<script>window.__diagnostics={ref:"${randomUUID()}",retry:function(){location.reload()}};</script>
</head><body><div class="box"><h1>502 Bad Gateway</h1>
<p>The server, while acting as a gateway or proxy, received an invalid response from the upstream server.</p>
<table>${row.repeat(40)}</table><p>Reference: ${randomUUID()}</p></div></body></html>`
}

/**
 * A tenant's OpenID configuration, Entra-shaped (v2.0): what MSAL needs to find the token endpoint.
 * @param {string} authority `https://127.0.0.1:PORT/<tenant>`
 */
function openIdConfiguration(authority) {
  return {
    issuer: `${authority}/v2.0`,
    token_endpoint: `${authority}/oauth2/v2.0/token`,
    authorization_endpoint: `${authority}/oauth2/v2.0/authorize`,
    end_session_endpoint: `${authority}/oauth2/v2.0/logout`,
    jwks_uri: `${authority}/discovery/v2.0/keys`,
    token_endpoint_auth_methods_supported: ['private_key_jwt', 'client_secret_post'],
    response_types_supported: ['code', 'id_token', 'token'],
    subject_types_supported: ['pairwise'],
    id_token_signing_alg_values_supported: ['RS256']
  }
}

/**
 * Entra's instance discovery (api-version 1.1), which MSAL Python (and so the Azure CLI) asks
 * before it looks in its token cache, for the host's aliases: this server has only its own.
 * @param {string} host
 */
function instanceDiscovery(host) {
  return {
    tenant_discovery_endpoint: `https://${host}/common/v2.0/.well-known/openid-configuration`,
    'api-version': '1.1',
    metadata: [{ preferred_network: host, preferred_cache: host, aliases: [host] }]
  }
}

/** The assertion cannot be read. @param {string} reason @returns {never} */
function malformed(reason) {
  return refuse(50027, { reason })
}

/** The assertion's `x5c` is unusable. @param {string} reason @returns {never} */
function badChain(reason) {
  return refuse(700027, { reason })
}

/** Decodes a compact JWS without verifying it; undefined when it is not one. */
function decode(/** @type {string | undefined} */ jws) {
  if (!jws || jws.split('.').length !== 3) return undefined
  try {
    return { header: decodeProtectedHeader(jws), payload: decodeJwt(jws) }
  } catch {
    return undefined
  }
}

function parse(/** @type {X509Certificate | string} */ certificate) {
  return typeof certificate === 'string' ? new X509Certificate(certificate) : certificate
}

/** base64url of a digest, as x5t and x5t#S256 carry it. */
function hash(/** @type {string} */ algorithm, /** @type {Buffer} */ data) {
  return createHash(algorithm).update(data).digest('base64url')
}

/** A thumbprint as the Azure portal shows it: hex, upper case. */
function hex(/** @type {string} */ base64url) {
  return Buffer.from(base64url, 'base64url').toString('hex').toUpperCase()
}

/** GUIDs and domain names compare without case in Entra. */
function same(/** @type {string} */ a, /** @type {string} */ b) {
  return a.toLowerCase() === b.toLowerCase()
}

/** Entra's timestamp format, `2016-01-09 02:02:12Z`, from seconds. */
function stamp(/** @type {number} */ seconds) {
  return new Date(seconds * 1000)
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, 'Z')
}

/** A stable object ID for the app's service principal (the token's oid and sub). */
function objectId(/** @type {EntraApp} */ app) {
  const h = hash('sha256', Buffer.from(`${app.tenantId}/${app.clientId}`.toLowerCase()))
  const x = Buffer.from(h, 'base64url').toString('hex')
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`
}

function isJson(/** @type {string} */ text) {
  try {
    JSON.parse(text)
    return true
  } catch {
    return false
  }
}

/**
 * @param {import('node:http').ServerResponse} res @param {number} status @param {object} json
 * @param {Record<string, string>} [headers]
 */
function send(res, status, json, headers = {}) {
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Cache-Control': 'no-store, no-cache',
    ...headers
  })
  res.end(JSON.stringify(json))
}

/**
 * Reads the whole body, at most 1 MB.
 * @param {import('node:http').IncomingMessage} req
 * @returns {Promise<string>}
 */
function readBody(req) {
  return new Promise((resolve, reject) => {
    /** @type {Buffer[]} */
    const chunks = []
    let size = 0
    req.on('data', (/** @type {Buffer} */ chunk) => {
      size += chunk.length
      if (size > 1_048_576) req.destroy(new Error('body too large'))
      else chunks.push(chunk)
    })
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
    req.on('error', reject)
  })
}

/** A fresh RSA 2048 signing key, its kid and its public JWK set. */
async function newSigningKey() {
  const { privateKey, publicKey } = await promisify(generateKeyPair)('rsa', { modulusLength: 2048 })
  const kid = randomBytes(12).toString('base64url')
  /** @type {import('jose').JSONWebKeySet} */
  const jwks = { keys: [{ ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' }] }
  return { privateKey, kid, jwks }
}
