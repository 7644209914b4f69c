// Runs dist/index.js exactly as the runner does: inputs as INPUT_* variables, outputs, exported
// variables and the summary through files, and everything the step printed captured.
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
export const ACTION = join(ROOT, 'dist', 'index.js')

/**
 * What one run of the action left behind.
 * @typedef {object} ActionRun
 * @property {number | null} code exit code
 * @property {string} stdout
 * @property {string} stderr
 * @property {Record<string, string>} outputs step outputs from the GITHUB_OUTPUT file
 * @property {Record<string, string>} exported variables exported through the GITHUB_ENV file
 * @property {Record<string, string>} state values saved for the post step (GITHUB_STATE)
 * @property {string} summary the job summary Markdown (GITHUB_STEP_SUMMARY)
 * @property {string[]} masked values the step asked the runner to mask (`::add-mask::`)
 * @property {string} log the log as the runner would show it: commands consumed, masked values replaced by ***
 * @property {string[]} errors `::error::` messages, unescaped
 * @property {string[]} warnings `::warning::` messages, unescaped
 * @property {number} ms wall time of the run, start to exit
 * @property {string | null} signal the signal that ended the process (SIGKILL when it outlived `timeoutMs`)
 * @property {Replay} replay what the runner makes of the output, stop-commands and all
 */

/**
 * @typedef {object} RunOptions
 * @property {Record<string, string | undefined>} [env] extra environment, e.g. NODE_EXTRA_CA_CERTS, HTTPS_PROXY
 * @property {string} [workspace] GITHUB_WORKSPACE (default: a fresh temporary folder)
 * @property {number} [timeoutMs] kill the action after this long (default 120 s)
 */

/**
 * Runs the action with `inputs` (names as in action.yml; defaults from action.yml are not applied).
 * @param {Record<string, string>} inputs
 * @param {RunOptions} [options]
 * @returns {Promise<ActionRun>}
 */
export async function runAction(inputs, options = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'run-'))
  const files = {
    GITHUB_OUTPUT: 'output',
    GITHUB_ENV: 'env',
    GITHUB_STEP_SUMMARY: 'summary',
    GITHUB_STATE: 'state'
  }
  /** @type {Record<string, string | undefined>} */
  const env = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    GITHUB_WORKSPACE: options.workspace ?? dir,
    RUNNER_TEMP: dir
  }
  for (const [name, file] of Object.entries(files)) {
    env[name] = join(dir, file)
    writeFileSync(join(dir, file), '')
  }
  for (const [name, value] of Object.entries(inputs)) env[`INPUT_${name.toUpperCase()}`] = value
  Object.assign(env, options.env)
  try {
    const started = Date.now()
    const { code, signal, stdout, stderr } = await spawnNode(
      [ACTION],
      env,
      options.timeoutMs ?? 120_000
    )
    const ms = Date.now() - started
    const masked = [...stdout.matchAll(/^::add-mask::(.*)$/gm)].map((m) => unescape(m[1]))
    return {
      code,
      stdout,
      stderr,
      outputs: parseFileCommand(readFileSync(join(dir, 'output'), 'utf8')),
      exported: parseFileCommand(readFileSync(join(dir, 'env'), 'utf8')),
      state: parseFileCommand(readFileSync(join(dir, 'state'), 'utf8')),
      summary: readFileSync(join(dir, 'summary'), 'utf8'),
      masked,
      log: runnerLog(stdout + stderr, masked),
      errors: [...stdout.matchAll(/^::error::(.*)$/gm)].map((m) => unescape(m[1])),
      warnings: [...stdout.matchAll(/^::warning::(.*)$/gm)].map((m) => unescape(m[1])),
      ms,
      signal,
      replay: replayRunner(stdout + stderr)
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/**
 * Runs node with a clean environment and returns what it printed.
 * @param {string[]} args
 * @param {Record<string, string | undefined>} env
 * @param {number} timeoutMs
 * @returns {Promise<{ code: number | null, signal: string | null, stdout: string, stderr: string }>}
 */
export function spawnNode(args, env, timeoutMs) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, {
      env: /** @type {NodeJS.ProcessEnv} */ (env),
      stdio: ['ignore', 'pipe', 'pipe']
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.on('error', reject)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, stdout, stderr })
    })
  })
}

/** Parses `name<<delimiter` blocks as `core.setOutput`/`core.exportVariable` write them. */
/**
 * @param {string} text
 * @returns {Record<string, string>}
 */
export function parseFileCommand(text) {
  /** @type {Record<string, string>} */
  const result = {}
  // @actions/core ends lines with os.EOL: CRLF on Windows.
  const lines = text.split(/\r?\n/)
  for (let i = 0; i < lines.length; i++) {
    const m = /^([^<]+)<<(.+)$/.exec(lines[i])
    if (!m) continue
    /** @type {string[]} */
    const value = []
    while (++i < lines.length && lines[i] !== m[2]) value.push(lines[i])
    result[m[1]] = value.join('\n')
  }
  return result
}

