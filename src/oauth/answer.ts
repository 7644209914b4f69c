/**
 * Reading a server's answer body, which is untrusted: every function here is linear in its input
 * (no regex that can backtrack across the text, bounded walks of nested JSON) and never throws.
 */
import { Secrets } from '../log.js'
/** A JSON object as parsed from an answer. */
export type Json = Record<string, unknown>

/** How deep and how many values of an answer's JSON are looked at. */
const MAX_DEPTH = 32
const MAX_NODES = 10_000
/** Most token-like values taken from one answer: each is redacted from what is shown of it. */
const MAX_SECRETS = 64
/** Token-like values shorter than this would match ordinary text by chance. */
const MIN_SECRET_LENGTH = 8
const SECRET_KEY = /token|assertion|secret|password|jwt|key|credential/i
/** A JWT (or JWS/JWE) anywhere: three or more base64url parts, the first a JSON header. */
const JWT_LIKE = /^eyJ[\w-]{8,}\.[\w-]*\.[\w-]*/

/**
 * Parses an answer body as a JSON object.
 * @returns the object, or undefined when the body is not JSON or not an object.
 */
export function parseJson(body: string): Json | undefined {
  try {
    const value: unknown = JSON.parse(body)
    return value !== null && typeof value === 'object' && !Array.isArray(value)
      ? (value as Json)
      : undefined
  } catch {
    return undefined // not JSON, or nested past what the parser takes
  }
}

/**
 * Values of an answer that must never be shown: strings under token-like keys (`access_token`,
 * `id_token`, `client_assertion`, ...) and JWT-shaped strings, at any depth the walk reaches
 * ({@link MAX_DEPTH} levels, {@link MAX_NODES} values), each once, the first {@link MAX_SECRETS}.
 * Iterative, so deep nesting cannot overflow the stack. JWT-shaped text elsewhere, and every
 * other value, is redacted by the log's scan of what is shown.
 */
export function tokenLike(json: unknown): string[] {
  const found = new Set<string>()
  const stack: { value: unknown; depth: number; secret: boolean }[] = [
    { value: json, depth: 0, secret: false }
  ]
  for (let nodes = 0; stack.length > 0 && nodes < MAX_NODES; nodes++) {
    const { value, depth, secret } = stack.pop()!
    if (typeof value === 'string') {
      if (value.length >= MIN_SECRET_LENGTH && (secret || JWT_LIKE.test(value))) found.add(value)
      if (found.size >= MAX_SECRETS) break
    } else if (value !== null && typeof value === 'object' && depth < MAX_DEPTH) {
      for (const [key, child] of Object.entries(value as Json)) {
        stack.push({ value: child, depth: depth + 1, secret: secret || SECRET_KEY.test(key) })
      }
    }
  }
  return [...found]
}

/**
 * A short JSON-like rendering of an answer for the error line, at most `max` characters: values
 * under token-like keys, and JWT-shaped keys and values, are written as `***`, nesting past a few
 * levels as `...`; every other key and value is redacted against `secrets` (and JWTs) and cut to
 * `max` in one pass, so the work is bounded by `max`. Built by hand because `JSON.stringify`
 * recurses (a deep body overflows the stack) and renders the whole body before it can be clipped.
 */
export function preview(json: unknown, max = 200, secrets = new Secrets()): string {
  let out = ''
  const text = (value: string): string =>
    JSON.stringify(JWT_LIKE.test(value) ? '***' : secrets.show(value, max))
  const write = (value: unknown, depth: number, secret: boolean): void => {
    // Stryker disable next-line ConditionalExpression,EqualityOperator: bounds the work on a huge body; the clip at the end gives the same text
    if (out.length > max) return
    if (typeof value === 'string') {
      out += secret ? '"***"' : text(value)
    } else if (typeof value === 'number' || typeof value === 'boolean' || value === null) {
      out += String(value)
      // Past the scalars above, parsed JSON holds only arrays and objects.
    } else if (depth >= 4) {
      out += '...'
    } else if (Array.isArray(value)) {
      out += '['
      // Stryker disable next-line ConditionalExpression,EqualityOperator: bounds the work on a huge body; the clip at the end gives the same text
      for (let i = 0; i < value.length && out.length <= max; i++) {
        if (i > 0) out += ','
        write(value[i], depth + 1, secret)
      }
      out += ']'
    } else if (typeof value === 'object') {
      out += '{'
      let first = true
      for (const key in value as Json) {
        // Stryker disable next-line ConditionalExpression,EqualityOperator: bounds the work on a huge body; the clip at the end gives the same text
        if (out.length > max) break
        if (!Object.prototype.hasOwnProperty.call(value, key)) continue
        out += `${first ? '' : ','}${text(key)}:`
        first = false
        write((value as Json)[key], depth + 1, secret || SECRET_KEY.test(key))
      }
      out += '}'
    }
  }
  write(json, 0, false)
  return out.length > max ? `${out.slice(0, max - 3)}...` : out
}

