// PKCS#12 / PFX reading (RFC 7292) on node:crypto. node:crypto has the primitives (HMAC, PBKDF2,
// AES, 3DES) but no PKCS#12 parser; this module walks the structure with a small BER reader
// (der.ts), derives keys with the PKCS#12 KDF (RFC 7292 appendix B, written here over
// crypto.hash) or PBKDF2, and decrypts with node:crypto, or with rc2.ts for RC2. Certificates are
// returned with their bytes exactly as they are in the file: the thumbprints the server compares
// are over those bytes. This module is built into its own file and loaded only when a PFX is given,
// so PEM users never load it. It throws nothing of its own: it answers what it found, and
// credential.ts words the message.
import { createDecipheriv, createHmac, hash, pbkdf2Sync, timingSafeEqual } from 'node:crypto'
import { DerError, integer, items, octets, oid, parse, TAG, type Node } from './der.js'
import { decryptRc2Cbc } from './rc2.js'

/** What a PFX holds, as DER: PKCS#8 private keys and X.509 certificates, in file order. */
export type PfxResult =
  | { ok: true; keys: Buffer[]; certificates: Buffer[] }
  | {
      ok: false
      problem: 'not-pfx' | 'password' | 'unreadable' | 'unsupported' | 'iterations'
      /** For 'unsupported': the algorithm's name; for 'iterations': the count. */
      detail?: string
    }

/** No tool writes more (OpenSSL: 2048, JDK: 10,000-100,000); more would only hang the step. */
export const MAX_ITERATIONS = 10_000_000

const OID = {
  data: '1.2.840.113549.1.7.1',
  encryptedData: '1.2.840.113549.1.7.6',
  keyBag: '1.2.840.113549.1.12.10.1.1',
  shroudedKeyBag: '1.2.840.113549.1.12.10.1.2',
  certBag: '1.2.840.113549.1.12.10.1.3',
  safeContentsBag: '1.2.840.113549.1.12.10.1.6',
  x509Certificate: '1.2.840.113549.1.9.22.1',
  pbes2: '1.2.840.113549.1.5.13',
  pbkdf2: '1.2.840.113549.1.5.12'
}

/** Digests by OID: MAC algorithms, PBKDF2 PRFs (HMAC) with their hash. [name, block size]. */
const DIGESTS: Record<string, [string, number]> = {
  '1.3.14.3.2.26': ['sha1', 64],
  '2.16.840.1.101.3.4.2.4': ['sha224', 64],
  '2.16.840.1.101.3.4.2.1': ['sha256', 64],
  '2.16.840.1.101.3.4.2.2': ['sha384', 128],
  '2.16.840.1.101.3.4.2.3': ['sha512', 128],
  '2.16.840.1.101.3.4.2.5': ['sha512-224', 128],
  '2.16.840.1.101.3.4.2.6': ['sha512-256', 128],
  '1.2.840.113549.2.5': ['md5', 64]
}
const PRFS: Record<string, string> = {
  '1.2.840.113549.2.7': 'sha1',
  '1.2.840.113549.2.8': 'sha224',
  '1.2.840.113549.2.9': 'sha256',
  '1.2.840.113549.2.10': 'sha384',
  '1.2.840.113549.2.11': 'sha512',
  '1.2.840.113549.2.12': 'sha512-224',
  '1.2.840.113549.2.13': 'sha512-256'
}
/** PBES2 ciphers: [node:crypto name, key length]. */
const CIPHERS: Record<string, [string, number]> = {
  '2.16.840.1.101.3.4.1.2': ['aes-128-cbc', 16],
  '2.16.840.1.101.3.4.1.22': ['aes-192-cbc', 24],
  '2.16.840.1.101.3.4.1.42': ['aes-256-cbc', 32],
  '1.2.840.113549.3.7': ['des-ede3-cbc', 24]
}
/** PKCS#12 PBES1 (RFC 7292 appendix C): [cipher, key length, RC2 effective bits]. */
const PBES1: Record<string, [string, number, number]> = {
  '1.2.840.113549.1.12.1.3': ['des-ede3-cbc', 24, 0],
  '1.2.840.113549.1.12.1.4': ['des-ede-cbc', 16, 0],
  '1.2.840.113549.1.12.1.5': ['rc2', 16, 128],
  '1.2.840.113549.1.12.1.6': ['rc2', 5, 40]
}
/** Algorithms seen in the wild that this reader does not take, named in the message. */
const NAMES: Record<string, string> = {
  '1.2.840.113549.1.12.1.1': 'pbeWithSHAAnd128BitRC4',
  '1.2.840.113549.1.12.1.2': 'pbeWithSHAAnd40BitRC4',
  '1.2.840.113549.1.5.3': 'pbeWithMD5AndDES-CBC',
  '1.2.840.113549.1.5.10': 'pbeWithSHA1AndDES-CBC',
  '1.2.840.113549.1.7.2': 'public-key integrity (signedData)',
  '1.2.840.113549.1.7.3': 'public-key privacy (envelopedData)',
  '1.2.840.113549.1.5.14': 'PBMAC1',
  '1.2.840.113549.3.2': 'RC2-CBC under PBES2',
  '1.3.14.3.2.7': 'DES-CBC'
}

