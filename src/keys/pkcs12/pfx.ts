// PKCS#12 / PFX reading (RFC 7292) on node:crypto. node:crypto has the primitives (HMAC, PBKDF2,
// AES, 3DES) but no PKCS#12 parser; this module walks the structure with a small BER reader
// (der.ts), derives keys with the PKCS#12 KDF (RFC 7292 appendix B, kdf.ts) or PBKDF2, computed
// ahead on two threads when they are costly (threads.ts), and decrypts with node:crypto, or with
// rc2.ts and rc4.ts. Certificates are returned with their bytes exactly as they are in the file:
// the thumbprints the server compares are over those bytes. This module is built into its own file
// and loaded only when a PFX is given, so PEM users never load it. It throws nothing of its own: it
// answers what it found, and credential.ts words the message.
import { createDecipheriv, createHmac, timingSafeEqual } from 'node:crypto'
import { DerError, integer, items, octets, oid, parse, parseFirst, TAG, type Node } from './der.js'
import {
  derivationCost,
  derivationId,
  derivationsCost,
  derive,
  digestSize,
  type Derivation
} from './kdf.js'
import { decryptRc2Cbc } from './rc2.js'
import { rc4 } from './rc4.js'
import { deriveAhead } from './threads.js'

// derive for the worker thread (kdf-worker.ts), which loads this file rather than a copy of it.
export { derive, pkcs12Kdf, type Derivation } from './kdf.js'

/** What a PFX holds, as DER: PKCS#8 private keys and X.509 certificates, in file order. */
export type PfxResult =
  | { ok: true; keys: Buffer[]; certificates: Buffer[] }
  | {
      ok: false
      problem:
        'not-pfx' | 'password' | 'unreadable' | 'unsupported' | 'iterations' | 'work' | 'time'
      /** For 'unsupported': the algorithm's name; for 'iterations' and 'work': the count. */
      detail?: string
    }

/** No tool writes more (OpenSSL: 2048, JDK: 10,000-100,000); more would only hang the step. */
export const MAX_ITERATIONS = 10_000_000

/**
 * The hash computations (iterations times output blocks, over every password candidate, the MAC
 * and every bag) one load may spend: a file with NSS's or GnuTLS's defaults (600,000 iterations,
 * 3DES: 4,200,000) fits four times over, with its password candidates; a hostile file (10,000,000
 * iterations, or several candidates at millions each) is refused at the first derivation that
 * would go beyond, which is never computed, instead of keeping the step busy for minutes.
 */
export const WORK_BUDGET = 20_000_000

/**
 * What loading may still spend: hash computations, and the step's deadline (epoch ms); and the keys
 * already derived ahead (openPfx), by derivationId.
 */
export interface Work {
  left: number
  deadline: number
  derived: Map<string, Buffer>
}

/** A fresh budget for one load, ending at the step's deadline. */
export function newWork(deadline = Infinity): Work {
  return { left: WORK_BUDGET, deadline, derived: new Map() }
}

/** A derivation's key: computed ahead, or now. */
function keyOf(work: Work, d: Derivation): Buffer {
  return work.derived.get(derivationId(d)) ?? derive(d)
}

/** Takes `cost` hash computations from the budget, or stops the read, naming the iteration count. */
function charge(work: Work, cost: number, iterations: number): void {
  if (cost > work.left) throw new Stop('work', String(iterations))
  if (Date.now() > work.deadline) throw new Stop('time')
  work.left -= cost
}

