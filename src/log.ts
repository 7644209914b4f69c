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

/**
 * Secrets shorter than this are redacted only where they appear whole; longer ones wherever any run
 * of this many of their characters appears, so a secret quoted in pieces (half in one field, half
 * in the next) or cut short is still hidden.
 */
export const SECRET_RUN = 16

/** Most runs indexed: enough for every secret of a run (a token is at most 64 KiB). */
const MAX_RUNS = 256 * 1024
/** Most lines of one multi-line secret masked on their own. */
const MAX_LINE_PIECES = 32
/** Most short secrets: each costs a comparison at every position. */
const MAX_SHORT = 32

/**
 * The secrets of a run and the redaction of text against them: one forward pass over the text,
 * linear in what it reads, that hides every run of {@link SECRET_RUN} characters of a secret, every
 * short secret, and every JWT-shaped string (`eyJ...` with two or more dots: a token or an
 * assertion, signed or not), and stops as soon as the clipped line is complete.
 */
export class Secrets {
  /** Every {@link SECRET_RUN}-character run of the secrets at least that long. */
  private readonly runs = new Set<string>()
  private readonly short = new Set<string>()

  /**
   * Adds a secret; values shorter than 4 characters would match ordinary text and are ignored.
   * @returns whether it was not known before.
   */
  add(value: string): boolean {
    if (value.length < MIN_SECRET_LENGTH) return false
    if (value.length < SECRET_RUN) {
      if (this.short.has(value) || this.short.size >= MAX_SHORT) return false
      this.short.add(value)
      return true
    }
    const before = this.runs.size
    for (let i = 0; i + SECRET_RUN <= value.length && this.runs.size < MAX_RUNS; i++) {
      this.runs.add(value.slice(i, i + SECRET_RUN))
    }
    return this.runs.size > before
  }

  /**
   * The text with every secret and JWT written as `***`, shortened to `max` characters (the cut
   * marked `...`). Redaction and clipping are one pass, so no part of a secret cut at the end of
   * the line survives, and the pass ends once the line is full, whatever length the text has.
   */
  show(text: string, max = Infinity): string {
    let out = ''
    let hiddenTo = 0 // characters before this index are part of a secret
    let plainTo = 0 // no JWT starts before this index
    let hiding = false
    for (let i = 0; i < text.length && out.length <= max; i++) {
      if (this.runs.size > 0 && this.runs.has(text.slice(i, i + SECRET_RUN))) {
        hiddenTo = Math.max(hiddenTo, i + SECRET_RUN)
      }
      for (const secret of this.short) {
        if (text.startsWith(secret, i)) hiddenTo = Math.max(hiddenTo, i + secret.length)
      }
      if (i >= plainTo && text.startsWith('eyJ', i)) {
        const jwt = scanJwt(text, i)
        if (jwt.ok) hiddenTo = Math.max(hiddenTo, jwt.end)
        else plainTo = jwt.end
      }
      if (i >= hiddenTo) {
        out += text[i]
        hiding = false
      } else if (!hiding) {
        out += REDACTED
        hiding = true
      }
    }
    return out.length > max ? `${out.slice(0, Math.max(0, max - 3))}...` : out
  }
}

/** Characters of base64url. */
function isBase64Url(code: number): boolean {
  return (
    (code >= 0x30 && code <= 0x39) || // 0-9
    (code >= 0x41 && code <= 0x5a) || // A-Z
    (code >= 0x61 && code <= 0x7a) || // a-z
    code === 0x2d || // -
    code === 0x5f // _
  )
}

function skipBase64Url(text: string, from: number): number {
  let i = from
  while (i < text.length && isBase64Url(text.charCodeAt(i))) i++
  return i
}

/**
 * Reads a JWT (JWS or JWE, compact form) at `start`, where `eyJ` is: a header of at least 11
 * characters, then two or more dot-separated base64url parts, empty ones allowed (an unsigned JWT).
 * @returns `ok` with the JWT's end; else where the header's characters end, as no JWT can start
 *   before it (any start inside that run meets the same character after it): a scan that
 *   resumes there keeps the whole search linear.
 */
export function scanJwt(text: string, start: number): { ok: boolean; end: number } {
  const header = skipBase64Url(text, start)
  if (header - start < 11 || text[header] !== '.') return { ok: false, end: header }
  const payload = skipBase64Url(text, header + 1)
  if (text[payload] !== '.') return { ok: false, end: header }
  let end = skipBase64Url(text, payload + 1)
  // A JWE has five parts.
  while (text[end] === '.' && isBase64Url(text.charCodeAt(end + 1)))
    end = skipBase64Url(text, end + 1)
  return { ok: true, end }
}

/** Replaces every secret of `secrets` (and every JWT) in `text` with `***`. */
export function redact(text: string, secrets: Iterable<string>): string {
  const index = new Secrets()
  for (const secret of secrets) index.add(secret)
  return index.show(text)
}

/** Shortens text to `max` characters, marking the cut with `...`. */
export function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, Math.max(0, max - 3))}...` : text
}

/**
 * The pieces of a secret that are secret on their own: each line of a multi-line value (the runner
 * masks line by line), and for a JWT its parts and its `jti` (the signature alone, or the claims
 * with the `jti`, rebuild the assertion that a server saw).
 */
export function secretPieces(value: string): string[] {
  const pieces = [value]
  const lines = value.split(/\r\n|\r|\n/)
  // A bounded number: each mask costs the runner a comparison on every later line of the job.
  if (lines.length > 1) {
    pieces.push(...lines.filter((l) => l.trim().length >= SECRET_RUN).slice(0, MAX_LINE_PIECES))
  }
  const parts = value.split('.')
  if (value.startsWith('eyJ') && scanJwt(value, 0).end === value.length) {
    pieces.push(...parts.filter((p) => p.length >= SECRET_RUN))
    try {
      const jti: unknown = JSON.parse(Buffer.from(parts[1], 'base64url').toString()).jti
      if (typeof jti === 'string') pieces.push(jti)
    } catch {
      // claims that are not JSON (a JWE): no jti to hide
    }
  }
  return pieces
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
  const secrets = new Secrets()
  const masked = new Set<string>()
  // Redacted and clipped in one pass, then escaped; escapes lengthen a line, so it is clipped again.
  const format = (text: string): string => clip(escapeLine(secrets.show(text, MAX_LINE)), MAX_LINE)
  return {
    info: (text) => sink.info(format(text)),
    warning: (text) => sink.warning(format(text)),
    error: (text) => sink.error(format(text)),
    debug: (text) => sink.debug(format(text)),
    fail: (text) => sink.setFailed(format(text)),
    isDebug: () => sink.isDebug(),
    secret: (value) => {
      for (const piece of secretPieces(value)) {
        // A line or a part of the value holds only runs of the value, which are redacted already.
        if (piece === value || !value.includes(piece)) secrets.add(piece)
        if (!piece || masked.has(piece)) continue
        masked.add(piece)
        sink.setSecret(piece)
      }
      return value
    },
    redact: (text) => secrets.show(text),
    format
  }
}
