// The PKCS#12 key derivation function (RFC 7292 appendix B.2), which node:crypto does not offer.
// Its cost is the repeated hash: NSS 3.87 and GnuTLS 3.7.9 write 600,000 iterations by default,
// and each iteration hashes only the previous digest. One crypto.hash() call per iteration spends
// most of its time crossing into C++ and allocating a Buffer, not hashing; for SHA-1 and SHA-256
// (what every tool uses with this KDF) sha1.ts and sha256.ts run the compression function in place on
// the fixed one-block message (digest, 0x80, zeros, bit length), which is several times faster.
// Written by hand because no primitive of node:crypto iterates a hash; checked against
// node:crypto's own hash on the same inputs (__tests__/kdf.test.ts).
import { hash, pbkdf2Sync } from 'node:crypto'
import { iterateSha1 } from './sha1.js'
import { iterateSha256 } from './sha256.js'

/**
 * From these counts on, the hand-written loops are faster. Below them node:crypto is: V8 runs a
 * function as large as these unoptimised until it has compiled it, which costs 13 ms (SHA-1) and
 * 35 ms (SHA-256) at the start, against about 1.2 µs an iteration through node:crypto. Measured
 * under Node 24 in a fresh process: 2,048 SHA-256 iterations (OpenSSL's default) take 37 ms by
 * hand and 5 ms through node:crypto; 100,000 take 81 ms and 119 ms.
 */
export const BY_HAND_FROM: Record<string, number> = { sha1: 10_000, sha256: 30_000 }

/**
 * `hashName` applied `times` times to `digest` (a digest of that hash), in place: the loop of the
 * PKCS#12 KDF. SHA-1 and SHA-256 by hand for large counts (see above), the rest through node:crypto.
 */
export function iterateHash(hashName: string, digest: Buffer, times: number): void {
  if (times >= (BY_HAND_FROM[hashName] ?? Infinity)) {
    return hashName === 'sha1' ? iterateSha1(digest, times) : iterateSha256(digest, times)
  }
  let a = digest
  for (let r = 0; r < times; r++) a = hash(hashName, a, 'buffer')
  a.copy(digest)
}

/** Digest sizes in bytes, by node:crypto hash name. */
export function digestSize(hashName: string): number {
  return hash(hashName, Buffer.alloc(0), 'buffer').length
}

/**
 * The PKCS#12 key derivation function (RFC 7292 appendix B.2): `purpose` 1 = key, 2 = IV, 3 = MAC
 * key. `blockSize` is the hash's input block size (v). Costs `iterations` hashes per digest-sized
 * block of output: see {@link kdfCost}.
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
    const A = hash(hashName, Buffer.concat([D, I]), 'buffer')
    iterateHash(hashName, A, iterations - 1)
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

/** The hashes {@link pkcs12Kdf} computes for `length` bytes: iterations per digest-sized block. */
export function kdfCost(iterations: number, length: number, size: number): number {
  return iterations * Math.ceil(length / size)
}

/**
 * One key derivation a PFX asks for: the PKCS#12 KDF's (the MAC and PBES1; `pass` as a BMPString)
 * or PBKDF2's (PBES2 and PBMAC1; `pass` as UTF-8, `hash` the HMAC's). Plain data, so that a worker
 * thread can take it (threads.ts).
 */
export type Derivation =
  | {
      kdf: 'pkcs12'
      hash: string
      /** The hash's input block size (v). */
      blockSize: number
      pass: Buffer
      salt: Buffer
      iterations: number
      /** 1 = key, 2 = IV, 3 = MAC key. */
      purpose: number
      length: number
    }
  | { kdf: 'pbkdf2'; hash: string; pass: Buffer; salt: Buffer; iterations: number; length: number }

/** Computes a derivation on this thread. */
export function derive(d: Derivation): Buffer {
  return d.kdf === 'pkcs12'
    ? pkcs12Kdf(d.hash, d.blockSize, d.pass, d.salt, d.iterations, d.purpose, d.length)
    : pbkdf2Sync(d.pass, d.salt, d.iterations, d.length, d.hash)
}

/** The hash computations a derivation costs; PBKDF2 computes two per iteration (HMAC's inner and outer). */
export function derivationCost(d: Derivation): number {
  const cost = kdfCost(d.iterations, d.length, digestSize(d.hash))
  return d.kdf === 'pkcs12' ? cost : 2 * cost
}

/** The hash computations of several derivations. */
export function derivationsCost(list: Derivation[]): number {
  return list.reduce((sum, d) => sum + derivationCost(d), 0)
}

/** What identifies a derivation's result: every input, the password included (kept in memory only). */
export function derivationId(d: Derivation): string {
  const parts = [
    d.kdf,
    d.hash,
    d.pass.toString('hex'),
    d.salt.toString('hex'),
    d.iterations,
    d.length
  ]
  return (d.kdf === 'pkcs12' ? [...parts, d.blockSize, d.purpose] : parts).join(':')
}
