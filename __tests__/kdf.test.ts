// The PKCS#12 KDF's repeated hash: the hand-written SHA-1 and SHA-256 loops against node:crypto's
// own hash, iterated the slow way, on digests of many inputs and at the counts that matter (none,
// one, a few, and a thousand); and the KDF's cost as the work budget counts it.
import { describe, expect, it } from '@jest/globals'
import { hash, randomBytes } from 'node:crypto'
import {
  BY_HAND_FROM,
  digestSize,
  iterateHash,
  kdfCost,
  pkcs12Kdf
} from '../src/keys/pkcs12/kdf.js'
import { iterateSha1 } from '../src/keys/pkcs12/sha1.js'
import { iterateSha256 } from '../src/keys/pkcs12/sha256.js'

/** `hashName` applied `times` times to `digest` through node:crypto, one call per iteration. */
function slow(hashName: string, digest: Buffer, times: number): Buffer {
  let a = digest
  for (let i = 0; i < times; i++) a = hash(hashName, a, 'buffer')
  return a
}

describe('iterateHash', () => {
  it.each(['sha1', 'sha256', 'sha512', 'sha384', 'md5'])(
    'gives what node:crypto gives for %s, iterated 0, 1, 2, 3 and 1000 times',
    (hashName) => {
      for (let n = 0; n < 20; n++) {
        const start = hash(hashName, randomBytes(n * 7), 'buffer')
        for (const times of [0, 1, 2, 3, 1000]) {
          const digest = Buffer.from(start)
          iterateHash(hashName, digest, times)
          expect(digest.toString('hex')).toBe(slow(hashName, start, times).toString('hex'))
        }
      }
    }
  )

  it.each([
    ['sha1', iterateSha1],
    ['sha256', iterateSha256]
  ] as const)(
    'runs %s by hand, as node:crypto would, at 0, 1, 2, 3 and 1000 iterations',
    (hashName, byHand) => {
      for (let n = 0; n < 20; n++) {
        const start = hash(hashName, randomBytes(n * 7), 'buffer')
        for (const times of [0, 1, 2, 3, 1000]) {
          const digest = Buffer.from(start)
          byHand(digest, times)
          expect(digest.toString('hex')).toBe(slow(hashName, start, times).toString('hex'))
        }
      }
    }
  )

  it.each(['sha1', 'sha256'])(
    'takes the hand-written %s loop from its threshold on, with the same result',
    (hashName) => {
      const from = BY_HAND_FROM[hashName]
      const start = hash(hashName, 'abc', 'buffer')
      for (const times of [from - 1, from]) {
        const digest = Buffer.from(start)
        iterateHash(hashName, digest, times)
        expect(digest.toString('hex')).toBe(slow(hashName, start, times).toString('hex'))
      }
      expect(from).toBeGreaterThanOrEqual(10_000)
    }
  )

  it('runs SHA-1 in place on the 20-octet digest it is given', () => {
    const digest = hash('sha1', 'abc', 'buffer')
    const same = digest
    iterateSha1(digest, 2)
    expect(same).toBe(digest)
    expect(digest.toString('hex')).toBe(
      slow('sha1', hash('sha1', 'abc', 'buffer'), 2).toString('hex')
    )
  })
})

describe('pkcs12Kdf', () => {
  it('derives with SHA-256 what OpenSSL derives (its MAC key for a known password and salt)', () => {
    // The PKCS#12 MAC key of OpenSSL's PKCS12_key_gen_utf8("123456", salt e241f01650dbeae4,
    // id 3, 2048 iterations, 32 octets, SHA-256), as Crypt::OpenSSL::PKCS::Func's test states it.
    const pass = Buffer.concat([Buffer.from('123456', 'utf16le').swap16(), Buffer.alloc(2)])
    const key = pkcs12Kdf('sha256', 64, pass, Buffer.from('e241f01650dbeae4', 'hex'), 2048, 3, 32)
    expect(key.toString('hex').toUpperCase()).toBe(
      '721259F14AAD70B58839F71566B433DA1B8AD08F650F4D02FAAA0B9B095BB51D'
    )
  })
})

describe('kdfCost', () => {
  it('counts iterations per digest-sized block of output', () => {
    expect(kdfCost(600_000, 24, 20)).toBe(1_200_000)
    expect(kdfCost(600_000, 8, 20)).toBe(600_000)
    expect(kdfCost(600_000, 0, 20)).toBe(0)
    expect(kdfCost(2048, 64, 64)).toBe(2048)
    expect(digestSize('sha1')).toBe(20)
  })
})
