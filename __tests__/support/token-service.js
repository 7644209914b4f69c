// identity-endpoint's token service as the runner runs it, for the tests that use it: the main step
// (dist/index.js) that starts it, the post step (dist/post.js) that stops it, and what a test asks
// of the service's process and port.
import { expect } from '@jest/globals'
import { randomUUID } from 'node:crypto'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { join } from 'node:path'
import { ROOT, runAction, spawnNode } from './run-action.js'

/**
 * @typedef {object} Started
 * @property {import('./run-action.js').ActionRun} main the main step's run
 * @property {string} temp its RUNNER_TEMP, where the service keeps its log
 * @property {number} pid @property {number} port
 * @property {string} state the STATE_identity-endpoint value the runner passes to the post step
 * @property {string} endpoint IDENTITY_ENDPOINT @property {string} header IDENTITY_HEADER
 * @property {string} msiEndpoint the msi-endpoint output (Terraform's, a secret in its path)
 * @property {Record<string, string | undefined>} stepEnv a later step's environment: the job's,
 *   with what the main step exported
 */

/**
 * The main step with identity-endpoint, in a RUNNER_TEMP of its own under `dir`. It must start
 * the service.
 * @param {{ dir: string, inputs: Record<string, string>, env?: Record<string, string> }} options
 *   `env`: the job's environment, on top of RUNNER_TEMP and a RUNNER_TRACKING_ID
 * @returns {Promise<Started>}
 */
export async function startService({ dir, inputs, env = {} }) {
  const temp = mkdtempSync(join(dir, 'runner-temp-'))
  const jobEnv = { RUNNER_TEMP: temp, RUNNER_TRACKING_ID: `github_${randomUUID()}`, ...env }
  const main = await runAction({ ...inputs, 'identity-endpoint': 'true' }, { env: jobEnv })
  expect(main.errors).toEqual([])
  expect(main.code).toBe(0)
  const state = main.state['identity-endpoint']
  const { pid, port } = /** @type {{ pid: number, port: number }} */ (JSON.parse(state))
  return {
    main,
    temp,
    pid,
    port,
    state,
    endpoint: main.exported.IDENTITY_ENDPOINT,
    header: main.exported.IDENTITY_HEADER,
    msiEndpoint: main.outputs['msi-endpoint'],
    stepEnv: { PATH: process.env.PATH, HOME: process.env.HOME, ...jobEnv, ...main.exported }
  }
}

/**
 * The post step, with the state the runner passes; what it printed and wrote to the job summary
 * (kept beside RUNNER_TEMP, which a test may have removed).
 * @param {Started} started
 */
export async function stopService(started) {
  const summary = `${started.temp}-post-summary.md`
  writeFileSync(summary, '')
  const run = await spawnNode(
    [join(ROOT, 'dist', 'post.js')],
    {
      PATH: process.env.PATH,
      'STATE_identity-endpoint': started.state,
      GITHUB_STEP_SUMMARY: summary
    },
    30_000
  )
  return { ...run, summary: readFileSync(summary, 'utf8') }
}

/**
 * Whether a process is there and not a zombie: where PID 1 reaps no orphans (some containers), an
 * ended service stays a zombie that `kill(pid, 0)` still finds.
 * @param {number} pid
 */
export function isRunning(pid) {
  try {
    process.kill(pid, 0)
  } catch {
    return false
  }
  if (process.platform !== 'linux') return true
  try {
    // portable: Linux only, as the line above says; /proc/<pid>/stat's third field is the state.
    return !/^\d+ \(.*\) Z/.test(readFileSync(join('/proc', String(pid), 'stat'), 'utf8'))
  } catch {
    return false
  }
}

/** Whether something accepts connections on this loopback port. @param {number} port */
export function listening(port) {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    socket.on('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.on('error', () => resolve(false))
  })
}
