// jest's test environment for mutation runs only (stryker.config.json sets it; `npm test` does not).
//
// A change is detected as soon as one test fails, but jest has no bail that Stryker can use
// programmatically, so every other covering test would still run: for a change in code that
// every test passes through, most of the suite. Once a test has failed while a change is active,
// this environment skips the remaining tests of that change, and their files' hooks with them
// (jest runs no hook of a block whose tests are all skipped). CommonJS, because Stryker loads
// the environment with require().
const { TestEnvironment } = require('jest-environment-node')

// The change under test whose test has failed; the test runner sets the variable per change.
/** @type {string | undefined} */
let failedChange

/** @param {import('@jest/types').Circus.DescribeBlock} block */
function skipAll(block) {
  for (const child of block.children) {
    if (child.type === 'describeBlock') skipAll(child)
    else child.mode = 'skip'
  }
}

class BailingEnvironment extends TestEnvironment {
  /** @param {import('@jest/types').Circus.Event} event @param {import('@jest/types').Circus.State} state */
  async handleTestEvent(event, state) {
    const change = process.env.__STRYKER_ACTIVE_MUTANT__
    if (change === undefined) return
    if (event.name === 'test_done' && event.test.errors.length > 0) failedChange = change
    else if (failedChange !== change) return
    else if (event.name === 'run_start') skipAll(state.rootDescribeBlock)
    else if (event.name === 'test_start') event.test.mode = 'skip'
  }
}

module.exports = BailingEnvironment
