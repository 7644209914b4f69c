/**
 * The token service (`dist/service.js`): started detached by the main step, it reads its config
 * from its stdin pipe, listens on 127.0.0.1, tells the main step its port on its stdout pipe, and
 * then serves fresh tokens to the job's later steps until the `post:` step stops it, the runner's
 * worker is gone, its log file is gone (the runner empties its temporary folder at the job's end),
 * or a job's longest run has passed.
 */
import { HttpClient } from '@actions/http-client'
import { createPrivateKey } from 'node:crypto'
import { appendFileSync, existsSync } from 'node:fs'
import { signAssertion } from '../oauth/assertion.js'
import { credentialOf } from '../keys/credential.js'
import { ActionError } from '../errors.js'
import { escapeLine, Secrets } from '../log.js'
import { realRetryDeps, type RetryPolicy } from '../oauth/retry.js'
import { isToken, requestToken } from '../oauth/token.js'
import { MAX_CONFIG_BYTES, type ServiceConfig } from './config.js'
import { scopeOf } from './protocol.js'
import { startServer } from './server.js'
import { isRunning } from './start.js'
import { Tokens, type HeldToken } from './tokens.js'

/**
 * A job's longest run, after which the service is not needed: 6 hours on GitHub-hosted runners,
 * 5 days on self-hosted ones, plus an hour for the `post:` step (GitHub's "Usage limits":
 * https://docs.github.com/en/actions/reference/limits).
 */
const HOSTED_LIFETIME_MS = 7 * 60 * 60_000
const SELF_HOSTED_LIFETIME_MS = (5 * 24 + 1) * 60 * 60_000
/** How often the service checks that the runner's worker is still there. */
const WATCH_MS = 15_000
/**
 * The service's own retries of one token request: a blip passes unseen, and a client waits at most
 * 15 s before it is told to come back (503 and Retry-After, tokens.ts) while the service backs off.
 */
const SERVICE_RETRY_POLICY: RetryPolicy = {
  maxAttempts: 2,
  attemptTimeoutMs: 10_000,
  totalTimeMs: 15_000,
  baseDelayMs: 1_000,
  maxDelayMs: 5_000
}
/** Most lines of the service's own log. */
const MAX_LOG_LINES = 500

async function main(): Promise<void> {
  const config = JSON.parse(await readStdin()) as ServiceConfig
  const secrets = new Secrets()
  for (const secret of [config.header, config.pathSecret, config.stopKey]) secrets.add(secret)
  let lines = 0
  const log = (line: string): void => {
    if (lines++ >= MAX_LOG_LINES) return
    const stamp = new Date().toISOString()
    try {
      appendFileSync(config.logFile, `${stamp} ${escapeLine(secrets.show(line, 1000))}\n`)
    } catch {
      // the runner's temporary folder is gone: the job is over, and so is the log
    }
  }

  const obtain = tokenSource(config, (secret) => secrets.add(secret), log)
  const tokens = new Tokens(obtain)
  if (config.seed) {
    const { resource, accessToken, tokenType, expiresOn } = config.seed
    secrets.add(accessToken)
    tokens.hold(resource, { accessToken, tokenType, expiresOn: new Date(expiresOn) })
  }
  const { server, port } = await startServer({
    expected: {
      header: config.header,
      pathSecret: config.pathSecret,
      stopKey: config.stopKey,
      clientId: config.clientId
    },
    tokens,
    log,
    redact: (text) => secrets.show(text, 1000),
    onStop: () => {
      log('Stopped by the post step.')
      server.close()
      process.exit(0)
    }
  })
  log(`Listening on 127.0.0.1:${port} for ${config.clientId}.`)
  // The main step reads this line, then closes the pipe: the service keeps no stdio of the step's.
  process.stdout.write(`${port}\n`)

  watchTheJob(config, log)
}

/**
 * Ends the service with the job. The runner's worker process (the main step's parent) ends with
 * the job; in a container job the main step's parent is outside its PID namespace (0) or the
 * container's init (1), which no watch can follow: there the log file is the watch, as the runner
 * empties RUNNER_TEMP (its `_temp` folder, mounted in the container) at the job's end, and removes
 * the job's container besides. The fixed backstop is a job's longest run.
 */
