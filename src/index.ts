/**
 * The entry point the runner starts (`dist/index.js`). run() reports every failure itself; once it
 * has printed its last line the process exits, even if something it abandoned (a request past its
 * deadline, a runner OIDC call that never answers, a proxy that never answers CONNECT) still holds
 * a socket or a timer. stdout and stderr are synchronous for files and pipes on Linux and macOS, so
 * nothing printed is lost.
 */
import { run } from './main.js'

void run().finally(() => process.exit())
