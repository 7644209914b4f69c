// Starting the token service from the main step: a detached process with no stdio of the step's
// (the runner waits for, and on Windows kills, a child that holds the step's pipes; PROTOCOL.md
// §8), its secrets handed over a pipe of its own, and ready only once it has answered a request.
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { request } from 'node:http'
import { closeSync, openSync } from 'node:fs'
import { join } from 'node:path'
import { ActionError } from '../errors.js'
import type { ServiceConfig } from './config.js'
import { APP_SERVICE_API_VERSION, APP_SERVICE_PATH, IMDS_PATH } from './protocol.js'

// The service's door for the steps: how to start it, and what the `post:` step needs to stop it.
export { STOP_PATH } from './protocol.js'
export type { StopReport } from './server.js'

/** What the main step saves of the service for the `post:` step (`core.saveState`). */
export interface ServiceState {
  pid: number
  port: number
  stopKey: string
  logFile: string
}

export const STATE_NAME = 'identity-endpoint'

/** How long the service may take to start and answer its first request. */
const START_TIMEOUT_MS = 10_000

/** What later steps and the `post:` step need to reach the service. */
export interface RunningService {
  pid: number
  port: number
  /** `IDENTITY_ENDPOINT`: App Service's protocol. */
  endpoint: string
  /** `IDENTITY_HEADER`: the secret every request carries. */
  header: string
  /** The IMDS-shaped URL for Terraform's azurerm provider, a secret in its path. */
  msiEndpoint: string
  stopKey: string
  logFile: string
  /** The secret path segment of {@link msiEndpoint}: masked on its own, the rest of the URL stays readable. */
  pathSecret: string
}

/**
 * Variables the service is started with: what it needs to reach the network as the step does,
 * and `RUNNER_TRACKING_ID`, by which the runner ends it at the job's end if `post:` cannot. The
 * inputs (the certificate, its password) and the runner's tokens are left out.
 */
const KEPT = [
  /^RUNNER_TRACKING_ID$/,
  /^RUNNER_ENVIRONMENT$/,
  /^RUNNER_TEMP$/,
  /^(HTTPS?|NO|ALL)_PROXY$/i,
  /^NODE_EXTRA_CA_CERTS$/,
  /^(PATH|HOME|TEMP|TMP|TMPDIR|SYSTEMROOT|SYSTEMDRIVE|WINDIR|COMSPEC|USERPROFILE)$/i
]

/**
 * Node's switches for the service: `--disable-sigusr1` (Node >= 22.14) so that no process of the
 * runner's user can open its inspector on 127.0.0.1:9229 with `kill -USR1` and read the key from
 * its heap. Its environment has no `NODE_OPTIONS` (nor any other variable but {@link KEPT}), so a
 * job's `--inspect` or `--require` does not reach it.
 */
export const SERVICE_NODE_ARGS = ['--disable-sigusr1']

export function serviceEnvironment(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(
    Object.entries(env).filter(([name]) => KEPT.some((pattern) => pattern.test(name)))
  )
}

/**
 * Starts the service and waits until it answers a request for the main step's resource through
 * the protocol later steps use.
 * @param config what the service needs, but for its secrets and log file, made here.
 * @param dir the folder of the service's log file (the runner's temporary folder).
 */
export async function startService(
  config: Omit<ServiceConfig, 'header' | 'pathSecret' | 'stopKey' | 'logFile'>,
  dir: string,
  probeResource: string | undefined
): Promise<RunningService> {
  // Without a resource to ask for, a request without one: the service refuses it (400), which
  // shows as well that it answers through the protocol.
  const header = randomBytes(32).toString('base64url')
  const pathSecret = randomBytes(32).toString('base64url')
  const stopKey = randomBytes(32).toString('base64url')
  const logFile = join(dir, `identity-endpoint-${randomBytes(6).toString('hex')}.log`)
  createPrivateFile(logFile)
  const child = spawn(process.execPath, [...SERVICE_NODE_ARGS, join(__dirname, 'service.js')], {
    detached: true,
    stdio: ['pipe', 'pipe', 'ignore'],
    env: serviceEnvironment(process.env),
    windowsHide: true
  })
  const failed = (why: string): ActionError => {
    child.kill()
    return new ActionError(
      `The token service for 'identity-endpoint' did not start: ${why}. Its log is ${logFile}.`
    )
  }
  child.stdin.end(JSON.stringify({ ...config, header, pathSecret, stopKey, logFile }))
  const port = await new Promise<number>((resolve, reject) => {
    let text = ''
    const timer = setTimeout(() => reject(failed('no answer within 10 s')), START_TIMEOUT_MS)
    child.stdout.on('data', (chunk: Buffer) => {
      text += chunk.toString()
      const line = /^(\d{1,5})\n/.exec(text)
      if (line) {
        clearTimeout(timer)
        resolve(Number(line[1]))
      }
    })
    child.once('exit', () => {
      clearTimeout(timer)
      reject(failed('it ended at once'))
    })
    child.once('error', () => {
      clearTimeout(timer)
      reject(failed('it could not be started'))
    })
  })
  // The service keeps no pipe of this process: this step can end while it runs on.
  child.stdout.destroy()
  child.removeAllListeners('exit')
  child.removeAllListeners('error')
  child.unref()
  const endpoint = `http://127.0.0.1:${port}${APP_SERVICE_PATH}`
  const resource =
    probeResource === undefined ? '' : `&resource=${encodeURIComponent(probeResource)}`
  const status = await probe(
    `${endpoint}?api-version=${APP_SERVICE_API_VERSION}${resource}`,
    header
  )
  if (status !== (probeResource === undefined ? 400 : 200)) {
    throw failed(`it answered its first request with ${status ? `HTTP ${status}` : 'nothing'}`)
  }
  return {
    pid: child.pid!,
    port,
    endpoint,
    header,
    msiEndpoint: `http://127.0.0.1:${port}/${pathSecret}${IMDS_PATH}`,
    stopKey,
    logFile,
    pathSecret
  }
}

/**
 * Creates the service's log, readable by the runner's user alone (0600): it names the resources
 * and the failures of the job. `wx`: a file planted at that name beforehand is not taken over.
 */
function createPrivateFile(file: string): void {
  closeSync(openSync(file, 'wx', 0o600))
}

/** One request as a later step's client makes it; the status it got, or 0 for none. */
function probe(url: string, header: string): Promise<number> {
  return new Promise((resolve) => {
    const req = request(url, {
      headers: { 'X-IDENTITY-HEADER': header },
      timeout: START_TIMEOUT_MS
    })
    req.on('response', (res) => {
      res.resume()
      resolve(res.statusCode ?? 0)
    })
    req.on('timeout', () => req.destroy())
    req.on('error', () => resolve(0))
    req.end()
  })
}

/** Whether a process is still there (EPERM: it is, as another user). */
export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}
