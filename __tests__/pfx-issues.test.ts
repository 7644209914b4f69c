// The PKCS#12 reader against what real tools and hostile files do: trailing bytes after the PFX
// (Windows-made files), a PFX .NET made on Windows, the work budget over every derivation and the
// step's deadline, RFC 9579's PBMAC1 vectors (the three valid ones and the three invalid ones), and
// the RSA-PSS certificate NSS makes for a plain RSA key. The corpus itself is checked byte for byte
// through dist/index.js in pfx-corpus.test.ts; these pin each behaviour at the reader and at the
// message.
import { describe, expect, it } from '@jest/globals'
import { createHash, createPrivateKey, X509Certificate } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { loadCredential } from '../src/keys/credential.js'
import { newWork, readPfx, WORK_BUDGET } from '../src/keys/pkcs12/pfx.js'
import { ROOT } from './support/run-action.js'

const DIR = join(ROOT, '__tests__', 'fixtures', 'pfx')
const read = (file: string): Buffer => readFileSync(join(DIR, file))
const tlv = (tag: number, ...parts: Buffer[]): Buffer => {
  const body = Buffer.concat(parts)
  const n = body.length
  const len =
    n < 0x80
      ? Buffer.from([n])
      : n < 0x100
        ? Buffer.from([0x81, n])
        : Buffer.from([0x82, n >> 8, n & 0xff])
  return Buffer.concat([Buffer.from([tag]), len, body])
}
const hex = (text: string): Buffer => Buffer.from(text.replace(/\s/g, ''), 'hex')
const seq = (...parts: Buffer[]): Buffer => tlv(0x30, ...parts)
const count = (n: number): Buffer => {
  const bytes = [n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]
  return tlv(0x02, Buffer.from([0, ...bytes]))
}
const DATA = hex('06092a864886f70d010701')
const PBE_3DES = hex('060a2a864886f70d010c0103')
const SHA1 = hex('06052b0e03021a 0500')

/** A PFX with one 3DES-encrypted bag (no MAC, unless `mac` iterations are given). */
function hostile(iterations: number, mac?: number): Buffer {
  const algorithm = seq(PBE_3DES, seq(tlv(0x04, Buffer.alloc(8)), count(iterations)))
  const encrypted = tlv(
    0x30,
    hex('06092a864886f70d010706'),
    tlv(0xa0, seq(hex('020100'), seq(DATA, algorithm, tlv(0x80, Buffer.alloc(16)))))
  )
  const authSafe = seq(encrypted)
  const macData =
    mac === undefined
      ? []
      : [seq(seq(seq(SHA1), tlv(0x04, Buffer.alloc(20))), tlv(0x04, Buffer.alloc(8)), count(mac))]
  return seq(hex('020103'), seq(DATA, tlv(0xa0, tlv(0x04, authSafe))), ...macData)
}

async function refusal(pfx: Buffer, password?: string): Promise<string> {
  try {
    await loadCredential({ kind: 'certificate', certificate: pfx.toString('base64'), password })
  } catch (error) {
    return (error as Error).message
  }
  throw new Error('loaded')
}

describe('bytes after the PFX', () => {
  it('opens a PFX followed by 8 zero bytes exactly as without them, as OpenSSL does', () => {
    const pfx = read('openssl-default.pfx')
    const trailing = Buffer.concat([pfx, Buffer.alloc(8)])
    expect(readPfx(trailing, 'corpus-pw')).toEqual(readPfx(pfx, 'corpus-pw'))
    expect(readPfx(Buffer.concat([pfx, Buffer.from('junk')]), 'corpus-pw').ok).toBe(true)
  })

  it('sends the thumbprint of the same certificate for the file with trailing zeros', async () => {
    const credential = await loadCredential({
      kind: 'certificate',
      certificate: read('openssl-trailing-zeros.pfx').toString('base64'),
      password: 'corpus-pw'
    })
    const der = read('openssl-trailing-zeros.der')
    expect(credential.x5tS256).toBe(createHash('sha256').update(der).digest('base64url'))
  })
})

describe('a PFX made by .NET on Windows (dotnet/runtime test data)', () => {
  it('opens with the null password, none given or the empty one: its certificate, byte for byte', () => {
    const certificate = read('dotnet-null-password.der')
    for (const password of [undefined, '']) {
      expect(readPfx(read('dotnet-null-password.pfx'), password)).toEqual({
        ok: true,
        keys: [],
        certificates: [certificate]
      })
    }
  })
})

