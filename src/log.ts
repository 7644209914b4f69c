import * as core from '@actions/core'

/**
 * The one door out: every line the action prints goes through here. Text the action did not write
 * itself (a server's error, a header, an input) may hold line breaks that would start a workflow
 * command (`::stop-commands::`, which switches masking off) or ANSI escapes that repaint the log;
 * this module redacts the known secrets first, then escapes, then clips.
 */

/** Longest line printed; a longer one is clipped (after redaction, so no secret survives in part). */
export const MAX_LINE = 4000

const REDACTED = '***'

/** Shorter values are not redacted: they would match ordinary text by chance. */
const MIN_SECRET_LENGTH = 4

// C0 controls but tab, DEL, C1 controls (NEL U+0085 among them), the Unicode line and paragraph
// separators, and the bidirectional overrides that reorder what a reader sees ("Trojan Source").
// A character class without quantifiers: one pass, linear in the text.
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g
const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r' }

/**
 * Makes text safe to print on one line: CR, LF, NEL, U+2028/2029, ESC and every other control
 * character become visible escapes (`\n`, `\u001b`), tabs become spaces, a leading `::` (a workflow
 * command) and `##[` (the runner's older command syntax) are broken up.
 */
export function escapeLine(text: string): string {
  let out = text
    .replace(/\t/g, ' ')
    .replace(UNSAFE, (c) => NAMED[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
    .replace(/##\[/g, '#\\#[')
  // The runner trims a line before it looks for `::`.
  if (out.trimStart().startsWith('::')) out = `> ${out}`
  return out
}

/** Replaces every occurrence of each secret (longest first) with `***`. */
export function redact(text: string, secrets: Iterable<string>): string {
  const sorted = [...secrets].filter((s) => s.length >= MIN_SECRET_LENGTH)
  sorted.sort((a, b) => b.length - a.length)
  let out = text
  // Stryker disable next-line ConditionalExpression: spares a split; splitting on a missing secret changes nothing
  for (const secret of sorted) if (out.includes(secret)) out = out.split(secret).join(REDACTED)
  return out
}

/** Shortens text to `max` characters, marking the cut with `...`. */
export function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, Math.max(0, max - 3))}...` : text
}

/** What `core` functions the log uses: the real ones, or a recorder in tests. */
export interface LogSink {
  info: (line: string) => void
  warning: (line: string) => void
  error: (line: string) => void
  debug: (line: string) => void
  setFailed: (line: string) => void
  setSecret: (value: string) => void
  isDebug: () => boolean
}

/** The log of one run: knows the run's secrets and prints only redacted, escaped, clipped lines. */
export interface Log {
  info: (text: string) => void
  warning: (text: string) => void
  error: (text: string) => void
  debug: (text: string) => void
  /** The step's one `::error::` line; marks the step failed. */
  fail: (text: string) => void
  isDebug: () => boolean
  /**
   * Registers a secret: asks the runner to mask it (and each of its lines, since the runner masks
   * line by line) and redacts it from every later line this log prints.
   * @returns the value, for chaining.
   */
  secret: (value: string) => string
  /** Redacts only, for text that leaves through another door (a file, an exception). */
  redact: (text: string) => string
  /** The text as it would be printed. */
  format: (text: string) => string
}

/** The real `@actions/core` functions, named one by one so the bundler keeps only these. */
function coreSink(): LogSink {
  return {
    info: core.info,
    warning: core.warning,
    error: core.error,
    debug: core.debug,
    setFailed: core.setFailed,
    setSecret: core.setSecret,
    isDebug: core.isDebug
  }
}

/**
 * Creates the log of one run.
 * @param sink defaults to `@actions/core`.
 */
export function createLog(sink: LogSink = coreSink()): Log {
  const secrets = new Set<string>()
  const format = (text: string): string => clip(escapeLine(redact(text, secrets)), MAX_LINE)
  return {
    info: (text) => sink.info(format(text)),
    warning: (text) => sink.warning(format(text)),
    error: (text) => sink.error(format(text)),
    debug: (text) => sink.debug(format(text)),
    fail: (text) => sink.setFailed(format(text)),
    isDebug: () => sink.isDebug(),
    secret: (value) => {
      const lines = value.split(/\r\n|\r|\n/).filter((l) => l.trim())
      for (const piece of [value, ...lines]) {
        if (!piece || secrets.has(piece)) continue
        secrets.add(piece)
        sink.setSecret(piece)
      }
      return value
    },
    redact: (text) => redact(text, secrets),
    format
  }
}