const OID = {
  data: '1.2.840.113549.1.7.1',
  encryptedData: '1.2.840.113549.1.7.6',
  keyBag: '1.2.840.113549.1.12.10.1.1',
  shroudedKeyBag: '1.2.840.113549.1.12.10.1.2',
  certBag: '1.2.840.113549.1.12.10.1.3',
  safeContentsBag: '1.2.840.113549.1.12.10.1.6',
  x509Certificate: '1.2.840.113549.1.9.22.1',
  pbes2: '1.2.840.113549.1.5.13',
  pbkdf2: '1.2.840.113549.1.5.12',
  pbmac1: '1.2.840.113549.1.5.14'
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
  '1.2.840.113549.3.7': ['des-ede3-cbc', 24],
  '1.2.392.200011.61.1.1.1.2': ['camellia-128-cbc', 16],
  '1.2.392.200011.61.1.1.1.3': ['camellia-192-cbc', 24],
  '1.2.392.200011.61.1.1.1.4': ['camellia-256-cbc', 32]
}
/** PKCS#12 PBES1 (RFC 7292 appendix C): [cipher, key length, RC2 effective bits]. */
const PBES1: Record<string, [string, number, number]> = {
  '1.2.840.113549.1.12.1.1': ['rc4', 16, 0],
  '1.2.840.113549.1.12.1.2': ['rc4', 5, 0],
  '1.2.840.113549.1.12.1.3': ['des-ede3-cbc', 24, 0],
  '1.2.840.113549.1.12.1.4': ['des-ede-cbc', 16, 0],
  '1.2.840.113549.1.12.1.5': ['rc2', 16, 128],
  '1.2.840.113549.1.12.1.6': ['rc2', 5, 40]
}
/** Algorithms seen in the wild that this reader does not take, named in the message. */
const NAMES: Record<string, string> = {
  '1.2.840.113549.1.5.3': 'pbeWithMD5AndDES-CBC',
  '1.2.840.113549.1.5.10': 'pbeWithSHA1AndDES-CBC',
  '1.2.840.113549.1.7.2': 'public-key integrity (signedData)',
  '1.2.840.113549.1.7.3': 'public-key privacy (envelopedData)',
  '1.2.840.113549.1.5.1': 'pbeWithMD2AndDES-CBC',
  '1.2.840.113549.1.5.4': 'pbeWithMD2AndRC2-CBC',
  '1.2.840.113549.1.5.6': 'pbeWithMD5AndRC2-CBC',
  '1.2.840.113549.1.5.11': 'pbeWithSHA1AndRC2-CBC',
  '1.2.840.113549.1.5.9': 'PBES2 with scrypt',
  '1.3.6.1.4.1.11591.4.11': 'scrypt',
  '1.2.840.113549.2.2': 'MD2',
  '1.2.840.113549.2.4': 'MD4',
  '1.3.36.3.2.1': 'RIPEMD-160',
  '1.2.156.10197.1.401': 'SM3',
  '1.2.156.10197.1.104.2': 'SM4-CBC',
  '1.2.643.7.1.1.2.2': 'GOST R 34.11-2012 (256 bit)',
  '1.2.643.7.1.1.2.3': 'GOST R 34.11-2012 (512 bit)',
  '2.16.840.1.101.3.4.2.7': 'SHA3-224',
  '2.16.840.1.101.3.4.2.8': 'SHA3-256',
  '2.16.840.1.101.3.4.2.9': 'SHA3-384',
  '2.16.840.1.101.3.4.2.10': 'SHA3-512',
  '2.16.840.1.101.3.4.2.13': 'hmacWithSHA3-224',
  '2.16.840.1.101.3.4.2.14': 'hmacWithSHA3-256',
  '2.16.840.1.101.3.4.2.15': 'hmacWithSHA3-384',
  '2.16.840.1.101.3.4.2.16': 'hmacWithSHA3-512',
  '2.16.840.1.101.3.4.1.6': 'AES-128-GCM',
  '2.16.840.1.101.3.4.1.26': 'AES-192-GCM',
  '2.16.840.1.101.3.4.1.46': 'AES-256-GCM',
  '1.2.840.113549.1.9.16.3.18': 'ChaCha20-Poly1305',
  '1.2.840.113549.3.2': 'RC2-CBC under PBES2',
  '1.3.14.3.2.7': 'DES-CBC'
}

