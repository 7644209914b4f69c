/**
 * The entry point the runner starts (`dist/index.js`). run() reports every failure itself; once it
 * has printed its last line the process exits, even if something it abandoned (a request past its
 * deadline, a runner OIDC call that never answers, a proxy that never answers CONNECT) still holds
 * a socket or a timer. It exits once stdout has taken the last line (a pipe can be asynchronous,
 * on macOS for one), or after a second at most.
 */
import { run } from './action/main.js'

void run().finally(() => {
  process.stdout.write('', () => process.exit())
  setTimeout(() => process.exit(), 1000).unref()
})