/** The log as the runner shows it: workflow commands consumed, masked values hidden. */
/**
 * @param {string} printed
 * @param {string[]} masked
 * @returns {string}
 */
export function runnerLog(printed, masked) {
  const secrets = [...masked].filter(Boolean).sort((a, b) => b.length - a.length)
  return printed
    .split(/\r?\n/)
    .filter((line) => !line.startsWith('::add-mask::'))
    .map((line) => secrets.reduce((out, s) => out.split(s).join('***'), line))
    .join('\n')
}

/**
 * What the runner shows of a step's output, replayed the way the runner reads it: lines split on
 * LF, CR and CRLF (as .NET's ReadLine does); a line that is a workflow command once trimmed
 * (`::name props::data`) is consumed: `::add-mask::` masks its value in every LATER line,
 * `::stop-commands::TOKEN` switches command processing off until a line `::TOKEN::`, so that
 * `::add-mask::` lines in between are shown, unmasked, as text; `::error::`, `::warning::`,
 * `::debug::` and the rest are shown as their message (data unescaped). Each shown line is masked
 * with the masks registered before it.
 * @typedef {object} Replay
 * @property {string[]} lines every line the runner shows, masked as the runner masks it
 * @property {string[]} masks the values the runner masked, in order
 * @property {boolean} stopped whether a `::stop-commands::` was honoured at some point
 */

/**
 * @param {string} printed
 * @returns {Replay}
 */
export function replayRunner(printed) {
  /** @type {string[]} */
  const masks = []
  /** @type {string[]} */
  const lines = []
  /** @type {string | undefined} */
  let stopToken
  let stopped = false
  const show = (/** @type {string} */ line) => {
    const sorted = [...masks].sort((a, b) => b.length - a.length)
    lines.push(sorted.reduce((out, m) => out.split(m).join('***'), line))
  }
  for (const line of printed.split(/\r\n|\r|\n/)) {
    const trimmed = line.trim()
    if (stopToken !== undefined) {
      if (trimmed === `::${stopToken}::`) stopToken = undefined
      else show(line)
      continue
    }
    const command = /^::([A-Za-z-]+)(?: [^:]*)?::(.*)$/s.exec(trimmed)
    if (!command) {
      show(line)
      continue
    }
    const [, name, data] = command
    const value = unescape(data)
    if (name === 'add-mask') {
      if (value.trim()) masks.push(value)
    } else if (name === 'stop-commands') {
      if (value) {
        stopToken = value
        stopped = true
      }
    } else {
      for (const part of value.split(/\r\n|\r|\n/)) show(`${name}: ${part}`)
    }
  }
  return { lines, masks, stopped }
}

/**
 * Secrets the runner would show in clear: each secret (and each line of a multi-line one) of at
 * least 8 characters, looked for in every line the replayed runner shows.
 * @param {Replay} replay
 * @param {string[]} secrets
 * @returns {string[]}
 */
export function runnerLeaks(replay, secrets) {
  const pieces = secrets
    .flatMap((s) => [s, ...s.split(/\r\n|\r|\n/)])
    .map((s) => s.trim())
    .filter((s) => s.length >= 8)
  /** @type {string[]} */
  const leaks = []
  for (const piece of new Set(pieces)) {
    const line = replay.lines.find((l) => l.includes(piece))
    if (line !== undefined) leaks.push(`${piece.slice(0, 12)}... shown in: ${line.slice(0, 160)}`)
  }
  return leaks
}

/** Undoes the escaping of workflow command data (%25, %0D, %0A). */
/** @param {string} text */
function unescape(text) {
  return text.replace(/%0D/g, '\r').replace(/%0A/g, '\n').replace(/%25/g, '%')
}

/**
 * Where a secret shows up in what the step printed (masking commands aside), in the summary or in
 * the exported variables; an empty list when nowhere. Secrets shorter than 8 characters are skipped
 * (they would match by chance).
 */
/**
 * @param {ActionRun} run
 * @param {string[]} secrets
 * @returns {string[]}
 */
export function findLeaks(run, secrets) {
  const printed = (run.stdout + run.stderr)
    .split(/\r?\n/)
    .filter((line) => !line.startsWith('::add-mask::'))
    .join('\n')
  /** @type {Record<string, string>} */
  const places = { printed, summary: run.summary }
  /** @type {string[]} */
  const leaks = []
  for (const secret of secrets.filter((s) => s.length >= 8)) {
    for (const [place, text] of Object.entries(places)) {
      if (text.includes(secret)) leaks.push(`${place} contains ${secret.slice(0, 12)}...`)
    }
  }
  return leaks
}

/** Writes a file into a folder and returns its path. */
/**
 * @param {string} dir
 * @param {string} name
 * @param {string | Buffer} content
 */
export function writeTemp(dir, name, content) {
  const path = join(dir, name)
  writeFileSync(path, content)
  return path
}