/** A problem found while reading: ends the read with that answer. */
class Stop extends Error {
  constructor(
    readonly problem: 'password' | 'unreadable' | 'unsupported' | 'iterations',
    readonly detail?: string
  ) {
    super(problem)
  }
}

/**
 * A password as the two encodings need it: BMPString (UTF-16BE with a 00 00 terminator) for the
 * PKCS#12 KDF of the MAC and of PBES1 (RFC 7292 appendix B.1), UTF-8 for PBKDF2 in PBES2 (what
 * OpenSSL 3, Windows, Key Vault and the JDK write). The encoding is chosen per algorithm, never by
 * trial, so a wrong guess can never pass for a right one.
 */
interface Password {
  bmp: Buffer
  utf8: Buffer
}

function password(text: string, variant: 'utf16' | 'bytes'): Password {
  const utf8 = Buffer.from(text, 'utf8')
  const units =
    // Stryker disable next-line EqualityOperator: both encodings of a given password are tried, so which is which changes nothing
    variant === 'utf16'
      ? Buffer.from(text, 'utf16le').swap16()
      : // OpenSSL before 1.1.0 put each byte of the UTF-8 text in a BMPString code unit.
        Buffer.from([...utf8].flatMap((b) => [0, b]))
  return { bmp: Buffer.concat([units, Buffer.alloc(2)]), utf8 }
}

/** Decrypts a PFX with its password (none: the empty or null password, as OpenSSL takes them). */
export function readPfx(der: Buffer, text?: string): PfxResult {
  let pfx: Node[]
  let authSafe: Buffer
  try {
    pfx = items(parse(der))
  } catch {
    // A SEQUENCE that does not parse to its end: a PFX cut short, most likely.
    return { ok: false, problem: der[0] === TAG.SEQUENCE ? 'unreadable' : 'not-pfx' }
  }
  try {
    // Stryker disable next-line StringLiteral: caught below; only the problem is answered
    if (integer(pfx[0]) !== 3) throw new DerError('not version 3')
    const contentInfo = items(pfx[1])
    const type = oid(contentInfo[0])
    if (type !== OID.data) return { ok: false, problem: 'unsupported', detail: name(type) }
    authSafe = octets(items(contentInfo[1], 0xa0)[0])
  } catch {
    return { ok: false, problem: 'not-pfx' }
  }
  try {
    // No text or the empty text: OpenSSL tries the null password (no bytes) and the empty one
    // (00 00); a PFX "without a password" may have been made with either, and opens so even when
    // a password is given.
    const none = [password('', 'utf16'), { bmp: Buffer.alloc(0), utf8: Buffer.alloc(0) }]
    const given = text ? [password(text, 'utf16'), password(text, 'bytes')] : []
    // Stryker disable next-line MethodExpression: spares trying one password twice
    const variants = [...given, ...none].filter(
      // Stryker disable next-line ConditionalExpression: as above
      (p, i, all) => all.findIndex((q) => q.bmp.equals(p.bmp)) === i
    )
    let candidates = variants
    if (pfx[2] !== undefined) {
      const verified = variants.find((p) => verifyMac(pfx[2], authSafe, p))
      if (!verified) return { ok: false, problem: 'password' }
      // The MAC settles the password. The empty one and the null one may still differ between
      // the MAC and the bags, so both stay candidates there, the verified one first.
      // Stryker disable next-line MethodExpression,ConditionalExpression: a candidate tried twice opens nothing more
      const others = none.filter((p) => p !== verified)
      candidates = none.includes(verified) ? [verified, ...others] : [verified]
    }
    return { ok: true, ...readAuthSafe(authSafe, candidates) }
  } catch (error) {
    if (error instanceof Stop) return { ok: false, problem: error.problem, detail: error.detail }
    return { ok: false, problem: 'unreadable' }
  }
}

