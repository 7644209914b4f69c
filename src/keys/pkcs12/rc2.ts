// RC2 decryption in CBC mode (RFC 2268), for legacy PFX files (pbeWithSHAAnd40BitRC2-CBC, the
// certificate encryption of `openssl pkcs12 -legacy`, old Windows exports and JDK keytool's legacy
// mode). Written by hand because Node's OpenSSL has RC2 only in its legacy provider, which Node
// does not load; decryption only, checked against the RFC's test vectors.

/** PITABLE, RFC 2268 §2: a permutation of 0..255 derived from the digits of pi. */
const PITABLE = Buffer.from(
  'd978f9c419ddb5ed28e9fd794aa0d89dc67e37832b76538e624c6488448bfba2179a59f587b34f1361456d8d09817d32' +
    'bd8f40eb86b77b0bf09521225c6b4e8254d66593ce60b21c7356c014a78cf1dc1275ca1f3bbee4d1423dd430a33cb626' +
    '6fbf0eda4669075727f21d9bbc944303f811c7f690ef3ee706c3d52fc8661ed708e8eade8052eef784aa72ac354d6a2a' +
    '961ad2715a1549744b9fd05e0418a4ecc2e0416e0f51cbcc2491af50a1f47039997c3a8523b8b47afc02365b25559731' +
    '2d5dfa98e38a92ae05df2910676cbac9d300e6cfe19ea82c6316013f58e289a90d38341bab33ffb0bb480c5fb9b1cd2e' +
    'c5f3db47e5a59c770aa62068fe7fc1ad',
  'hex'
)

/** Key expansion (RFC 2268 §2): 64 16-bit words from the key and its effective bit length. */
export function expandKey(key: Buffer, effectiveBits: number): Uint16Array {
  const T = key.length
  const T8 = Math.ceil(effectiveBits / 8)
  const TM = 0xff >> (8 * T8 - effectiveBits)
  const L = new Uint8Array(128)
  L.set(key)
  // Stryker disable next-line EqualityOperator: a write past the end of a typed array is ignored
  for (let i = T; i < 128; i++) L[i] = PITABLE[(L[i - 1] + L[i - T]) & 0xff]
  L[128 - T8] = PITABLE[L[128 - T8] & TM]
  for (let i = 127 - T8; i >= 0; i--) L[i] = PITABLE[L[i + 1] ^ L[i + T8]]
  const K = new Uint16Array(64)
  // Stryker disable next-line EqualityOperator: a write past the end of a typed array is ignored
  for (let i = 0; i < 64; i++) K[i] = L[2 * i] | (L[2 * i + 1] << 8)
  return K
}

const SHIFTS = [1, 2, 3, 5]

/** Decrypts one 8-byte block in place (RFC 2268 §4). */
export function decryptBlock(K: Uint16Array, block: Uint8Array): void {
  const R = [0, 1, 2, 3].map((i) => block[2 * i] | (block[2 * i + 1] << 8))
  let j = 63
  const mix = (): void => {
    for (let i = 3; i >= 0; i--) {
      const r = R[i]
      R[i] = ((r >>> SHIFTS[i]) | (r << (16 - SHIFTS[i]))) & 0xffff
      R[i] =
        // Stryker disable next-line ArithmeticOperator: i + 2 and i - 2 are the same index modulo 4
        (R[i] - K[j--] - (R[(i + 3) & 3] & R[(i + 2) & 3]) - (~R[(i + 3) & 3] & R[(i + 1) & 3])) &
        0xffff
    }
  }
  const mash = (): void => {
    for (let i = 3; i >= 0; i--) R[i] = (R[i] - K[R[(i + 3) & 3] & 63]) & 0xffff
  }
  for (const [rounds, step] of [
    [5, mix],
    [1, mash],
    [6, mix],
    [1, mash],
    [5, mix]
  ] as const) {
    for (let n = 0; n < rounds; n++) step()
  }
  // Stryker disable next-line EqualityOperator: a write past the end of a typed array is ignored
  for (let i = 0; i < 4; i++) {
    block[2 * i] = R[i] & 0xff
    block[2 * i + 1] = R[i] >> 8
  }
}

/**
 * RC2-CBC decryption with PKCS#7 padding removed.
 * @returns undefined when the length or the padding is wrong (a wrong key, most likely).
 */
export function decryptRc2Cbc(
  key: Buffer,
  effectiveBits: number,
  iv: Buffer,
  data: Buffer
): Buffer | undefined {
  if (data.length === 0 || data.length % 8 !== 0 || iv.length !== 8) return undefined
  const K = expandKey(key, effectiveBits)
  const out = Buffer.from(data)
  let previous = iv
  // Stryker disable next-line EqualityOperator: a block past the end is empty, and nothing is written to it
  for (let at = 0; at < out.length; at += 8) {
    const block = out.subarray(at, at + 8)
    decryptBlock(K, block)
    // Stryker disable next-line EqualityOperator: a write past the end of a typed array is ignored
    for (let i = 0; i < 8; i++) block[i] ^= previous[i]
    previous = data.subarray(at, at + 8)
  }
  const pad = out[out.length - 1]
  if (pad < 1 || pad > 8) return undefined
  for (let i = out.length - pad; i < out.length; i++) if (out[i] !== pad) return undefined
  return out.subarray(0, out.length - pad)
}
