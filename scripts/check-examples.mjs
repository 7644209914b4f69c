// What a user copies must run as written on the runner it names (ubuntu-latest unless it says
// otherwise), which no parser knows: each tool a step calls is installed by an earlier step or is
// on that image, and each job says what it may do and for how long. Checked for examples/ and
// every workflow of README.md and docs/ (a fragment that is a list of steps: its tools only).
//
// - `terraform` is not on ubuntu-24.04 (actions/runner-images, Ubuntu2404-Readme.md): an earlier
//   step uses hashicorp/setup-terraform.
// - Connect-AzAccount: the Ubuntu images save the Az modules under /usr/share/az_*, off
//   PSModulePath; the step imports or installs Az.Accounts when `Get-Module -ListAvailable` has none.
// - `pip install` into the system Python is refused by PEP 668 on Ubuntu 24.04: a venv first.
// - `make` (and any build of the repository's files) needs actions/checkout first.
// - Every job has `permissions:` (its own or the workflow's) and `timeout-minutes`; a job that
//   deploys on push (terraform apply, az ... deploy) has `concurrency`, so two pushes do not
//   apply at once.

/** @typedef {import('./validate-workflows.mjs').Problem} Problem */
/** @typedef {import('./validate-workflows.mjs').Source} Source */

/** The part of a STEPS_HEADER-wrapped fragment that the validator made up. */
const FRAGMENT_JOB = 'snippet'

/**
 * @param {{ yaml: { parse: (text: string) => any } }} lib
 * @param {Source} source
 * @returns {Problem[]}
 */
export function checkExample(lib, source) {
  /** @type {Record<string, any>} */
  let workflow
  try {
    workflow = lib.yaml.parse(source.text) ?? {}
  } catch {
    return [] // the parser's own diagnostics report it
  }
  const lines = source.text.split('\n')
  /** @type {Problem[]} */
  const problems = []
  /** @param {string} needle @param {number} from @param {string} message */
  const report = (needle, from, message) => {
    let index = lines.findIndex((line, i) => i >= from && line.includes(needle))
    if (index === -1) index = from
    problems.push({
      file: source.file,
      line: source.lineOffset + index + 1,
      column: 1,
      message
    })
  }
  const fragment = isFragment(workflow, lines)
  for (const [id, job] of Object.entries(workflow.jobs ?? {})) {
    if (job === null || typeof job !== 'object' || job.uses) continue
    const jobLine = Math.max(
      0,
      lines.findIndex((line) => line === `  ${id}:`)
    )
    if (!fragment) {
      if (job.permissions === undefined && workflow.permissions === undefined) {
        report(
          `  ${id}:`,
          0,
          `Job '${id}' has no permissions: give it the least it needs (contents: read; id-token: write for federation).`
        )
      }
      if (job['timeout-minutes'] === undefined) {
        report(
          `  ${id}:`,
          0,
          `Job '${id}' has no timeout-minutes: a hung step would hold the runner for 6 hours (360 minutes).`
        )
      }
      if (
        deploysOnPush(workflow, job) &&
        job.concurrency === undefined &&
        workflow.concurrency === undefined
      ) {
        report(
          `  ${id}:`,
          0,
          `Job '${id}' deploys on push without concurrency: two pushes would apply at once.`
        )
      }
    }
    /** @type {Record<string, any>[]} */
    const steps = Array.isArray(job.steps) ? job.steps : []
    steps.forEach((step, index) => {
      const run = String(step?.run ?? '')
      const before = steps.slice(0, index)
      const earlier = (/** @type {RegExp} */ uses) =>
        before.some((s) => uses.test(String(s?.uses ?? '')))
      const earlierRun = (/** @type {RegExp} */ text) =>
        before.some((s) => text.test(String(s?.run ?? '')))
      if (/(^|[\s;&|(])terraform\s/m.test(run) && !earlier(/^hashicorp\/setup-terraform@/)) {
        report(
          'terraform ',
          jobLine,
          'This step runs terraform, which is not on ubuntu-24.04: add a hashicorp/setup-terraform step before it.'
        )
      }
      if (
        /Connect-AzAccount/.test(run) &&
        !/Get-Module\s+-ListAvailable\s+Az\.Accounts/.test(run) &&
        !earlierRun(/Get-Module\s+-ListAvailable\s+Az\.Accounts/)
      ) {
        report(
          'Connect-AzAccount',
          jobLine,
          "Connect-AzAccount needs the Az modules, which the Ubuntu images keep off PSModulePath: install Az.Accounts first when 'Get-Module -ListAvailable Az.Accounts' finds none, as examples/azure-powershell.yml does."
        )
      }
      const venv = /-m\s+venv\s/
      if (/(^|[\s;&|(])pip3?\s+install\s/m.test(run) && !venv.test(run) && !earlierRun(venv)) {
        report(
          'pip',
          jobLine,
          'pip install into the system Python is refused on Ubuntu 24.04 (PEP 668): create a venv first (python3 -m venv).'
        )
      }
      if (/(^|[\s;&|(])make(\s|$)/m.test(run) && !earlier(/^actions\/checkout@/)) {
        report(
          'make',
          jobLine,
          "This step runs make on the repository's files: add an actions/checkout step before it."
        )
      }
    })
  }
  return problems
}

/** A list of steps wrapped by the validator into a job of its own (validate-workflows.mjs). */
function isFragment(/** @type {Record<string, any>} */ workflow, /** @type {string[]} */ lines) {
  return (
    Object.keys(workflow.jobs ?? {}).join() === FRAGMENT_JOB && lines[0] === 'on: workflow_dispatch'
  )
}

/**
 * A job that runs on a push and applies or deploys something.
 * @param {Record<string, any>} workflow
 * @param {Record<string, any>} job
 */
function deploysOnPush(workflow, job) {
  const on = workflow.on ?? workflow[/** @type {any} */ (true)]
  const push =
    on === 'push' ||
    (Array.isArray(on) && on.includes('push')) ||
    (typeof on === 'object' && on !== null && 'push' in on)
  if (!push) return false
  /** @type {Record<string, any>[]} */
  const steps = Array.isArray(job.steps) ? job.steps : []
  return steps.some((s) => /terraform\s+apply|\bdeploy\b/.test(String(s?.run ?? '')))
}
