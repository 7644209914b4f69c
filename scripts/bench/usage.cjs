// Preloaded into every child (`node --require usage.cjs script`): at exit, writes the process's own
// CPU time and peak memory to the file named by BENCH_USAGE_FILE. Node cannot read a child's
// rusage, and /usr/bin/time reports CPU time in 10 ms steps only. A CommonJS preload through
// --require changes nothing in how the script itself is loaded (an ESM preload through --import
// would put a CommonJS script through the ESM loader, which costs it several milliseconds it does
// not pay on a runner); it costs each child the same small amount, so the comparison stays fair.
const { writeFileSync } = require('node:fs')

const file = process.env.BENCH_USAGE_FILE
if (file) {
  process.on('exit', () => {
    const usage = process.resourceUsage()
    // userCPUTime and systemCPUTime are in microseconds, maxRSS in kibibytes.
    writeFileSync(
      file,
      JSON.stringify({ user: usage.userCPUTime, system: usage.systemCPUTime, maxRSS: usage.maxRSS })
    )
  })
}
