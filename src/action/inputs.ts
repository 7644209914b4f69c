import * as core from '@actions/core'
import { isIPv4 } from 'node:net'
import { isAbsolute, resolve } from 'node:path'
import { InputError } from '../errors.js'
import {
  ALGORITHMS,
  ASSERTION_LIFETIME_SECONDS,
  DEFAULT_AUTHORITY_HOST,
  DEFAULT_OIDC_AUDIENCE,
  MIN_ASSERTION_LIFETIME_SECONDS,
  type Algorithm,
  type CertificateSource,
  type OidcSource,
  type Settings
} from '../settings.js'

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
// A DNS name with at least two labels: only these characters can reach the URL path.
const DOMAIN =
  /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$/i
// Entra's multi-tenant aliases; MSAL refuses them for client credentials (PROTOCOL.md §1).
const MULTI_TENANT = ['common', 'organizations', 'consumers']

/**
 * Why a certificate input may be empty when the workflow sets it: the runner passes a secret that
 * is not there as an empty input (GitHub Docs, "Using secrets in GitHub Actions": secrets are not
 * passed to workflows triggered from forks, and Dependabot runs get Dependabot secrets only).
 */
export const EMPTY_SECRET_CAUSES =
  "If the certificate comes from a secret, that secret is empty in this run: pull requests from forks and Dependabot get no secrets, the secret's name may be misspelt, or it is an environment secret and the job has no 'environment:' naming that environment."

/**
 * Reads every input, applies defaults and checks them; the only reader of the action's inputs.
 * Secrets among them (the password) are masked as soon as they are read.
 * @throws {InputError} naming the input and the fix.
 */
export function readSettings(env: NodeJS.ProcessEnv = process.env): Settings {
  const clientId = required('client-id')
  if (/\s/.test(clientId)) {
    throw new InputError(
      'client-id',
      `Input 'client-id' must be the application (client) ID, without spaces.`
    )
  }
  const assertionOnly = readBoolean('assertion-only')
  // Without a token request there is nothing to scope.
  const scope = assertionOnly ? (optional('scope') ?? '') : required('scope')
  const tokenEndpointInput = optional('token-endpoint')
  const entra = tokenEndpointInput === undefined

  let tokenEndpoint: string
  let tenantId: string | undefined
  if (entra) {
    tenantId = readTenant()
    const host = readUrl('authority-host', optional('authority-host') ?? DEFAULT_AUTHORITY_HOST)
    if (host.search || host.hash || host.pathname !== '/') {
      throw new InputError(
        'authority-host',
        `Input 'authority-host' must be the host only, such as ${DEFAULT_AUTHORITY_HOST} (the tenant goes in 'tenant-id'); for a full token URL use 'token-endpoint'.`
      )
    }
    tokenEndpoint = `${host.origin}/${tenantId}/oauth2/v2.0/token`
    if (scope) checkEntraScope(scope)
  } else {
    tokenEndpoint = readUrl('token-endpoint', tokenEndpointInput).href
  }

  const algorithm = readAlgorithm(entra)
  const exchange = optional('exchange-url')
  const credential = readCredentialSource(env)
  const exportVariable = readExportVariable()
  const identityEndpoint = readBoolean('identity-endpoint')
  if (assertionOnly) {
    // These act on the access token, which assertion-only does not request (the token service
    // starts once the first token shows that the credential works).
    const unused =
      exchange !== undefined
        ? 'exchange-url'
        : exportVariable
          ? 'export-variable'
          : identityEndpoint
            ? 'identity-endpoint'
            : ''
    if (unused) {
      throw new InputError(
        unused,
        `Input '${unused}' acts on the access token, and 'assertion-only' requests none: remove '${unused}', or 'assertion-only'.`
      )
    }
  }
  return {
    clientId,
    tenantId,
    scope,
    tokenEndpoint,
    entra,
    audience: optional('audience') ?? tokenEndpoint,
    algorithm,
    sendX5c: readBoolean('send-x5c'),
    credential,
    exchangeUrl: exchange === undefined ? undefined : readUrl('exchange-url', exchange).href,
    exportVariable,
    assertionLifetime: readAssertionLifetime(credential.kind === 'certificate'),
    assertionOnly,
    identityEndpoint
  }
}

function optional(name: string): string | undefined {
  return core.getInput(name) || undefined
}

function required(name: string): string {
  const value = optional(name)
  if (value === undefined) {
    throw new InputError(name, `Input '${name}' is required: set it in the step's 'with:' block.`)
  }
  return value
}

/** Quotes a user's value in a message, shortened so a pasted blob cannot flood the log. */
function shown(value: string): string {
  return `'${value.length > 80 ? `${value.slice(0, 77)}...` : value}'`
}