function watchTheJob(config: ServiceConfig, log: (line: string) => void): void {
  const hosted = process.env.RUNNER_ENVIRONMENT === 'github-hosted'
  const lifetime = hosted ? HOSTED_LIFETIME_MS : SELF_HOSTED_LIFETIME_MS
  setTimeout(() => {
    log(`Stopped after ${hosted ? '7 hours' : '5 days and an hour'}, past a job's longest run.`)
    process.exit(0)
  }, lifetime).unref()
  const pid = config.watchPid !== undefined && config.watchPid > 1 ? config.watchPid : undefined
  setInterval(() => {
    if (pid !== undefined && !isRunning(pid)) {
      log("Stopped: the runner's worker process is gone.")
      process.exit(0)
    }
    if (!existsSync(config.logFile)) process.exit(0)
  }, WATCH_MS)
}

/** Gets tokens with the app's certificate, or with a fresh GitHub OIDC token each time. */
function tokenSource(
  config: ServiceConfig,
  secret: (value: string) => void,
  log: (line: string) => void
): (resource: string) => Promise<HeldToken> {
  let assertion: (timeoutMs: number) => Promise<string>
  let thumbprint: string | undefined
  let onClockSkew: ((offsetMs: number) => void) | undefined
  if (config.certificate) {
    const { keyPem, chain, ...signing } = config.certificate
    const credential = credentialOf(
      createPrivateKey(keyPem),
      chain.map((der) => Buffer.from(der, 'base64'))
    )
    // Only the KeyObject is kept: the key's text leaves the config (the string itself is freed
    // once nothing refers to it).
    config.certificate.keyPem = ''
    thumbprint = credential.thumbprints.sha1
    let clockOffsetMs = signing.clockOffsetMs
    assertion = async () => {
      const jwt = await signAssertion(credential, {
        ...signing,
        clientId: config.clientId,
        clockOffsetMs
      })
      secret(jwt)
      return jwt
    }
    onClockSkew = (offsetMs) => {
      clockOffsetMs = offsetMs
      log(`The token endpoint's clock is ${Math.round(offsetMs / 1000)} s off this runner's.`)
    }
  } else if (config.oidc) {
    const oidc = config.oidc
    secret(oidc.requestToken)
    assertion = async (timeoutMs) => {
      const jwt = await fetchIdToken(oidc, timeoutMs)
      secret(jwt)
      return jwt
    }
  } else {
    throw new Error('no credential')
  }
  return async (resource) => {
    const deps = realRetryDeps(SERVICE_RETRY_POLICY, log)
    const token = await requestToken(
      {
        tokenEndpoint: config.tokenEndpoint,
        clientId: config.clientId,
        scope: scopeOf(resource),
        assertion,
        thumbprint,
        onClockSkew
      },
      deps
    )
    secret(token.accessToken)
    log(`Got a token for ${resource}; it expires at ${token.expiresOn.toISOString()}.`)
    return {
      accessToken: token.accessToken,
      tokenType: token.tokenType,
      expiresOn: token.expiresOn
    }
  }
}

/** The runner's GitHub OIDC token (PROTOCOL.md §5), as `core.getIDToken` asks for it. */
async function fetchIdToken(
  oidc: NonNullable<ServiceConfig['oidc']>,
  timeoutMs: number
): Promise<string> {
  const client = new HttpClient('certificate-token-action', [], { socketTimeout: timeoutMs })
  const url = `${oidc.requestUrl}&audience=${encodeURIComponent(oidc.audience)}`
  let value: unknown
  try {
    const answer = await client.getJson<{ value?: unknown }>(url, {
      Authorization: `Bearer ${oidc.requestToken}`
    })
    value = answer.result?.value
  } catch {
    // http-client's message quotes the answer
  } finally {
    client.dispose()
  }
  if (typeof value !== 'string' || !isToken(value)) {
    throw new ActionError(
      `Could not get a GitHub OIDC token for audience '${oidc.audience}' from the runner.`
    )
  }
  return value
}

function readStdin(): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    process.stdin.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size > MAX_CONFIG_BYTES) reject(new Error('config too large'))
      else chunks.push(chunk)
    })
    process.stdin.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
    process.stdin.on('error', reject)
  })
}

main().catch(() => {
  // Nothing to print to: the main step sees no port and reports it.
  process.exit(1)
})
