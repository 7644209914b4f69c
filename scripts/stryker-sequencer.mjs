// jest's test sequencer for mutation runs only (stryker.config.json sets it; `npm test` does not).
//
// For each change, Stryker passes the full names of the tests that cover it as jest's
// `testNamePattern`, but jest still loads every test file to find those names: 14 files, about
// 8 s a change on two cores. This sequencer keeps only the files that hold a matching test, so a
// change costs the files that cover it. The names per file come from one `jest --collectTests` run
// (it loads the files without running a test), kept in the sandbox for the later test runners.
import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import path from 'node:path'

// As jest's documentation extends it: the package is CommonJS with its class on `default`.
/** @type {typeof import('@jest/test-sequencer').default} */
const Sequencer = createRequire(import.meta.url)('@jest/test-sequencer').default

// The status jest's sequencer cache keeps for a file whose last run failed.
const FAILED = 0

const CACHE_FILE = '.stryker-test-names.json'

/** @type {Map<string, string[]> | undefined} test file (absolute path) → full test names */
let namesByFile

/** @param {string} rootDir @param {string[]} files @returns {Map<string, string[]>} */
function collect(rootDir, files) {
  const cache = path.join(rootDir, CACHE_FILE)
  if (existsSync(cache)) return new Map(Object.entries(JSON.parse(readFileSync(cache, 'utf8'))))
  const out = path.join(tmpdir(), `stryker-test-names-${process.pid}.json`)
  const jest = createRequire(path.join(rootDir, 'package.json')).resolve('jest/bin/jest')
  const env = { ...process.env }
  // The test runner sets this while a change is active; collect the names of the unchanged code.
  delete env.__STRYKER_ACTIVE_MUTANT__
  execFileSync(
    process.execPath,
    [
      '--experimental-vm-modules',
      '--no-warnings',
      jest,
      '--collectTests',
      '--json',
      '--coverage=false',
      '--outputFile',
      out,
      '--runTestsByPath',
      ...files
    ],
    { cwd: rootDir, env, stdio: ['ignore', 'ignore', 'pipe'] }
  )
  const report = JSON.parse(readFileSync(out, 'utf8'))
  rmSync(out, { force: true })
  /** @type {Record<string, string[]>} */
  const byFile = {}
  for (const suite of report.testResults)
    byFile[suite.name] = suite.assertionResults.map(
      (/** @type {{ fullName: string }} */ t) => t.fullName
    )
  const partial = `${cache}.${process.pid}`
  writeFileSync(partial, JSON.stringify(byFile))
  renameSync(partial, cache)
  return new Map(Object.entries(byFile))
}

export default class StrykerSequencer extends Sequencer {
  /** @param {import('@jest/test-sequencer').TestSequencerOptions} options */
  constructor(options) {
    super(options)
    this.pattern = options.globalConfig.testNamePattern
  }

  /** @param {Array<import('@jest/test-result').Test>} tests */
  sort(tests) {
    if (!this.pattern || tests.length === 0) return super.sort(tests)
    const byFile = (namesByFile ??= collect(
      tests[0].context.config.rootDir,
      tests.map((t) => t.path)
    ))
    // jest matches testNamePattern the same way: case-insensitive, anywhere in the full name.
    const wanted = new RegExp(this.pattern, 'i')
    // A file the collection did not see is kept: running it costs time, leaving it out could
    // hide the test that notices the change.
    const covering = tests.filter((t) => {
      const names = byFile.get(t.path)
      return names === undefined || names.some((name) => wanted.test(name))
    })
    // A file that failed in the last run first (the change before was likely in the same code),
    // then the quickest: the bailing test environment stops at the first failure.
    /** @param {import('@jest/test-result').Test} t */
    const rank = (t) => {
      const [status, time = 0] = this._getCache(t)[t.path] ?? []
      return status === FAILED ? -1 : time
    }
    return covering.sort((a, b) => rank(a) - rank(b) || (a.path < b.path ? -1 : 1))
  }
}