function readTenant(): string {
  const tenant = optional('tenant-id')
  if (tenant === undefined) {
    throw new InputError(
      'tenant-id',
      `Input 'tenant-id' is required for Microsoft Entra ID: set the directory (tenant) ID, or set 'token-endpoint' for another OAuth 2.0 server.`
    )
  }
  if (MULTI_TENANT.includes(tenant.toLowerCase())) {
    throw new InputError(
      'tenant-id',
      `Input 'tenant-id' is '${tenant}', which the client credentials flow does not accept: use the directory (tenant) ID GUID or a verified domain of the tenant that holds the app registration.`
    )
  }
  if (!GUID.test(tenant) && !DOMAIN.test(tenant)) {
    throw new InputError(
      'tenant-id',
      `Input 'tenant-id' must be a directory (tenant) ID GUID such as 72f988bf-86f1-41af-91ab-2d7cd011db47 or a verified domain such as contoso.onmicrosoft.com; got ${shown(tenant)}.`
    )
  }
  return tenant
}

/** For a hostname as URL writes it: an IPv4 address always in dotted decimal, IPv6 in brackets. */
function isLoopback(hostname: string): boolean {
  return (
    hostname === 'localhost' ||
    hostname === '[::1]' ||
    (isIPv4(hostname) && hostname.startsWith('127.'))
  )
}

/** Parses a URL input: https, or plain http for loopback only (tests, local servers). */
function readUrl(name: string, value: string): URL {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    throw new InputError(
      name,
      `Input '${name}' must be an absolute https:// URL; got ${shown(value)}.`
    )
  }
  if (url.username || url.password) {
    throw new InputError(name, `Input '${name}' must not carry a user name or password in the URL.`)
  }
  if (url.protocol === 'https:' || (url.protocol === 'http:' && isLoopback(url.hostname))) {
    return url
  }
  throw new InputError(
    name,
    `Input '${name}' must use https:// (plain http:// is allowed only for loopback hosts such as 127.0.0.1); got ${shown(value)}.`
  )
}

/** Entra takes exactly one `<resource>/.default` in the client credentials flow (PROTOCOL.md §1). */
function checkEntraScope(scope: string): void {
  const scopes = scope.split(/\s+/)
  if (scopes.length > 1) {
    throw new InputError(
      'scope',
      `Input 'scope' must name exactly one resource for Microsoft Entra ID (one token per resource), e.g. 'https://graph.microsoft.com/.default'; got ${scopes.length} scopes. Use one step per resource.`
    )
  }
  if (!scope.endsWith('/.default') || scope === '/.default') {
    const resource =
      /^[a-z][a-z0-9+.-]*:\/\/[^/\s]+/i.exec(scope)?.[0] ?? 'https://graph.microsoft.com'
    throw new InputError(
      'scope',
      `Input 'scope' must be a resource followed by /.default for Microsoft Entra ID, e.g. '${resource}/.default' (app-only tokens carry the application permissions granted to the app); got ${shown(scope)}.`
    )
  }
}

function readAlgorithm(entra: boolean): Algorithm {
  const value = (optional('algorithm') ?? 'PS256').toUpperCase()
  const algorithm = ALGORITHMS.find((a) => a === value)
  if (algorithm === undefined) {
    throw new InputError(
      'algorithm',
      `Input 'algorithm' must be one of ${ALGORITHMS.join(', ')}; got ${shown(value)}.`
    )
  }
  if (entra && algorithm.startsWith('ES')) {
    throw new InputError(
      'algorithm',
      `Input 'algorithm' is ${algorithm}, but Microsoft Entra ID accepts RSA certificates only: use PS256 (the default) or RS256, or set 'token-endpoint' for a server that accepts EC keys.`
    )
  }
  return algorithm
}

function readBoolean(name: string): boolean {
  const value = optional(name) ?? 'false'
  if (/^(true|True|TRUE)$/.test(value)) return true
  if (/^(false|False|FALSE)$/.test(value)) return false
  throw new InputError(name, `Input '${name}' must be true or false; got ${shown(value)}.`)
}

function readCredentialSource(env: NodeJS.ProcessEnv): CertificateSource | OidcSource {
  const password = core.getInput('certificate-password', { trimWhitespace: false }) || undefined
  if (password !== undefined) core.setSecret(password)
  const certificate = optional('certificate')
  const file = optional('certificate-file')
  const privateKey = optional('private-key')

  if (certificate !== undefined && file !== undefined) {
    throw new InputError(
      'certificate-file',
      `Inputs 'certificate' and 'certificate-file' are both set: keep one of them.`
    )
  }
  if (certificate === undefined && file === undefined) {
    // An input set from an empty secret arrives empty, just like one that is not set: a key or a
    // password without a certificate most likely means the certificate's secret is empty here.
    const orphan =
      privateKey !== undefined
        ? 'private-key'
        : password !== undefined
          ? 'certificate-password'
          : ''
    if (orphan) {
      throw new InputError(
        'certificate',
        `Input '${orphan}' is set but 'certificate' and 'certificate-file' are empty. ${EMPTY_SECRET_CAUSES} Set 'certificate' (or 'certificate-file') to the certificate PEM too; the thumbprint the server matches comes from the certificate.`
      )
    }
    if (optional('audience') !== undefined) {
      throw new InputError(
        'audience',
        `Input 'audience' is the 'aud' of an assertion signed with a certificate, and no certificate is given: with GitHub OIDC federation the assertion is the GitHub OIDC token, whose audience is 'oidc-audience' (default ${DEFAULT_OIDC_AUDIENCE}). Use 'oidc-audience' instead, or set 'certificate'.`
      )
    }
    return { kind: 'oidc', audience: optional('oidc-audience') ?? DEFAULT_OIDC_AUDIENCE }
  }
  return {
    kind: 'certificate',
    certificate,
    certificateFile:
      file === undefined || isAbsolute(file)
        ? file
        : resolve(env.GITHUB_WORKSPACE ?? process.cwd(), file),
    privateKey,
    password
  }
}

