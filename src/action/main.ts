import * as core from '@actions/core'
import { appendFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { decodeJwt, decodeProtectedHeader } from 'jose'
import { ActionError, InputError } from '../errors.js'
import { checkCredential, loadCredential, type Credential } from '../keys/credential.js'
import { createLog, type Log } from '../log.js'
import { signAssertion } from '../oauth/assertion.js'
import {
  DEFAULT_RETRY_POLICY,
  realRetryDeps,
  type RetryDeps,
  type RetryPolicy
} from '../oauth/retry.js'
import { exchangeToken, isToken, requestToken, type TokenResponse } from '../oauth/token.js'
import type { ServiceConfig } from '../service/config.js'
import type { ServiceState } from '../service/start.js'
import type { CertificateSource, Settings } from '../settings.js'
import { EMPTY_SECRET_CAUSES, readSettings } from './inputs.js'
import { noProxyFor, proxiesLoopback } from './no-proxy.js'
import { summarise, summariseAssertion, type SummaryRow } from './summary.js'

/** Collaborators `run()` can be given in tests. */
export interface RunOptions {
  policy?: RetryPolicy
  now?: () => Date
}

/**
 * How this run gets its client assertions: signed with the certificate, or the runner's GitHub
 * OIDC token (federation); and what the token service will sign with once the first token has
 * shown that it works.
 */
interface Assertions {
  /** The certificate's, when there is one. */
  credential?: Credential
  /** An assertion for one token request attempt. */
  forRequest: (timeoutMs: number) => Promise<string>
  /** For later steps (the `client-assertion` output): a fresh one, or the one just sent. */
  forOutput: () => Promise<string>
  /** Called once the server's clock has been measured (AADSTS700024). */
  onClockSkew?: (offsetMs: number) => void
  forService: () => Pick<ServiceConfig, 'certificate' | 'oidc'>
}

/** What every part of a run shares: its settings, its one door out, its time budget. */
interface Step {
  settings: Settings
  log: Log
  deps: RetryDeps
  now: () => Date
}

/**
 * The action: read the inputs, load the certificate, sign the assertion, get the token, mask it and
 * set the outputs. The one place that catches: every failure ends as one `::error::` line.
 */
export async function run(options: RunOptions = {}): Promise<void> {
  // Every line goes out through the log, which redacts the secrets it was told and escapes the rest.
  const log = createLog()
  try {
    const settings = readSettings()
    requireRunnerFiles(settings)
    // One time budget for the whole step: the token request and the exchange share it.
    const deps = realRetryDeps(options.policy ?? DEFAULT_RETRY_POLICY, log.info)
    const step: Step = { settings, log, deps, now: options.now ?? (() => new Date()) }
    const assertions =
      settings.credential.kind === 'certificate'
        ? await certificateAssertions(step, settings.credential)
        : federatedAssertions(step, settings.credential.audience)
    if (settings.assertionOnly) return await setAssertionOnlyOutputs(step, assertions)
    const token = await requestToken(
      {
        tokenEndpoint: settings.tokenEndpoint,
        clientId: settings.clientId,
        scope: settings.scope,
        assertion: assertions.forRequest,
        thumbprint: assertions.credential?.thumbprints.sha1,
        onClockSkew: assertions.onClockSkew
      },
      deps
    )
    await setTokenOutputs(step, token, assertions)
    if (settings.identityEndpoint) await startTokenService(step, token, assertions)
    writeSummary('Access token', summarise(settings, token, assertions.credential))
  } catch (error) {
    log.fail(describe(error))
  }
}

/** Without the runner's files, core would print outputs as `::set-output` commands instead. */
function requireRunnerFiles(settings: Settings): void {
  requireRunnerFile('GITHUB_OUTPUT')
  if (settings.exportVariable !== undefined || settings.identityEndpoint) {
    requireRunnerFile('GITHUB_ENV')
  }
  if (settings.identityEndpoint) requireRunnerFile('GITHUB_STATE')
}

/** Loads and checks the certificate; assertions are signed with it, each with its own `jti`. */
async function certificateAssertions(step: Step, source: CertificateSource): Promise<Assertions> {
  const { settings, log, deps, now } = step
  const mask = log.secret
  // Masked by readSettings; kept here so no message can quote it either.
  if (source.password) mask(source.password)
  // The key's text is masked too: a later step that prints the file shows *** instead.
  // Loading counts inside the step's time budget: a PFX stops at its deadline.
  const credential = await loadCredential(source, mask, { deadline: deps.deadline })
  const { algorithm, entra, clientId, audience, sendX5c } = settings
  const warnings = checkCredential(credential, {
    algorithm,
    entra,
    input: source.certificateFile !== undefined ? 'certificate-file' : 'certificate',
    keyInput: source.privateKey !== undefined ? 'private-key' : undefined,
    now: now()
  })
  for (const warning of warnings) log.warning(warning)
  const lifetimeSeconds = settings.assertionLifetime
  const signing = { clientId, audience, algorithm, sendX5c, lifetimeSeconds, now }
  let clockOffsetMs = 0
  // On the server's time once it was measured.
  const sign = async () => mask(await signAssertion(credential, { ...signing, clockOffsetMs }))
  return {
    credential,
    forRequest: async () => describeAssertion(log, await sign()),
    forOutput: sign,
    onClockSkew: (offsetMs) => {
      clockOffsetMs = offsetMs
      log.warning(describeSkew(offsetMs))
    },
    forService: () => ({
      certificate: {
        keyPem: credential.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
        chain: credential.chainDer.map((der) => der.toString('base64')),
        audience,
        algorithm,
        sendX5c,
        lifetimeSeconds,
        clockOffsetMs
      }
    })
  }
}

/** No certificate: the runner's GitHub OIDC token is the client assertion (PROTOCOL.md §5). */
function federatedAssertions(step: Step, audience: string): Assertions {
  const { log, deps } = step
  const requestUrl = process.env.ACTIONS_ID_TOKEN_REQUEST_URL
  const requestToken = process.env.ACTIONS_ID_TOKEN_REQUEST_TOKEN
  if (!requestUrl || !requestToken) {
    throw new InputError(
      // Stryker disable next-line StringLiteral: run() prints the message, which names the inputs
      'certificate',
      `No credential: 'certificate' and 'certificate-file' are empty, and the job has no GitHub OIDC token. ${EMPTY_SECRET_CAUSES} To sign in without a certificate, add 'permissions: id-token: write' to the job to use GitHub OIDC federation.`
    )
  }
  // Said before anything is sent, so a run that meant to use a certificate shows why it did not.
  log.info(
    `No certificate was given, so the GitHub OIDC token is the assertion (federation); a certificate from an empty secret looks the same.`
  )
  let idToken: string | undefined
  const forRequest = async (timeoutMs: number) =>
    (idToken = describeAssertion(log, log.secret(await getIdToken(audience, timeoutMs))))
  return {
    forRequest,
    // The GitHub OIDC token is the client assertion itself: the one just sent, or a new one.
    forOutput: async () => idToken ?? (await forRequest(deps.policy.attemptTimeoutMs)),
    forService: () => ({ oidc: { requestUrl, requestToken, audience } })
  }
}

/** `assertion-only`: the assertion for later steps, and no token request. */
async function setAssertionOnlyOutputs(step: Step, assertions: Assertions): Promise<void> {
  const { settings, log } = step
  const signed = await setAssertionOutputs(assertions.forOutput)
  log.info(
    settings.credential.kind === 'oidc'
      ? `Got a GitHub OIDC token for ${settings.credential.audience} as the client assertion; it expires at ${signed}. No token was requested (assertion-only).`
      : `Signed a client assertion for ${settings.audience}; it expires at ${signed}. No token was requested (assertion-only).`
  )
  writeSummary('Client assertion', summariseAssertion(settings, signed, assertions.credential))
}

/** The token's outputs, masked first; then the assertion's, the exchange and the variable. */
async function setTokenOutputs(
  step: Step,
  token: TokenResponse,
  assertions: Assertions
): Promise<void> {
  const { settings, log, deps } = step
  log.secret(token.accessToken)
  core.setOutput('access-token', token.accessToken)
  core.setOutput('token-type', token.tokenType)
  core.setOutput('expires-in', String(token.expiresIn))
  core.setOutput('expires-on', token.expiresOn.toISOString())
  log.info(
    `Got a ${token.tokenType} token for '${settings.scope}' from ${settings.tokenEndpoint}; it expires at ${token.expiresOn.toISOString()}.`
  )
  await setAssertionOutputs(assertions.forOutput)

  if (settings.exchangeUrl !== undefined) {
    const exchanged = await exchangeToken(settings.exchangeUrl, token.accessToken, deps)
    log.secret(exchanged.accessToken)
    core.setOutput('exchanged-token', exchanged.accessToken)
    core.setOutput('exchanged-expires-in', String(exchanged.expiresIn))
    log.info(
      `Exchanged it at ${settings.exchangeUrl}; the new token expires at ${exchanged.expiresOn.toISOString()}.`
    )
  }
  if (settings.exportVariable !== undefined) {
    core.exportVariable(settings.exportVariable, token.accessToken)
    log.info(`Exported the token as $${settings.exportVariable} for later steps.`)
  }
}

/** `identity-endpoint`: the job-long token service, seeded with this step's token. */
async function startTokenService(
  step: Step,
  token: TokenResponse,
  assertions: Assertions
): Promise<void> {
  const { settings, log } = step
  // The main step's token, held by the service for the resource of its scope (Entra's form).
  const resource = settings.scope.endsWith('/.default')
    ? settings.scope.slice(0, -'/.default'.length)
    : undefined
  // Later steps' clients reach 127.0.0.1 directly, past a job's proxy (no-proxy.ts); exported
  // first, so the check below and the service's first request see what those clients will.
  for (const [name, value] of Object.entries(noProxyFor(process.env))) {
    core.exportVariable(name, value)
  }
  if (proxiesLoopback(process.env)) {
    log.warning(
      "A proxy variable is set and NO_PROXY does not cover 127.0.0.1: later steps' clients may send their token requests for 'identity-endpoint' to the proxy. Add 127.0.0.1 to NO_PROXY and no_proxy."
    )
  }
  // Loaded only here: node:child_process alone costs a run 3 ms to load.
  const { startService, STATE_NAME } = await import('../service/start.js')
  const service = await startService(
    {
      clientId: settings.clientId,
      tokenEndpoint: settings.tokenEndpoint,
      ...assertions.forService(),
      seed:
        resource === undefined
          ? undefined
          : {
              resource,
              accessToken: token.accessToken,
              tokenType: token.tokenType,
              expiresOn: token.expiresOn.getTime()
            },
      watchPid: process.ppid
    },
    process.env.RUNNER_TEMP ?? tmpdir(),
    resource
  )
  log.secret(service.header)
  // The path secret alone, not the whole msi-endpoint URL: every 16-character run of a secret is
  // masked, and the URL's `http://127.0.0.1` would mask IDENTITY_ENDPOINT's start wherever it is
  // printed. Masked on its own, it stays hidden in a line that quotes the path alone (Terraform's
  // TF_LOG=DEBUG request lines).
  log.secret(service.pathSecret)
  core.exportVariable('IDENTITY_ENDPOINT', service.endpoint)
  core.exportVariable('IDENTITY_HEADER', service.header)
  core.setOutput('identity-endpoint', service.endpoint)
  core.setOutput('msi-endpoint', service.msiEndpoint)
  const state: ServiceState = {
    pid: service.pid,
    port: service.port,
    stopKey: service.stopKey,
    logFile: service.logFile
  }
  core.saveState(STATE_NAME, JSON.stringify(state))
  log.info(
    `Serving fresh tokens to later steps at ${service.endpoint} (IDENTITY_ENDPOINT and IDENTITY_HEADER); the post step stops it.`
  )
}

/**
 * Sets `client-assertion` (masked by the signer) and `client-assertion-expires-on` from its `exp`.
 * @returns the expiry, ISO 8601.
 */
async function setAssertionOutputs(sign: () => Promise<string>): Promise<string> {
  const jwt = await sign()
  const exp = decodeJwt(jwt).exp
  const expiresOn = typeof exp === 'number' ? new Date(exp * 1000).toISOString() : ''
  core.setOutput('client-assertion', jwt)
  core.setOutput('client-assertion-expires-on', expiresOn)
  return expiresOn
}

/** Refuses to run where an output would be printed rather than written to the runner's file. */
function requireRunnerFile(name: 'GITHUB_OUTPUT' | 'GITHUB_ENV' | 'GITHUB_STATE'): void {
  if (!process.env[name]) {
    throw new ActionError(
      `${name} is not set: run this action on a GitHub Actions runner (v2.327.1 or later, for node24). The token is written to the runner's files, never printed.`
    )
  }
}

/** The warning for the one retry on the server's time (AADSTS700024). */
function describeSkew(offsetMs: number): string {
  const seconds = Math.round(Math.abs(offsetMs) / 1000)
  const minutes = seconds >= 120 ? ` (${Math.round(seconds / 60)} min)` : ''
  // Stryker disable next-line EqualityOperator: the retry comes only with clocks more than 60 s apart, never 0
  return `The token endpoint's clock is ${seconds} s${minutes} ${offsetMs > 0 ? 'ahead of' : 'behind'} this runner's: it refused the client assertion as outside its valid time range (AADSTS700024). Signing it again on the server's time and retrying once; set the runner's clock right (NTP).`
}

/** Debug line with the assertion's header and claims (no signature): what the server will check. */
function describeAssertion(log: Log, jwt: string): string {
  if (log.isDebug()) {
    log.debug(
      `Client assertion header ${JSON.stringify(decodeProtectedHeader(jwt))}, claims ${JSON.stringify(decodeJwt(jwt))}`
    )
  }
  return jwt
}

async function getIdToken(audience: string, timeoutMs: number): Promise<string> {
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<never>((_, reject) => {
    // Stryker disable next-line StringLiteral: the message is replaced by ours below
    timer = setTimeout(() => reject(new Error('timeout')), timeoutMs)
  })
  let token: string
  try {
    // The race handles a rejection of the request that comes after the deadline; its text is not shown.
    token = await Promise.race([core.getIDToken(audience), deadline])
  } catch {
    // core's message quotes the runner's answer; ours says what to check.
    throw new ActionError(
      `Could not get a GitHub OIDC token for audience '${audience}' from the runner within ${Math.round(timeoutMs / 1000)} s: check that the job has 'permissions: id-token: write', or set 'certificate'.`
    )
  } finally {
    // Stryker disable next-line CallExpression: a pending timer only rejects a promise no one awaits; the process exits on its own
    clearTimeout(timer)
  }
  // Checked before it is masked, which would mask each of its lines.
  if (!isToken(token)) {
    throw new ActionError(
      `The runner's OIDC endpoint answered a GitHub OIDC token that is not a token (RFC 6749 appendix A.12: visible ASCII characters only): check ACTIONS_ID_TOKEN_REQUEST_URL, or set 'certificate'.`
    )
  }
  return token
}

/**
 * The job summary: core.summary builds the Markdown/HTML; it is appended synchronously, which
 * costs a tenth of core.summary.write()'s promise-based access check and append (about 2 ms).
 */
function writeSummary(heading: string, rows: SummaryRow[]): void {
  const file = process.env.GITHUB_STEP_SUMMARY
  if (!file) return
  const text = core.summary
    .addHeading(heading, 3)
    .addTable([
      [
        { data: 'Field', header: true },
        { data: 'Value', header: true }
      ],
      ...rows
    ])
    .stringify()
  core.summary.emptyBuffer()
  appendFileSync(file, text)
}

function describe(error: unknown): string {
  if (error instanceof ActionError) return error.message
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error)
  return `Unexpected error: ${text}`
}
