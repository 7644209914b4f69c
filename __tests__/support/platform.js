// Tests that only one kind of system can run, named so: each runs where it can and is skipped
// (reported as skipped, never as passed) elsewhere. `npm run validate` checks that every test
// that reads /proc or /dev/, makes a FIFO or names an absolute POSIX path is one of these.
import { it } from '@jest/globals'

/** Linux only: /proc. */
export const linuxOnly = process.platform === 'linux' ? it : it.skip
/** Linux and macOS: FIFOs (mkfifo), /dev/zero, symlinks without privileges. */
export const posixOnly = process.platform === 'win32' ? it.skip : it
