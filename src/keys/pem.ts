// PEM repair: what secret stores and copy-paste do to PEM text undone, and each block rebuilt in the
// canonical form node:crypto parses. Untrusted text: one forward indexOf scan, linear in its length.
import { parseFirst } from './pkcs12/der.js'
import { InputError } from '../errors.js'

/** One PEM block, with the input it came from (for messages). */
export interface PemBlock {
  label: string
  /** The block rebuilt in canonical form, what node:crypto parses. */
  pem: string
  encrypted: boolean
  input: string
}

/** Shorter pieces (a key's last base64 line) are too likely to occur in ordinary log text. */
export const MIN_KEY_PIECE_LENGTH = 16

/**
 * Undoes what secret stores and copy-paste do to PEM text: CRLF line ends, literal `\n` sequences
 * in one-line secrets, indentation and surrounding blank lines.
 */
export function normalize(text: string): string {
  return text
    .replace(/\\r\\n|\\n|\\r/g, '\n')
    .replace(/\r\n?/g, '\n')
    .trim()
}

const BEGIN = '-----BEGIN '
const DASHES = '-----'
/** What a PEM label may hold (RFC 7468 §3, as node:crypto's labels use it). */
const LABEL = /^[A-Z0-9 ]{1,64}$/

/**
 * Splits PEM text into blocks and rebuilds each in canonical form (RFC 7468): the body's base64 is
 * re-wrapped, so blocks flattened to one line or indented still parse. Encapsulated headers
 * (`Proc-Type`, `DEK-Info` of legacy encrypted keys) are kept. Written by hand: node:crypto parses
 * only canonical PEM, and no small library does this repair. One forward `indexOf` scan: linear in
 * the text, whatever it holds (a regex with a back-reference was quadratic on many BEGIN lines).
 * @throws {InputError} when a BEGIN line has no matching END line.
 */
export function parsePem(
  text: string,
  input: string,
  onSecret: (text: string) => void
): PemBlock[] {
  const truncated = (): InputError =>
    new InputError(
      input,
      `Input '${input}' holds a PEM block without its matching -----END ...----- line: the text is truncated. Paste the whole file.`
    )
  const blocks: PemBlock[] = []
  for (let at = text.indexOf(BEGIN); at >= 0;) {
    const labelEnd = text.indexOf(DASHES, at + BEGIN.length)
    // Stryker disable next-line all: without the closing dashes there is no END line, so any label ends in the same error
    const label = labelEnd < 0 ? '' : text.slice(at + BEGIN.length, labelEnd)
    if (!LABEL.test(label)) throw truncated()
    const end = `-----END ${label}-----`
    const bodyStart = labelEnd + DASHES.length
    const bodyEnd = text.indexOf(end, bodyStart)
    // Stryker disable next-line EqualityOperator: the search starts past the BEGIN line, so it never finds index 0
    if (bodyEnd < 0) throw truncated()
    const body = text.slice(bodyStart, bodyEnd)
    // A BEGIN inside another block: the first block lost its END line.
    // Stryker disable next-line ConditionalExpression: the count of BEGIN lines below throws the same error
    if (body.includes('-----BEGIN')) throw truncated()
    blocks.push(rebuild(label, body, input, onSecret))
    // Stryker disable next-line ArithmeticOperator: the END line holds no BEGIN, so searching from its start finds the same
    at = text.indexOf(BEGIN, bodyEnd + end.length)
  }
  // A BEGIN not followed by a space and a label ("-----BEGIN-----") is no block either.
  let begins = 0
  for (let at = text.indexOf('-----BEGIN'); at >= 0; at = text.indexOf('-----BEGIN', at + 1))
    begins++
  if (begins > blocks.length) throw truncated()
  return blocks
}

/** One block in canonical form: headers first, then the base64 wrapped at 64 characters. */
function rebuild(
  label: string,
  body: string,
  input: string,
  onSecret: (text: string) => void
): PemBlock {
  const tokens = body.split(/\s/).filter(Boolean)
  if (isKeyLabel(label)) for (const t of tokens) if (t.length >= MIN_KEY_PIECE_LENGTH) onSecret(t)
  const headers: string[] = []
  const base64: string[] = []
  for (let i = 0; i < tokens.length; i++) {
    if (tokens[i].endsWith(':') && i + 1 < tokens.length) {
      headers.push(`${tokens[i]} ${tokens[++i]}`)
    } else {
      base64.push(tokens[i])
    }
  }
  const data = base64.join('')
  const lines: string[] = []
  for (let i = 0; i < data.length; i += 64) lines.push(data.slice(i, i + 64))
  const head = headers.length > 0 ? `${headers.join('\n')}\n\n` : ''
  return {
    label,
    pem: `-----BEGIN ${label}-----\n${head}${lines.join('\n')}\n-----END ${label}-----\n`,
    encrypted:
      label === 'ENCRYPTED PRIVATE KEY' ||
      headers.some((h) => /^proc-type:/i.test(h) && h.toUpperCase().includes('ENCRYPTED')),
    input
  }
}

export function isKeyLabel(label: string): boolean {
  return label.endsWith('PRIVATE KEY')
}

/**
 * The DER of a CERTIFICATE or TRUSTED CERTIFICATE block. A TRUSTED CERTIFICATE (OpenSSL's
 * `x509 -trustout`) holds the certificate followed by OpenSSL's trust settings: the certificate
 * is its first structure, and only that is sent and thumbprinted.
 */
export function certificateDer(block: PemBlock): Buffer {
  const der = Buffer.from(block.pem.replace(/-----[^-]+-----|\s/g, ''), 'base64')
  if (block.label !== 'TRUSTED CERTIFICATE') return der
  try {
    return Buffer.from(parseFirst(der).bytes)
  } catch {
    return der // not DER at all: the certificate parser refuses it with its own message
  }
}
