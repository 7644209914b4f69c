/**
 * The `post:` step (`dist/post.js`): stops the token service that `identity-endpoint` started, and
 * says in one line and in the job summary what it served. Without a service it does nothing and
 * prints nothing.
 */
import * as core from '@actions/core'
import { appendFileSync, existsSync, readFileSync, rmSync } from 'node:fs'
import { request } from 'node:http'
import { createLog } from '../log.js'
import { escapeHtml } from './summary.js'
import {
  isRunning,
  STATE_NAME,
  STOP_PATH,
  type ServiceState,
  type StopReport
} from '../service/start.js'

/** How long the service may take to answer the stop request, and then to exit. */
const STOP_TIMEOUT_MS = 5_000
/** Most lines of the service's log shown when it failed. */
const MAX_LOG_LINES = 50

export async function post(): Promise<void> {
  const saved = core.getState(STATE_NAME)
  if (!saved) return
  const log = createLog()
  try {
    const state = JSON.parse(saved) as ServiceState
    log.secret(state.stopKey)
    const { report, hung } = await stop(state)
    // Only a process that holds the service's port and does not answer is ended: a service that
    // is gone left a PID that another process may have taken since (a job can run for days).
    if (hung) await endHungService(state.pid)
    else if (report) await exited(state.pid, STOP_TIMEOUT_MS)
    if (!report) {
      log.warning(
        `The token service for 'identity-endpoint' had stopped before the end of the job: steps after that got no token from it. Its log:`
      )
      showLog(state.logFile, log.info)
    }
    removeLog(state.logFile)
    if (!report) return
    const served = Object.entries(report.resources)
    const words = served.map(
      ([resource, r]) =>
        `${r.served} token${r.served === 1 ? '' : 's'} for ${resource} (${r.obtained} from the token server${r.failed ? `, ${r.failed} failed` : ''})`
    )
    log.info(
      `Stopped the token service for 'identity-endpoint': it served ${words.length ? words.join('; ') : 'no tokens'}.`
    )
    for (const failure of report.failures) log.warning(`The token service: ${failure}`)
    writeSummary(served, report.failures)
  } catch {
    log.warning("Could not read the state of the token service for 'identity-endpoint'.")
  }
}

/**
 * Asks the service to stop: its report, or none; `hung` when its port took the connection but no
 * answer came in time (a stopped or hung service), as opposed to nothing listening there.
 */
function stop(state: ServiceState): Promise<{ report?: StopReport; hung: boolean }> {
  return new Promise((resolve) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: state.port,
        path: STOP_PATH,
        method: 'POST',
        headers: { 'X-Stop-Key': state.stopKey },
        timeout: STOP_TIMEOUT_MS
      },
      (res) => {
        let body = ''
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => {
          if (body.length < 256 * 1024) body += chunk
        })
        res.on('end', () => {
          try {
            const report = res.statusCode === 200 ? (JSON.parse(body) as StopReport) : undefined
            resolve({ report, hung: false })
          } catch {
            resolve({ hung: false })
          }
        })
      }
    )
    let hung = false
    req.on('timeout', () => {
      hung = true
      req.destroy()
    })
    req.on('error', () => resolve({ hung }))
    req.end()
  })
}

/**
 * Ends a service that took the stop request but did not answer it. With SIGKILL: it may be
 * stopped (SIGSTOP) or hung, and a stopped process takes no other signal until it is continued
 * (signal(7)). On Windows every signal ends the process.
 */
async function endHungService(pid: number): Promise<void> {
  try {
    process.kill(pid, 'SIGKILL')
  } catch {
    // gone meanwhile
  }
  await exited(pid, 1_000)
}

/** Whether the process is gone within `ms`. */
async function exited(pid: number, ms: number): Promise<boolean> {
  const until = Date.now() + ms
  while (Date.now() < until) {
    if (!isRunning(pid)) return true
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  return !isRunning(pid)
}

/** The service's own log, each line escaped by the log. */
function showLog(file: string, print: (line: string) => void): void {
  if (!existsSync(file)) {
    print('(no log)')
    return
  }
  const lines = readFileSync(file, 'utf8').split('\n').filter(Boolean)
  for (const line of lines.slice(-MAX_LOG_LINES)) print(`  ${line}`)
}

/**
 * Removes the service's log once shown: it names the job's resources and failures, and a later
 * job on a self-hosted runner's same user could read it otherwise.
 */
function removeLog(file: string): void {
  rmSync(file, { force: true })
}

function writeSummary(
  served: [string, StopReport['resources'][string]][],
  failures: string[]
): void {
  const file = process.env.GITHUB_STEP_SUMMARY
  if (!file) return
  core.summary.addHeading('Token service (identity-endpoint)', 3).addTable([
    [
      { data: 'Resource', header: true },
      { data: 'Tokens served', header: true },
      { data: 'From the token server', header: true },
      { data: 'Failed', header: true }
    ],
    ...served.map(([resource, r]) => [
      escapeHtml(resource),
      String(r.served),
      String(r.obtained),
      String(r.failed)
    ])
  ])
  if (failures.length) core.summary.addList(failures.map(escapeHtml))
  const text = core.summary.stringify()
  core.summary.emptyBuffer()
  appendFileSync(file, text)
}

void post()
