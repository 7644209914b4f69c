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
    let assertion: (timeoutMs: number) => Promise<string>
    if (settings.credential.kind === 'certificate') {
      const source = settings.credential
      // Masked by readSettings; kept here so no message can quote it either.
      if (source.password) secrets.push(source.password)
      // The key's text is masked too: a later step that prints the file shows *** instead.
      const loaded = await loadCredential(source, (text) => core.setSecret(text))
      const { algorithm, entra, clientId, audience, sendX5c } = settings
      const warnings = checkCredential(loaded, {
        algorithm,
        entra,
        input: source.certificateFile !== undefined ? 'certificate-file' : 'certificate',
        keyInput: source.privateKey !== undefined ? 'private-key' : undefined,
        now: now()
      })
      for (const warning of warnings) core.warning(warning)
      credential = loaded
      const signing = { clientId, audience, algorithm, sendX5c, now }
      assertion = async () => describeAssertion(mask(await signAssertion(loaded, signing)))
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
      assertion = async (timeoutMs) =>
        describeAssertion(mask(await getIdToken(audience, timeoutMs)))
    }

    const token = await requestToken(
      {
        tokenEndpoint: settings.tokenEndpoint,
        clientId: settings.clientId,
        scope: settings.scope,
        assertion,
        thumbprint: credential?.thumbprints.sha1
      },
      deps
    )
    mask(token.accessToken)
    core.setOutput('access-token', token.accessToken)
    core.setOutput('token-type', token.tokenType)
    core.setOutput('expires-in', String(token.expiresIn))
    core.setOutput('expires-on', token.expiresOn.toISOString())
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

async function getIdToken(audience: string, timeoutMs: number): Promise<string> {
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('timeout')), timeoutMs)
  })
  try {
    return await Promise.race([core.getIDToken(audience), deadline])
  } catch {
    // core's message quotes the runner's answer; ours says what to check.
    throw new ActionError(
      `Could not get a GitHub OIDC token for audience '${audience}' from the runner within ${Math.round(timeoutMs / 1000)} s: check that the job has 'permissions: id-token: write', or set 'certificate'.`
    )
  } finally {
    clearTimeout(timer)
  }
}

/**
 * The job summary: core.summary builds the Markdown/HTML; it is appended synchronously, which
 * costs a tenth of core.summary.write()'s promise-based access check and append (about 2 ms).
 */
function writeSummary(settings: Settings, token: TokenResponse, credential?: Credential): void {
  const file = process.env.GITHUB_STEP_SUMMARY
  if (!file) return
  const rows = summarise(settings, token, credential)
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