/**
 * The AADSTS code of an error answer: the first `error_codes` item when it is a plain number (a
 * server may send anything there), else the first `AADSTSnnn` in the description.
 */
export function errorCode(codes: unknown, description: string | undefined): string | undefined {
  const first: unknown = Array.isArray(codes) ? codes[0] : undefined
  if (typeof first === 'number' && Number.isSafeInteger(first) && first >= 0) return String(first)
  if (typeof first === 'string' && /^\d{1,12}$/.test(first)) return first
  // Stryker disable next-line StringLiteral: any text without an AADSTS code gives the same
  return /AADSTS(\d{1,12})/.exec(description ?? '')?.[1]
}

/** How much of a non-JSON body is looked at for its excerpt. */
const EXCERPT_SCAN = 64 * 1024

/**
 * A short, tag-free excerpt of an HTML or text body: the `<title>` when there is one, else the text
 * without tags, scripts and styles, whitespace collapsed, `secrets` redacted, at most `max`
 * characters. A single forward scan with `indexOf` over at most the first 64 KiB: linear, whatever
 * the body holds.
 */
export function excerpt(body: string, max = 120, secrets = new Secrets()): string {
  const head = body.slice(0, EXCERPT_SCAN)
  const lower = asciiLower(head)
  let source = head
  const open = lower.indexOf('<title')
  if (open >= 0) {
    const start = lower.indexOf('>', open)
    // Stryker disable next-line ConditionalExpression,EqualityOperator: without a > after <title, stripTags drops the rest anyway
    const end = start < 0 ? -1 : lower.indexOf('</title', start)
    // Stryker disable next-line EqualityOperator: a < and a > are never at one index
    if (end > start) source = head.slice(start + 1, end)
  }
  return secrets.show(collapse(stripTags(source)), max)
}

/**
 * Lower-cases ASCII letters only, so that positions found in the result are positions in `text`
 * (full Unicode lower-casing changes the length of some characters, such as U+0130).
 */
function asciiLower(text: string): string {
  // Stryker disable next-line Regex: one letter at a time lowers the same
  return text.replace(/[A-Z]+/g, (letters) => letters.toLowerCase())
}

/**
 * Removes tags (and the content of `<script>`/`<style>`) in one pass. Where each closing tag was
 * last found is remembered, so many opening tags without one do not rescan the rest each time.
 */
function stripTags(html: string): string {
  const lower = asciiLower(html)
  const closes: Record<string, number> = { script: -2, style: -2 }
  let out = ''
  let i = 0
  // Stryker disable next-line EqualityOperator: at the end, indexOf finds no < and the loop stops
  while (i < html.length) {
    const lt = html.indexOf('<', i)
    if (lt < 0) {
      out += html.slice(i)
      break
    }
    out += `${html.slice(i, lt)} `
    let skipTo = -1
    for (const name of ['script', 'style']) {
      if (lower.startsWith(name, lt + 1)) {
        // Stryker disable next-line all: a cache of where the closing tag is; searching again finds the same
        if (closes[name] !== -1 && closes[name] < lt) closes[name] = lower.indexOf(`</${name}`, lt)
        const close = closes[name]
        // Stryker disable next-line EqualityOperator: a closing tag is never at index 0, its opening tag comes first
        skipTo = close < 0 ? html.length : lower.indexOf('>', close)
      }
    }
    // Stryker disable next-line EqualityOperator: a > is never at index 0 after a <
    const gt = skipTo >= 0 ? skipTo : html.indexOf('>', lt)
    // An unclosed tag swallows the rest, as a browser would.
    // Stryker disable next-line EqualityOperator: a > is never at index 0 after a <
    if (gt < 0) break
    i = gt + 1
  }
  return out
}

function collapse(text: string): string {
  return text
    .replace(/&nbsp;/gi, ' ')
    .replace(/\s+/g, ' ')
    .trim()
}