/** MacData (RFC 7292 §4): HMAC over the AuthenticatedSafe with a key from the PKCS#12 KDF. */
function verifyMac(macData: Node, content: Buffer, pass: Password): boolean {
  const [digestInfo, salt, count] = items(macData)
  const [algorithm, expected] = items(digestInfo)
  const digest = DIGESTS[oid(items(algorithm)[0])]
  if (!digest) throw new Stop('unsupported', name(oid(items(algorithm)[0])))
  const iterations = count === undefined ? 1 : checkIterations(integer(count))
  const [hashName, blockSize] = digest
  const size = hash(hashName, Buffer.alloc(0), 'buffer').length
  const key = pkcs12Kdf(hashName, blockSize, pass.bmp, octets(salt), iterations, 3, size)
  const actual = createHmac(hashName, key).update(content).digest()
  const want = octets(expected)
  return actual.length === want.length && timingSafeEqual(actual, want)
}

function checkIterations(count: number): number {
  if (count > MAX_ITERATIONS) throw new Stop('iterations', String(count))
  // Stryker disable next-line StringLiteral: readPfx answers a DerError as unreadable, without its message
  if (count < 1) throw new DerError('iteration count')
  return count
}

function readAuthSafe(
  authSafe: Buffer,
  candidates: Password[]
): { keys: Buffer[]; certificates: Buffer[] } {
  const found = { keys: [] as Buffer[], certificates: [] as Buffer[] }
  for (const contentInfo of items(parse(authSafe))) {
    const [typeNode, wrapped] = items(contentInfo)
    const type = oid(typeNode)
    const inner = items(wrapped, 0xa0)[0]
    if (type === OID.data) {
      readSafeContents(parse(octets(inner)), candidates, found)
    } else if (type === OID.encryptedData) {
      // EncryptedData: version, EncryptedContentInfo { contentType, algorithm, [0] IMPLICIT content }
      const [, info] = items(inner)
      const [, algorithm, content] = items(info)
      // Stryker disable next-line StringLiteral: readPfx answers a DerError as unreadable, without its message
      if (!content || (content.tag & 0xdf) !== 0x80) throw new DerError('no encrypted content')
      readSafeContents(decrypt(algorithm, octets(content), candidates), candidates, found)
    } else {
      throw new Stop('unsupported', name(type))
    }
  }
  return found
}

function readSafeContents(
  safeContents: Node,
  candidates: Password[],
  found: { keys: Buffer[]; certificates: Buffer[] }
): void {
  for (const bag of items(safeContents)) {
    const [idNode, wrapped] = items(bag)
    const id = oid(idNode)
    const value = items(wrapped, 0xa0)[0]
    if (id === OID.keyBag) {
      found.keys.push(Buffer.from(value.bytes))
    } else if (id === OID.shroudedKeyBag) {
      const [algorithm, data] = items(value)
      found.keys.push(Buffer.from(decrypt(algorithm, octets(data), candidates).bytes))
    } else if (id === OID.certBag) {
      const [certType, certValue] = items(value)
      // Other certificate types (SDSI) carry nothing an assertion can use.
      if (oid(certType) === OID.x509Certificate) {
        found.certificates.push(Buffer.from(octets(items(certValue, 0xa0)[0])))
      }
    } else if (id === OID.safeContentsBag) {
      readSafeContents(value, candidates, found)
    }
    // CRL and secret bags carry nothing the assertion needs.
  }
}

/**
 * Decrypts with each candidate password until one gives a whole BER structure: with a MAC there
 * is one candidate (or two for the empty password); without a MAC, the right password is the one
 * whose plaintext has valid padding and parses to the end, which chance does not produce.
 */
function decrypt(algorithm: Node, data: Buffer, candidates: Password[]): Node {
  const [idNode, params] = items(algorithm)
  const id = oid(idNode)
  let open: (pass: Password) => Buffer | undefined
  if (PBES1[id]) {
    const [cipher, keyLength, rc2Bits] = PBES1[id]
    const [salt, count] = items(params)
    const iterations = checkIterations(integer(count))
    open = (pass) => {
      const kdf = (purpose: number, length: number): Buffer =>
        pkcs12Kdf('sha1', 64, pass.bmp, octets(salt), iterations, purpose, length)
      const key = kdf(1, keyLength)
      const iv = kdf(2, 8)
      return cipher === 'rc2'
        ? decryptRc2Cbc(key, rc2Bits, iv, data)
        : nodeDecrypt(cipher, key, iv, data)
    }
  } else if (id === OID.pbes2) {
    open = pbes2(params, data)
  } else {
    throw new Stop('unsupported', name(id))
  }
  for (const pass of candidates) {
    const plain = open(pass)
    if (plain === undefined) continue
    try {
      return parse(plain)
    } catch {
      // Padding that happened to be valid under a wrong key: not this password.
    }
  }
  throw new Stop('password')
}