/** A problem found while reading: ends the read with that answer. */
class Stop extends Error {
  constructor(
    readonly problem: 'password' | 'unreadable' | 'unsupported' | 'iterations' | 'work' | 'time',
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

/**
 * readPfx, with the derivations it will make with the first password it tries computed ahead, side
 * by side (threads.ts), when they are many and within the budget. The answer is readPfx's either
 * way: a key not derived ahead is derived where readPfx needs it.
 */
export async function openPfx(
  der: Buffer,
  text?: string,
  work: Work = newWork()
): Promise<PfxResult> {
  const planned = plan(der, text)
  if (derivationsCost(planned) <= work.left) {
    for (const [id, key] of await deriveAhead(planned, work.deadline)) work.derived.set(id, key)
  }
  return readPfx(der, text, work)
}

/**
 * The derivations readPfx will make with the password as UTF-16 (the first it tries), as far as
 * they can be known without decrypting anything: the MAC's, each encrypted safe's and each
 * shrouded key in the clear. A file that does not read gives what was found before: readPfx says
 * what is wrong with it.
 */
function plan(der: Buffer, text?: string): Derivation[] {
  const pass = password(text ?? '', 'utf16')
  const planned: Derivation[] = []
  try {
    const [, contentInfo, macData] = items(parseFirst(der))
    if (macData !== undefined) planned.push(macScheme(macData).derivationOf(pass))
    const authSafe = octets(items(items(contentInfo)[1], 0xa0)[0])
    for (const info of items(parse(authSafe))) {
      const [type, wrapped] = items(info)
      const inner = items(wrapped, 0xa0)[0]
      if (oid(type) === OID.encryptedData) {
        planned.push(...bagScheme(items(items(inner)[1])[1]).derivationsOf(pass))
      } else if (oid(type) === OID.data) {
        for (const bag of items(parse(octets(inner)))) {
          const [id, value] = items(bag)
          if (oid(id) !== OID.shroudedKeyBag) continue
          planned.push(...bagScheme(items(items(value, 0xa0)[0])[0]).derivationsOf(pass))
        }
      }
    }
  } catch {
    // Not readable (or not supported) from here on.
  }
  return planned
}

/**
 * Decrypts a PFX with its password (none: the empty or null password, as OpenSSL takes them).
 * Reads the first structure and ignores what follows it, as OpenSSL does. `work` is what loading
 * may spend (shared by the calls of one load).
 */
export function readPfx(der: Buffer, text?: string, work: Work = newWork()): PfxResult {
  let pfx: Node[]
  let authSafe: Buffer
  try {
    pfx = items(parseFirst(der))
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
      const check = macCheck(pfx[2], authSafe, work)
      const verified = variants.find(check)
      if (!verified) return { ok: false, problem: 'password' }
      // The MAC settles the password. The empty one and the null one may still differ between
      // the MAC and the bags, so both stay candidates there, the verified one first.
      // Stryker disable next-line MethodExpression,ConditionalExpression: a candidate tried twice opens nothing more
      const others = none.filter((p) => p !== verified)
      candidates = none.includes(verified) ? [verified, ...others] : [verified]
    }
    return { ok: true, ...readAuthSafe(authSafe, candidates, work) }
  } catch (error) {
    if (error instanceof Stop) return { ok: false, problem: error.problem, detail: error.detail }
    return { ok: false, problem: 'unreadable' }
  }
}

/**
 * MacData (RFC 7292 §4): HMAC over the AuthenticatedSafe, with a key from the PKCS#12 KDF, or with
 * PBMAC1 (RFC 9579) a key from PBKDF2. The MAC must match in its full length: a shorter value, or
 * an empty one, is a wrong MAC. Each password tried is charged to `work` before its key is derived.
 * @returns the check of one password.
 */
function macCheck(macData: Node, content: Buffer, work: Work): (pass: Password) => boolean {
  const { hmac, derivationOf, want } = macScheme(macData)
  return (pass) => {
    const d = derivationOf(pass)
    charge(work, derivationCost(d), d.iterations)
    const actual = createHmac(hmac, keyOf(work, d)).update(content).digest()
    return actual.length === want.length && timingSafeEqual(actual, want)
  }
}

/** MacData read: its HMAC's hash, the derivation of its key for a password, the MAC value. */
function macScheme(macData: Node): {
  hmac: string
  derivationOf: (pass: Password) => Derivation
  want: Buffer
} {
  const [digestInfo, salt, count] = items(macData)
  const [algorithm, expected] = items(digestInfo)
  const want = octets(expected)
  const [algorithmId, params] = items(algorithm)
  const id = oid(algorithmId)
  if (id === OID.pbmac1) {
    // RFC 9579 §4: PBMAC1-params { keyDerivationFunc (PBKDF2, keyLength required),
    // messageAuthScheme (an HMAC) }; MacData's own salt and iteration count are not used.
    const [kdf, scheme] = items(params)
    const pbkdf2 = pbkdf2Params(kdf)
    const length = pbkdf2.keyLength
    // Stryker disable next-line StringLiteral: readPfx answers a DerError as unreadable, without its message
    if (length === undefined) throw new DerError('PBMAC1 without a key length')
    const hmac = PRFS[oid(items(scheme)[0])]
    if (!hmac) throw new Stop('unsupported', name(oid(items(scheme)[0])))
    return { hmac, derivationOf: (pass) => pbkdf2.derivationOf(pass, length), want }
  }
  const digest = DIGESTS[id]
  if (!digest) throw new Stop('unsupported', name(id))
  const iterations = count === undefined ? 1 : checkIterations(integer(count))
  const [hash, blockSize] = digest
  const common = { kdf: 'pkcs12', hash, blockSize, salt: octets(salt), iterations } as const
  return {
    hmac: hash,
    derivationOf: (pass) => ({ ...common, pass: pass.bmp, purpose: 3, length: digestSize(hash) }),
    want
  }
}

function checkIterations(count: number): number {
  if (count > MAX_ITERATIONS) throw new Stop('iterations', String(count))
  // Stryker disable next-line StringLiteral: readPfx answers a DerError as unreadable, without its message
  if (count < 1) throw new DerError('iteration count')
  return count
}

function readAuthSafe(
  authSafe: Buffer,
  candidates: Password[],
  work: Work
): { keys: Buffer[]; certificates: Buffer[] } {
  const found = { keys: [] as Buffer[], certificates: [] as Buffer[] }
  for (const contentInfo of items(parse(authSafe))) {
    const [typeNode, wrapped] = items(contentInfo)
    const type = oid(typeNode)
    const inner = items(wrapped, 0xa0)[0]
    if (type === OID.data) {
      readSafeContents(parse(octets(inner)), candidates, found, work)
    } else if (type === OID.encryptedData) {
      // EncryptedData: version, EncryptedContentInfo { contentType, algorithm, [0] IMPLICIT content }
      const [, info] = items(inner)
      const [, algorithm, content] = items(info)
      // Stryker disable next-line StringLiteral: readPfx answers a DerError as unreadable, without its message
      if (!content || (content.tag & 0xdf) !== 0x80) throw new DerError('no encrypted content')
      const plain = decrypt(algorithm, octets(content), candidates, work)
      readSafeContents(plain, candidates, found, work)
    } else {
      throw new Stop('unsupported', name(type))
    }
  }
  return found
}

function readSafeContents(
  safeContents: Node,
  candidates: Password[],
  found: { keys: Buffer[]; certificates: Buffer[] },
  work: Work
): void {
  for (const bag of items(safeContents)) {
    const [idNode, wrapped] = items(bag)
    const id = oid(idNode)
    const value = items(wrapped, 0xa0)[0]
    if (id === OID.keyBag) {
      found.keys.push(Buffer.from(value.bytes))
    } else if (id === OID.shroudedKeyBag) {
      const [algorithm, data] = items(value)
      found.keys.push(Buffer.from(decrypt(algorithm, octets(data), candidates, work).bytes))
    } else if (id === OID.certBag) {
      const [certType, certValue] = items(value)
      // Other certificate types (SDSI) carry nothing an assertion can use.
      if (oid(certType) === OID.x509Certificate) {
        found.certificates.push(Buffer.from(octets(items(certValue, 0xa0)[0])))
      }
    } else if (id === OID.safeContentsBag) {
      readSafeContents(value, candidates, found, work)
    }
    // CRL and secret bags carry nothing the assertion needs.
  }
}

/**
 * Decrypts with each candidate password until one gives a whole BER structure: with a MAC there
 * is one candidate (or two for the empty password); without a MAC, the right password is the one
 * whose plaintext has valid padding and parses to the end, which chance does not produce.
 */
function decrypt(algorithm: Node, data: Buffer, candidates: Password[], work: Work): Node {
  const { derivationsOf, open } = bagScheme(algorithm)
  for (const pass of candidates) {
    const derivations = derivationsOf(pass)
    charge(work, derivationsCost(derivations), derivations[0].iterations)
    const plain = open(
      derivations.map((d) => keyOf(work, d)),
      data
    )
    if (plain === undefined) continue
    try {
      return parse(plain)
    } catch {
      // Padding that happened to be valid under a wrong key: not this password.
    }
  }
  throw new Stop('password')
}

/**
 * An encryption algorithm read: the derivations of its keys for a password, and the decryption
 * with those keys (undefined: bad padding or length, a wrong key).
 */
function bagScheme(algorithm: Node): {
  derivationsOf: (pass: Password) => Derivation[]
  open: (keys: Buffer[], data: Buffer) => Buffer | undefined
} {
  const [idNode, params] = items(algorithm)
  const id = oid(idNode)
  if (PBES1[id]) {
    // PKCS#12 PBES1 (RFC 7292 appendix C): the key, then the IV; RC4 is a stream cipher, without one.
    const [cipher, keyLength, rc2Bits] = PBES1[id]
    const [salt, count] = items(params)
    const common = {
      kdf: 'pkcs12',
      hash: 'sha1',
      blockSize: 64,
      salt: octets(salt),
      iterations: checkIterations(integer(count))
    } as const
    return {
      derivationsOf: (pass) => {
        const key: Derivation = { ...common, pass: pass.bmp, purpose: 1, length: keyLength }
        return cipher === 'rc4'
          ? [key]
          : [key, { ...common, pass: pass.bmp, purpose: 2, length: 8 }]
      },
      open: ([key, iv], data) =>
        cipher === 'rc4'
          ? rc4(key, data)
          : cipher === 'rc2'
            ? decryptRc2Cbc(key, rc2Bits, iv, data)
            : nodeDecrypt(cipher, key, iv, data)
    }
  }
  if (id === OID.pbes2) return pbes2(params)
  throw new Stop('unsupported', name(id))
}

/** PBES2 (RFC 8018 §6.2): PBKDF2 with an HMAC PRF, then AES, Camellia or 3DES in CBC mode; UTF-8 password. */
function pbes2(params: Node): ReturnType<typeof bagScheme> {
  const [kdf, scheme] = items(params)
  const [schemeId, ivNode] = items(scheme)
  const cipher = CIPHERS[oid(schemeId)]
  if (!cipher) throw new Stop('unsupported', name(oid(schemeId)))
  const pbkdf2 = pbkdf2Params(kdf)
  const keyLength = pbkdf2.keyLength ?? cipher[1]
  // Stryker disable next-line StringLiteral: readPfx answers a DerError as unreadable, without its message
  if (keyLength !== cipher[1]) throw new DerError('key length')
  const iv = octets(ivNode)
  return {
    derivationsOf: (pass) => [pbkdf2.derivationOf(pass, keyLength)],
    open: ([key], data) => nodeDecrypt(cipher[0], key, iv, data)
  }
}

/** PBKDF2-params (RFC 8018 appendix A.2), for PBES2 and PBMAC1. */
function pbkdf2Params(kdf: Node): {
  keyLength?: number
  derivationOf: (pass: Password, length: number) => Derivation
} {
  const [kdfId, kdfParams] = items(kdf)
  if (oid(kdfId) !== OID.pbkdf2) throw new Stop('unsupported', name(oid(kdfId)))
  const [salt, count, ...rest] = items(kdfParams)
  if (salt.tag !== TAG.OCTET_STRING) throw new Stop('unsupported', 'PBKDF2 with a salt source')
  const iterations = checkIterations(integer(count))
  const keyLength = rest[0]?.tag === TAG.INTEGER ? integer(rest[0]) : undefined
  const prfNode = rest.find((n) => n.tag === TAG.SEQUENCE)
  const prfId = prfNode ? oid(items(prfNode)[0]) : '1.2.840.113549.2.7'
  const hash = PRFS[prfId]
  if (!hash) throw new Stop('unsupported', name(prfId))
  return {
    keyLength,
    derivationOf: (pass, length) => ({
      kdf: 'pbkdf2',
      hash,
      pass: pass.utf8,
      salt: octets(salt),
      iterations,
      length
    })
  }
}

function nodeDecrypt(cipher: string, key: Buffer, iv: Buffer, data: Buffer): Buffer | undefined {
  try {
    const decipher = createDecipheriv(cipher, key, iv)
    return Buffer.concat([decipher.update(data), decipher.final()])
  } catch {
    return undefined // bad padding or length: a wrong key
  }
}

function name(id: string): string {
  return NAMES[id] ? `${NAMES[id]} (${id})` : `OID ${id}`
}
