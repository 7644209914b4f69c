// A minimal BER/DER reader (X.690) for the PKCS#12 structures: tag, length, value, nothing more.
// Written by hand because what PKCS#12 needs of ASN.1 is small (SEQUENCE, SET, OID, INTEGER,
// OCTET STRING, context tags), while it must take what real tools write: BER indefinite lengths
// and constructed OCTET STRINGs (BouncyCastle, Java). Each node keeps its bytes exactly as they
// are in the input, so certificates are never re-encoded. Linear in its input, depth-bounded.

/** One TLV: its identifier octet, and its content as bytes (primitive) or as nodes (constructed). */
export interface Node {
  /** The identifier octet: class, constructed bit and tag number (low-tag-number form only). */
  tag: number
  /** The whole TLV as it is in the input: identifier, length and content. */
  bytes: Buffer
  /** The content octets (for an indefinite length: without the end-of-contents octets). */
  content: Buffer
  /** The child nodes of a constructed TLV; empty for a primitive one. */
  children: Node[]
}

/** The input is not BER: truncated, a length past the end, too deep. */
export class DerError extends Error {}

export const TAG = {
  INTEGER: 0x02,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  SEQUENCE: 0x30,
  SET: 0x31
} as const

const MAX_DEPTH = 40

/** Parses one TLV that must span all of `input`. */
export function parse(input: Buffer): Node {
  const [node, end] = read(input, 0, input.length, 0)
  if (end !== input.length) throw new DerError('trailing bytes')
  return node
}

/**
 * Parses the first TLV of `input` and ignores what follows it, as OpenSSL reads a PFX file or a
 * TRUSTED CERTIFICATE block: Windows-made PFX files may end with zero bytes after the structure.
 */
export function parseFirst(input: Buffer): Node {
  return read(input, 0, input.length, 0)[0]
}

function read(input: Buffer, start: number, limit: number, depth: number): [Node, number] {
  if (depth > MAX_DEPTH) throw new DerError('nested too deeply')
  if (start + 2 > limit) throw new DerError('truncated')
  const tag = input[start]
  if ((tag & 0x1f) === 0x1f) throw new DerError('high tag number')
  const constructed = (tag & 0x20) !== 0
  let offset = start + 1
  const first = input[offset++]
  let length = -1
  if (first < 0x80) {
    length = first
  } else if (first > 0x80) {
    const count = first & 0x7f
    if (count > 4 || offset + count > limit) throw new DerError('bad length')
    length = 0
    for (let i = 0; i < count; i++) length = length * 256 + input[offset++]
  } else if (!constructed) {
    throw new DerError('indefinite length on a primitive')
  }
  const children: Node[] = []
  if (length >= 0) {
    const end = offset + length
    if (end > limit) throw new DerError('truncated')
    if (constructed) {
      for (let at = offset; at < end;) {
        const [child, next] = read(input, at, end, depth + 1)
        children.push(child)
        at = next
      }
    }
    const node = {
      tag,
      bytes: input.subarray(start, end),
      content: input.subarray(offset, end),
      children
    }
    return [node, end]
  }
  // Indefinite length (BER): children up to the end-of-contents octets 00 00.
  let at = offset
  for (;;) {
    if (at + 2 > limit) throw new DerError('truncated')
    if (input[at] === 0 && input[at + 1] === 0) break
    const [child, next] = read(input, at, limit, depth + 1)
    children.push(child)
    at = next
  }
  const node = {
    tag,
    bytes: input.subarray(start, at + 2),
    content: input.subarray(offset, at),
    children
  }
  return [node, at + 2]
}

/** The octets of an OCTET STRING (or an implicitly tagged one), joining constructed segments. */
export function octets(node: Node): Buffer {
  if ((node.tag & 0x20) === 0) return node.content
  return Buffer.concat(node.children.map(octets))
}

/** An OBJECT IDENTIFIER in dotted form, e.g. `1.2.840.113549.1.12.10.1.2`. */
export function oid(node: Node | undefined): string {
  if (!node || node.tag !== TAG.OID || node.content.length === 0) throw new DerError('not an OID')
  const parts: number[] = []
  let value = 0
  for (const byte of node.content) {
    value = value * 128 + (byte & 0x7f)
    if (byte & 0x80) continue
    if (parts.length === 0)
      // Stryker disable next-line EqualityOperator: 80 is 2.0 either way
      parts.push(value < 80 ? Math.floor(value / 40) : 2, value < 80 ? value % 40 : value - 80)
    else parts.push(value)
    value = 0
  }
  return parts.join('.')
}

/** A non-negative INTEGER small enough for a number (iteration counts, versions). */
export function integer(node: Node | undefined): number {
  if (!node || node.tag !== TAG.INTEGER || node.content.length === 0)
    throw new DerError('not an INTEGER')
  if (node.content[0] & 0x80) throw new DerError('negative INTEGER')
  let value = 0
  for (const byte of node.content) value = value * 256 + byte
  return value
}

/** The node's children, checked to be a constructed node with the given tag. */
export function items(node: Node | undefined, tag: number = TAG.SEQUENCE): Node[] {
  if (!node || node.tag !== tag) throw new DerError(`expected tag ${tag.toString(16)}`)
  return node.children
}
