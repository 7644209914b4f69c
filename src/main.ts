import * as core from '@actions/core'
import { appendFileSync } from 'node:fs'
import { decodeJwt, decodeProtectedHeader } from 'jose'
import { signAssertion } from './assertion.js'
import { checkCredential, loadCredential, type Credential } from './credential.js'
import { ActionError, InputError } from './errors.js'
import { readSettings, type Settings } from './inputs.js'
import { DEFAULT_RETRY_POLICY, realRetryDeps, type RetryPolicy } from './retry.js'
import { summarise } from './summary.js'
import { exchangeToken, requestToken, type TokenResponse } from './token.js'

/** Collaborators `run()` can be given in tests. */
export interface RunOptions {
  policy?: RetryPolicy
  now?: () => Date
}

/**
 * The action: read the inputs, load the certificate, sign the assertion, get the token, mask it and
 * set the outputs. The one place that catches: every failure ends as one `::error::` line.
 */
export async function run(options: RunOptions = {}): Promise<void> {
  const secrets: string[] = []
  const mask = (value: string): string => {
    secrets.push(value)
    // The runner masks line by line too; a multi-line secret gets each line masked as well.
    for (const line of [value, ...value.split(/\r?\n/).filter((l) => l.trim() && l !== value)])
      core.setSecret(line)
    return value
  }
  try {
    const settings = readSettings()
    const now = options.now ?? (() => new Date())
    const deps = realRetryDeps(options.policy ?? DEFAULT_RETRY_POLICY, (line) => core.info(line))

    let credential: Credential | undefined
    let assertion: () => Promise<string>
    if (settings.credential.kind === 'certificate') {
      const input =
        settings.credential.certificateFile !== undefined ? 'certificate-file' : 'certificate'
      if (settings.credential.password) secrets.push(settings.credential.password)
      const loaded = await loadCredential(settings.credential)
      for (const warning of checkCredential(loaded, { ...settings, input, now: now() }))
        core.warning(warning)
      credential = loaded
      assertion = async () =>
        describeAssertion(mask(await signAssertion(loaded, { ...settings, now })))
    } else {
      const audience = settings.credential.audience
      if (
        !process.env.ACTIONS_ID_TOKEN_REQUEST_URL ||
        !process.env.ACTIONS_ID_TOKEN_REQUEST_TOKEN
      ) {
        throw new InputError(
          'certificate',
          `No credential: set 'certificate' (or 'certificate-file') to the app's certificate, or add 'permissions: id-token: write' to the job to use GitHub OIDC federation.`
        )
      }
      assertion = async () => describeAssertion(mask(await getIdToken(audience)))
    }

    const token = await requestToken(
      {
        tokenEndpoint: settings.tokenEndpoint,
        clientId: settings.clientId,
        scope: settings.scope,
        assertion,
        thumbprint: credential?.chain[0].fingerprint.replace(/:/g, '')
      },
      deps
    )
    mask(token.accessToken)
    setTokenOutputs('', token)
    core.info(
      `Got a ${token.tokenType} token for '${settings.scope}' from ${settings.tokenEndpoint}; it expires at ${token.expiresOn.toISOString()}.`
    )

    if (settings.exchangeUrl !== undefined) {
      const exchanged = await exchangeToken(settings.exchangeUrl, token.accessToken, deps)
      mask(exchanged.accessToken)
      core.setOutput('exchanged-token', exchanged.accessToken)
      core.setOutput('exchanged-expires-in', String(exchanged.expiresIn))
      core.info(
        `Exchanged it at ${settings.exchangeUrl}; the new token expires at ${exchanged.expiresOn.toISOString()}.`
      )
    }
    if (settings.exportVariable !== undefined) {
      core.exportVariable(settings.exportVariable, token.accessToken)
      core.info(`Exported the token as $${settings.exportVariable} for later steps.`)
    }
    writeSummary(settings, token, credential)
  } catch (error) {
    core.setFailed(redact(describe(error), secrets))
  }
}

/** Debug line with the assertion's header and claims (no signature): what the server will check. */
function describeAssertion(jwt: string): string {
  if (core.isDebug()) {
    core.debug(
      `Client assertion header ${JSON.stringify(decodeProtectedHeader(jwt))}, claims ${JSON.stringify(decodeJwt(jwt))}`
    )
  }
  return jwt
}

function setTokenOutputs(prefix: string, token: TokenResponse): void {
  core.setOutput(`${prefix}access-token`, token.accessToken)
  core.setOutput(`${prefix}token-type`, token.tokenType)
  core.setOutput(`${prefix}expires-in`, String(token.expiresIn))
  core.setOutput(`${prefix}expires-on`, token.expiresOn.toISOString())
}

async function getIdToken(audience: string): Promise<string> {
  try {
    return await core.getIDToken(audience)
  } catch {
    // core's message quotes the runner's answer; ours says what to check.
    throw new ActionError(
      `Could not get a GitHub OIDC token for audience '${audience}' from the runner: check that the job has 'permissions: id-token: write', or set 'certificate'.`
    )
  }
}

/**
 * The job summary: core.summary builds the Markdown/HTML; it is appended synchronously, which
 * costs a tenth of core.summary.write()'s promise-based access check and append (about 2 ms).
 */
function writeSummary(settings: Settings, token: TokenResponse, credential?: Credential): void {
  const file = process.env.GITHUB_STEP_SUMMARY
  if (!file) return
  const rows = summarise(settings, token, credential?.chain[0])
  const text = core.summary
    .addHeading('Access token', 3)
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

function redact(text: string, secrets: string[]): string {
  return secrets.reduce((out, secret) => out.split(secret).join('***'), text)
}
