// Preloaded into every child (`node --import usage.mjs script`): at exit, writes the process's own
// CPU time and peak memory to the file named by BENCH_USAGE_FILE. Node cannot read a child's
// rusage, and /usr/bin/time reports CPU time in 10 ms steps only. Loading this costs each child
// the same small amount (one more module, about 3 ms of wall time for an ESM script), so the
// comparison stays fair; it pulls the ratios very slightly towards 1.
import { writeFileSync } from 'node:fs'

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
