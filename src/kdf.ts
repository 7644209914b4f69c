// The PKCS#12 key derivation function (RFC 7292 appendix B.2), which node:crypto does not offer.
// Its cost is the repeated hash: NSS 3.87 and GnuTLS 3.7.9 write 600,000 iterations by default,
// and each iteration hashes only the previous digest. One crypto.hash() call per iteration spends
// most of its time crossing into C++ and allocating a Buffer, not hashing; for SHA-1 and SHA-256
// (what every tool uses with this KDF) the loop below runs the compression function in place on
// the fixed one-block message (digest, 0x80, zeros, bit length), which is several times faster.
// Written by hand because no primitive of node:crypto iterates a hash; checked against
// node:crypto's own hash on the same inputs (__tests__/kdf.test.ts).
import { hash } from 'node:crypto'
import { iterateSha1 } from './sha1.js'

const K256 = new Int32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2
])
const H256 = [
  0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19
]
/** SHA-256 applied `times` times to a 32-byte digest, in place (FIPS 180-4 §6.2). */
function iterateSha256(digest: Buffer, times: number): void {
  const w = new Int32Array(64)
  const s = new Int32Array(8)
  for (let i = 0; i < 8; i++) s[i] = digest.readInt32BE(4 * i)
  for (let n = 0; n < times; n++) {
    w.set(s)
    w[8] = 0x80000000 | 0
    w.fill(0, 9, 15)
    w[15] = 256
    for (let t = 16; t < 64; t++) {
      const x = w[t - 15]
      const y = w[t - 2]
      const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3)
      const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10)
      w[t] = (w[t - 16] + s0 + w[t - 7] + s1) | 0
    }
    let a = H256[0] | 0
    let b = H256[1] | 0
    let c = H256[2] | 0
    let d = H256[3] | 0
    let e = H256[4] | 0
    let f = H256[5] | 0
    let g = H256[6] | 0
    let h = H256[7] | 0
    for (let t = 0; t < 64; t++) {
      const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7))
      const t1 = (h + S1 + ((e & f) ^ (~e & g)) + K256[t] + w[t]) | 0
      const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10))
      const t2 = (S0 + ((a & b) ^ (a & c) ^ (b & c))) | 0
      h = g
      g = f
      f = e
      e = (d + t1) | 0
      d = c
      c = b
      b = a
      a = (t1 + t2) | 0
    }
    s[0] = (H256[0] + a) | 0
    s[1] = (H256[1] + b) | 0
    s[2] = (H256[2] + c) | 0
    s[3] = (H256[3] + d) | 0
    s[4] = (H256[4] + e) | 0
    s[5] = (H256[5] + f) | 0
    s[6] = (H256[6] + g) | 0
    s[7] = (H256[7] + h) | 0
  }
  for (let i = 0; i < 8; i++) digest.writeInt32BE(s[i], 4 * i)
}

/**
 * `hashName` applied `times` times to `digest` (a digest of that hash), in place: the loop of the
 * PKCS#12 KDF. SHA-1 and SHA-256 by hand (see above), any other hash through node:crypto.
 */
export function iterateHash(hashName: string, digest: Buffer, times: number): void {
  if (hashName === 'sha1') return iterateSha1(digest, times)
  if (hashName === 'sha256') return iterateSha256(digest, times)
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