describe('the work budget', () => {
  it('counts every hash a file costs: 600,000 iterations, 3DES, SHA-1 MAC cost 4,200,000', () => {
    const work = newWork()
    expect(readPfx(read('nss-3des.pfx'), 'corpus-pw', work).ok).toBe(true)
    // MAC: one 20-octet block; each of two bags: a 24-octet key (two blocks) and an 8-octet IV.
    expect(WORK_BUDGET - work.left).toBe(600_000 * (1 + 2 * (2 + 1)))
  })

  it('counts PBKDF2 as two hashes per iteration and block (NSS defaults: 3,000,000 in all)', () => {
    const work = newWork()
    expect(readPfx(read('nss-default.pfx'), 'corpus-pw', work).ok).toBe(true)
    // SHA-256 MAC by the PKCS#12 KDF: one block; AES-256 and AES-128 keys by PBKDF2-SHA256: one block each.
    expect(WORK_BUDGET - work.left).toBe(600_000 + 2 * 600_000 * 2)
  })

  it('refuses a 10,000,000-iteration bag without a MAC before deriving anything', () => {
    const work = newWork()
    expect(readPfx(hostile(10_000_000), 'pw', work)).toEqual({
      ok: false,
      problem: 'work',
      detail: '10000000'
    })
    expect(work.left).toBe(WORK_BUDGET)
  })

  it('charges each password candidate of a MAC as it is tried, and refuses the one beyond', () => {
    // A non-ASCII password has two encodings: the first is computed, the second would pass the budget.
    const work = newWork()
    work.left = 1_500_000
    expect(readPfx(hostile(2, 1_000_000), 'pässwörd', work)).toEqual({
      ok: false,
      problem: 'work',
      detail: '1000000'
    })
    expect(work.left).toBe(500_000)
  })

  it('shares one budget between the password as given and the password trimmed', () => {
    const work = newWork()
    work.left = 600_000 // less than the file needs once the MAC is checked
    expect(readPfx(read('nss-3des.pfx'), 'corpus-pw', work)).toEqual({
      ok: false,
      problem: 'work',
      detail: '600000'
    })
  })

  it('says which iteration count was too much and how to export the file again', async () => {
    expect(await refusal(hostile(10_000_000), 'pw')).toBe(
      "The PFX in 'certificate' asks for 10,000,000 key derivation iterations, more work than loading a certificate may take (the action allows about 20,000,000 hash computations in all; a file with 600,000 iterations needs 4,200,000): export it again with fewer, e.g. openssl pkcs12 -export -iter 2048 (OpenSSL's default) or pk12util/certtool with their defaults."
    )
  })

  it('stops at the step deadline and says so', async () => {
    expect(readPfx(read('openssl-default.pfx'), 'corpus-pw', newWork(Date.now() - 1))).toEqual({
      ok: false,
      problem: 'time'
    })
    const certificate = read('openssl-default.pfx').toString('base64')
    await expect(
      loadCredential({ kind: 'certificate', certificate, password: 'corpus-pw' }, () => {}, {
        deadline: Date.now() - 1
      })
    ).rejects.toThrow(
      "The PFX in 'certificate' took longer to open than the step's time allows: export it again with fewer key derivation iterations (openssl pkcs12 -export with its default of 2048)."
    )
  })
})

describe('PBMAC1, RFC 9579 appendix A', () => {
  it('opens A.1 (HMAC-SHA256, PBKDF2-HMAC-SHA256) with the password 1234: its key matches its certificate', async () => {
    const result = readPfx(read('rfc9579-a1.pfx'), '1234')
    if (!result.ok) throw new Error(result.problem)
    expect(result.keys).toHaveLength(1)
    const credential = await loadCredential({
      kind: 'certificate',
      certificate: read('rfc9579-a1.pfx').toString('base64'),
      password: '1234'
    })
    expect(credential.chainDer).toEqual(result.certificates)
    expect(new X509Certificate(result.certificates[0]).subject).toContain('CN=tt')
  })

  it('refuses A.1 with another password', () => {
    expect(readPfx(read('rfc9579-a1.pfx'), '12345')).toEqual({ ok: false, problem: 'password' })
  })

  it.each([
    ['A.2 (HMAC-SHA256, PBKDF2-HMAC-SHA512)', 'rfc9579-a2.pfx'],
    ['A.3 (HMAC-SHA512, PBKDF2-HMAC-SHA512)', 'rfc9579-a3.pfx']
  ])('opens %s with the password 1234: the key and certificate of A.1', (_, file) => {
    const a1 = readPfx(read('rfc9579-a1.pfx'), '1234')
    expect(readPfx(read(file), '1234')).toEqual(a1)
    expect(readPfx(read(file), '12345')).toEqual({ ok: false, problem: 'password' })
  })

  it('refuses A.4, whose PBKDF2 iteration count is not the one the MAC was made with', () => {
    expect(readPfx(read('rfc9579-a4.pfx'), '1234')).toEqual({ ok: false, problem: 'password' })
  })

  it("refuses A.5, whose MAC was made with MacData's salt, which PBMAC1 does not use", () => {
    expect(readPfx(read('rfc9579-a5.pfx'), '1234')).toEqual({ ok: false, problem: 'password' })
  })

  it('refuses A.6, whose PBKDF2 parameters lack the key length PBMAC1 requires', () => {
    expect(readPfx(read('rfc9579-a6.pfx'), '1234')).toEqual({ ok: false, problem: 'unreadable' })
  })
})

describe('a certificate whose RSA key is marked for RSA-PSS only (NSS certutil --pss)', () => {
  it('is refused with that reason, not as a key that does not match', async () => {
    expect(await refusal(read('nss-pss-signed.pfx'), 'corpus-pw')).toBe(
      "The certificate in 'certificate' holds the private key's public key, but marked for RSA-PSS signatures only (id-RSASSA-PSS, as NSS certutil --pss writes it), which token servers do not take as a client certificate: create the certificate again with a plain RSA public key (certutil without --pss; an RSA-PSS signature on the certificate itself is fine: openssl req -x509 -sigopt rsa_padding_mode:pss). The key can stay."
    )
  })

  it('is refused as not matching with another RSA key', async () => {
    const pss = readPfx(read('nss-pss-signed.pfx'), 'corpus-pw')
    const plain = readPfx(read('nss-default.pfx'), 'corpus-pw')
    if (!pss.ok || !plain.ok) throw new Error('fixtures')
    const keyPem = createPrivateKey({ key: plain.keys[0], format: 'der', type: 'pkcs8' })
      .export({ type: 'pkcs8', format: 'pem' })
      .toString()
    const certPem = new X509Certificate(pss.certificates[0]).toString()
    await expect(
      loadCredential({ kind: 'certificate', certificate: `${keyPem}\n${certPem}` })
    ).rejects.toThrow("The private key does not match the certificate in 'certificate'")
  })
})
