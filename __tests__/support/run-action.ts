// Runs dist/index.js exactly as the runner does: inputs as INPUT_* variables, outputs, exported
// variables and the summary through files, and everything the step printed captured.
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
export const ACTION = join(ROOT, 'dist', 'index.js')

/** What one run of the action left behind. */
export interface ActionRun {
  code: number | null
  stdout: string
  stderr: string
  /** Step outputs from the GITHUB_OUTPUT file. */
  outputs: Record<string, string>
  /** Variables exported through the GITHUB_ENV file. */
  exported: Record<string, string>
  /** The job summary Markdown (GITHUB_STEP_SUMMARY). */
  summary: string
  /** Values the step asked the runner to mask (`::add-mask::`). */
  masked: string[]
  /** The log as the runner would show it: commands consumed, masked values replaced by ***. */
  log: string
  /** `::error::` messages, unescaped. */
  errors: string[]
  /** `::warning::` messages, unescaped. */
  warnings: string[]
}

export interface RunOptions {
  /** Extra environment, e.g. NODE_EXTRA_CA_CERTS, HTTPS_PROXY. */
  env?: Record<string, string | undefined>
  /** GITHUB_WORKSPACE (default: a fresh temporary folder). */
  workspace?: string
  /** Kill the action after this long (default 120 s). */
  timeoutMs?: number
}

/** Runs the action with `inputs` (names as in action.yml; defaults from action.yml are not applied). */
export async function runAction(
  inputs: Record<string, string>,
  options: RunOptions = {}
): Promise<ActionRun> {
  const dir = mkdtempSync(join(tmpdir(), 'run-'))
  const files = {
    GITHUB_OUTPUT: 'output',
    GITHUB_ENV: 'env',
    GITHUB_STEP_SUMMARY: 'summary',
    GITHUB_STATE: 'state'
  }
  const env: Record<string, string | undefined> = {
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
    const { code, stdout, stderr } = await spawnNode([ACTION], env, options.timeoutMs ?? 120_000)
    const masked = [...stdout.matchAll(/^::add-mask::(.*)$/gm)].map((m) => unescape(m[1]))
    return {
      code,
      stdout,
      stderr,
      outputs: parseFileCommand(readFileSync(join(dir, 'output'), 'utf8')),
      exported: parseFileCommand(readFileSync(join(dir, 'env'), 'utf8')),
      summary: readFileSync(join(dir, 'summary'), 'utf8'),
      masked,
      log: runnerLog(stdout + stderr, masked),
      errors: [...stdout.matchAll(/^::error::(.*)$/gm)].map((m) => unescape(m[1])),
      warnings: [...stdout.matchAll(/^::warning::(.*)$/gm)].map((m) => unescape(m[1]))
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** Runs node with a clean environment and returns what it printed. */
export function spawnNode(
  args: string[],
  env: Record<string, string | undefined>,
  timeoutMs: number
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, {
      env: env as NodeJS.ProcessEnv,
      stdio: ['ignore', 'pipe', 'pipe']
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
  })
}

/** Parses `name<<delimiter` blocks as `core.setOutput`/`core.exportVariable` write them. */
export function parseFileCommand(text: string): Record<string, string> {
  const result: Record<string, string> = {}
  const lines = text.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const m = /^([^<]+)<<(.+)$/.exec(lines[i])
    if (!m) continue
    const value: string[] = []
    while (++i < lines.length && lines[i] !== m[2]) value.push(lines[i])
    result[m[1]] = value.join('\n')
  }
  return result
}

/** The log as the runner shows it: workflow commands consumed, masked values hidden. */
export function runnerLog(printed: string, masked: string[]): string {
  const secrets = [...masked].filter(Boolean).sort((a, b) => b.length - a.length)
  return printed
    .split('\n')
    .filter((line) => !line.startsWith('::add-mask::'))
    .map((line) => secrets.reduce((out, s) => out.split(s).join('***'), line))
    .join('\n')
}

/** Undoes the escaping of workflow command data (%25, %0D, %0A). */
function unescape(text: string): string {
  return text.replace(/%0D/g, '\r').replace(/%0A/g, '\n').replace(/%25/g, '%')
}

/**
 * Where a secret shows up in what the step printed (masking commands aside), in the summary or in
 * the exported variables; an empty list when nowhere. Secrets shorter than 8 characters are skipped
 * (they would match by chance).
 */
export function findLeaks(run: ActionRun, secrets: string[]): string[] {
  const printed = (run.stdout + run.stderr)
    .split('\n')
    .filter((line) => !line.startsWith('::add-mask::'))
    .join('\n')
  const places: Record<string, string> = { printed, summary: run.summary }
  const leaks: string[] = []
  for (const secret of secrets.filter((s) => s.length >= 8)) {
    for (const [place, text] of Object.entries(places)) {
      if (text.includes(secret)) leaks.push(`${place} contains ${secret.slice(0, 12)}...`)
    }
  }
  return leaks
}

/** Writes a file into a folder and returns its path. */
export function writeTemp(dir: string, name: string, content: string | Buffer): string {
  const path = join(dir, name)
  writeFileSync(path, content)
  return path
}