/** PBES2 (RFC 8018 §6.2): PBKDF2 with an HMAC PRF, then AES-CBC or 3DES-CBC; UTF-8 password. */
function pbes2(params: Node, data: Buffer): (pass: Password) => Buffer | undefined {
  const [kdf, scheme] = items(params)
  const [kdfId, kdfParams] = items(kdf)
  if (oid(kdfId) !== OID.pbkdf2) throw new Stop('unsupported', name(oid(kdfId)))
  const [schemeId, ivNode] = items(scheme)
  const cipher = CIPHERS[oid(schemeId)]
  if (!cipher) throw new Stop('unsupported', name(oid(schemeId)))
  const [salt, count, ...rest] = items(kdfParams)
  if (salt.tag !== TAG.OCTET_STRING) throw new Stop('unsupported', 'PBKDF2 with a salt source')
  const iterations = checkIterations(integer(count))
  const keyLength = rest[0]?.tag === TAG.INTEGER ? integer(rest[0]) : cipher[1]
  // Stryker disable next-line StringLiteral: readPfx answers a DerError as unreadable, without its message
  if (keyLength !== cipher[1]) throw new DerError('key length')
  const prfNode = rest.find((n) => n.tag === TAG.SEQUENCE)
  const prfId = prfNode ? oid(items(prfNode)[0]) : '1.2.840.113549.2.7'
  const prf = PRFS[prfId]
  if (!prf) throw new Stop('unsupported', name(prfId))
  const iv = octets(ivNode)
  return (pass) =>
    nodeDecrypt(
      cipher[0],
      pbkdf2Sync(pass.utf8, octets(salt), iterations, keyLength, prf),
      iv,
      data
    )
}

function nodeDecrypt(cipher: string, key: Buffer, iv: Buffer, data: Buffer): Buffer | undefined {
  try {
    const decipher = createDecipheriv(cipher, key, iv)
    return Buffer.concat([decipher.update(data), decipher.final()])
  } catch {
    return undefined // bad padding or length: a wrong key
  }
}

/**
 * The PKCS#12 key derivation function (RFC 7292 appendix B.2), which node:crypto does not offer:
 * `purpose` 1 = key, 2 = IV, 3 = MAC key. `blockSize` is the hash's input block size (v).
 */
export function pkcs12Kdf(
  hashName: string,
  blockSize: number,
  pass: Buffer,
  salt: Buffer,
  iterations: number,
  purpose: number,
  length: number
): Buffer {
  const v = blockSize
  const fill = (source: Buffer): Buffer => {
    const out = Buffer.alloc(v * Math.ceil(source.length / v))
    // Stryker disable next-line EqualityOperator: a write past the end of a Buffer is ignored
    for (let i = 0; i < out.length; i++) out[i] = source[i % source.length]
    return out
  }
  const D = Buffer.alloc(v, purpose)
  const I = Buffer.concat([fill(salt), fill(pass)])
  const out: Buffer[] = []
  // Stryker disable next-line EqualityOperator: the break below ends the loop, and the result is cut to length
  for (let produced = 0; produced < length;) {
    let A = hash(hashName, Buffer.concat([D, I]), 'buffer')
    for (let r = 1; r < iterations; r++) A = hash(hashName, A, 'buffer')
    out.push(A)
    produced += A.length
    // Stryker disable next-line ConditionalExpression,EqualityOperator: the loop's condition ends it too, and the result is cut to length
    if (produced >= length) break
    // I_j = (I_j + B + 1) mod 2^(8v), for each v-byte block of I, B being A repeated to v bytes.
    const B = fill(A).subarray(0, v)
    // Stryker disable next-line EqualityOperator: a block past the end of I reads nothing and writes nothing
    for (let j = 0; j < I.length; j += v) {
      let carry = 1
      for (let k = v - 1; k >= 0; k--) {
        const sum = I[j + k] + B[k] + carry
        I[j + k] = sum & 0xff
        carry = sum >> 8
      }
    }
  }
  return Buffer.concat(out).subarray(0, length)
}

function name(id: string): string {
  return NAMES[id] ? `${NAMES[id]} (${id})` : `OID ${id}`
}