/**
 * Seconds from `nbf` to `exp`, at most what Microsoft's certificate credentials page allows
 * ("5-10 minutes after nbf at most", see assertion.ts). GitHub sets its OIDC token's lifetime.
 */
function readAssertionLifetime(certificate: boolean): number {
  const value = optional('assertion-lifetime')
  // The runner passes action.yml's default (600) whenever the workflow sets nothing.
  if (value === undefined || value === String(ASSERTION_LIFETIME_SECONDS)) {
    return ASSERTION_LIFETIME_SECONDS
  }
  if (!certificate) {
    throw new InputError(
      'assertion-lifetime',
      `Input 'assertion-lifetime' applies to assertions signed with a certificate; without one the assertion is the GitHub OIDC token, whose lifetime GitHub sets. Remove it, or set 'certificate'.`
    )
  }
  const seconds = /^\d{1,6}$/.test(value) ? Number(value) : NaN
  if (!(seconds >= MIN_ASSERTION_LIFETIME_SECONDS && seconds <= ASSERTION_LIFETIME_SECONDS)) {
    throw new InputError(
      'assertion-lifetime',
      `Input 'assertion-lifetime' must be a whole number of seconds from ${MIN_ASSERTION_LIFETIME_SECONDS} to ${ASSERTION_LIFETIME_SECONDS} (Microsoft Entra ID: an assertion valid "5-10 minutes after nbf at most"); got ${shown(value)}.`
    )
  }
  return seconds
}

/**
 * `export-variable` names are safe by their shape, not by a list of what is dangerous (which can
 * never be complete): capitals, digits and `_`, ending in `_TOKEN`. Tools read such a name only as
 * a credential, never as a program, a library, a path, flags or a configuration file.
 */
const TOKEN_VARIABLE = /^[A-Z][A-Z0-9_]*_TOKEN$/

/**
 * Names of that shape that tools already read as the credential of another service, which would
 * send this token there: the runner's own, and well-known ones of registries, code hosts and
 * clouds.
 */
const OTHER_SERVICES = /^(GITHUB|RUNNER|ACTIONS|INPUT|STATE)_/
const OTHER_SERVICE_TOKENS = new Set([
  'GH_TOKEN',
  'GH_ENTERPRISE_TOKEN',
  'NPM_TOKEN',
  'NODE_AUTH_TOKEN',
  'CARGO_REGISTRY_TOKEN',
  'CODECOV_TOKEN',
  'GITLAB_TOKEN',
  'CI_JOB_TOKEN',
  'VAULT_TOKEN',
  'CONSUL_HTTP_TOKEN',
  'NOMAD_TOKEN',
  'HF_TOKEN',
  'HUGGING_FACE_HUB_TOKEN',
  'AWS_SESSION_TOKEN',
  'AWS_SECURITY_TOKEN',
  'GOOGLE_OAUTH_ACCESS_TOKEN',
  'CLOUDSDK_AUTH_ACCESS_TOKEN',
  'CLOUDFLARE_API_TOKEN',
  'DIGITALOCEAN_TOKEN',
  'SENTRY_AUTH_TOKEN',
  'NETLIFY_AUTH_TOKEN',
  'VERCEL_TOKEN',
  'SNYK_TOKEN',
  'SONAR_TOKEN'
])

/** Whether a name of the token shape is one the runner or another service's tools read. */
export function isReservedVariable(name: string): boolean {
  return OTHER_SERVICES.test(name) || OTHER_SERVICE_TOKENS.has(name)
}

function readExportVariable(): string | undefined {
  const name = optional('export-variable')
  if (name === undefined) return undefined
  if (!TOKEN_VARIABLE.test(name)) {
    throw new InputError(
      'export-variable',
      `Input 'export-variable' must be a name in capitals that ends in _TOKEN, e.g. GRAPH_TOKEN or ARM_ACCESS_TOKEN: a name that says it holds a token is one that no tool reads as a program, a path or its settings; got ${shown(name)}.`
    )
  }
  if (isReservedVariable(name)) {
    throw new InputError(
      'export-variable',
      `Input 'export-variable' is ${name}, a name that the runner or the tools of another service read as their credential, so the token would be sent there: use a name of your own, e.g. GRAPH_TOKEN.`
    )
  }
  return name
}
