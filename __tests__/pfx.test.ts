// The PKCS#12 reader in-process: its parts (RC2, the BER reader), every corpus file, the message
// for each way a PFX can fail, the password trimmed of a trailing line break, and the password
// encoding decided per bag over many freshly made files.
import { afterAll, describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { createHash, createHmac, randomInt } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { checkCredential, loadCredential } from '../src/credential.js'
import { DerError, octets, parse } from '../src/der.js'
import { pkcs12Kdf, readPfx } from '../src/pfx.js'
import { decryptBlock, decryptRc2Cbc, expandKey } from '../src/rc2.js'
import { makeCert } from './support/certs.js'
import { ROOT } from './support/run-action.js'

const DIR = join(ROOT, '__tests__', 'fixtures', 'pfx')
const corpus = JSON.parse(readFileSync(join(DIR, 'corpus.json'), 'utf8')) as {
  name: string
  password?: string
  certificates?: string[]
}[]
const fixture = (name: string): Buffer => readFileSync(join(DIR, `${name}.pfx`))
const work = mkdtempSync(join(tmpdir(), 'pfx-unit-'))
const rsa = makeCert({ commonName: 'pfx unit' })
writeFileSync(join(work, 'key.pem'), rsa.keyPem)
writeFileSync(join(work, 'cert.pem'), rsa.certPem)

/** A PFX made by openssl from `rsa`, with these options. */
function openssl(password: string, ...options: string[]): Buffer {
  const out = join(work, 'out.pfx')
  const args = ['pkcs12', '-export', '-inkey', join(work, 'key.pem'), '-in', join(work, 'cert.pem')]
  execFileSync('openssl', [...args, '-passout', `pass:${password}`, ...options, '-out', out], {
    stdio: 'pipe'
  })
  return readFileSync(out)
}

/** What loading this PFX as the `certificate` input fails with. */
async function refusal(pfx: Buffer, password?: string): Promise<string> {
  try {
    await loadCredential({ kind: 'certificate', certificate: pfx.toString('base64'), password })
  } catch (error) {
    return (error as Error).message
  }
  throw new Error('loaded')
}

const tlv = (tag: number, ...parts: Buffer[]): Buffer => {
  const body = Buffer.concat(parts)
  const length =
    body.length < 0x80
      ? Buffer.from([body.length])
      : Buffer.from([0x82, body.length >> 8, body.length & 0xff])
  return Buffer.concat([Buffer.from([tag]), length, body])
}
const hex = (text: string): Buffer => Buffer.from(text.replace(/\s/g, ''), 'hex')

describe('RC2 (RFC 2268)', () => {
  it.each([
    ['0000000000000000', 63, '0000000000000000', 'ebb773f993278eff'],
    ['ffffffffffffffff', 64, 'ffffffffffffffff', '278b27e42e2f0d49'],
    ['3000000000000000', 64, '1000000000000001', '30649edf9be7d2c2'],
    ['88', 64, '0000000000000000', '61a8a244adacccf0'],
    ['88bca90e90875a', 64, '0000000000000000', '6ccf4308974c267f'],
    ['88bca90e90875a7f0f79c384627bafb2', 64, '0000000000000000', '1a807d272bbe5db1'],
    ['88bca90e90875a7f0f79c384627bafb2', 128, '0000000000000000', '2269552ab0f85ca6']
  ])('decrypts the test vector with key %s, %i effective bits', (key, bits, plain, cipher) => {
    const block = hex(cipher)
    decryptBlock(expandKey(hex(key), bits), block)
    expect(block.toString('hex')).toBe(plain)
  })

  it('answers undefined for a ciphertext whose padding is wrong', () => {
    expect(decryptRc2Cbc(hex('88'), 64, Buffer.alloc(8), hex('61a8a244adacccf0'))).toBeUndefined()
    expect(decryptRc2Cbc(hex('88'), 64, Buffer.alloc(8), Buffer.alloc(7))).toBeUndefined()
  })
})

describe('the BER reader', () => {
  it('reads indefinite lengths and joins a constructed OCTET STRING, keeping the bytes as given', () => {
    const ber = hex('30 80 24 80 04 02 aa bb 04 01 cc 00 00 02 01 05 00 00')
    const node = parse(ber)
    expect(node.bytes.equals(ber)).toBe(true)
    expect(node.children).toHaveLength(2)
    expect(octets(node.children[0]).toString('hex')).toBe('aabbcc')
    expect(node.children[1].content.toString('hex')).toBe('05')
  })

  it.each([
    ['a length past the end', '30 05 02 01 05'],
    ['a missing end-of-contents', '30 80 02 01 05'],
    ['trailing bytes', '30 03 02 01 05 00'],
    ['an indefinite length on a primitive', '04 80 00 00'],
    ['a high tag number', '1f 81 00 00']
  ])('refuses %s', (_, input) => {
    expect(() => parse(hex(input))).toThrow(DerError)
  })
})

describe('every corpus file, in-process', () => {
  it.each(corpus.map((f) => [f.name, f] as const))('opens %s', (name, entry) => {
    const result = readPfx(fixture(name), entry.password)
    if (!result.ok) throw new Error(`${name}: ${result.problem}`)
    for (const file of entry.certificates ?? []) {
      const der = readFileSync(join(DIR, file))
      expect(result.certificates.some((c) => c.equals(der))).toBe(true)
    }
  })
})

describe('messages', () => {
  it('says the password is wrong', async () => {
    expect(await refusal(fixture('openssl-default'), 'not-the-password')).toBe(
      "The PFX in 'certificate' could not be opened: 'certificate-password' is wrong."
    )
  })

  it('says the password is wrong for a file without a MAC, whatever the encryption', async () => {
    for (const name of [
      'openssl-nomac',
      'openssl-nomac-non-ascii',
      'keytool-cert-unencrypted-nomac'
    ]) {
      expect(await refusal(fixture(name), 'pässwort')).toBe(
        "The PFX in 'certificate' could not be opened: 'certificate-password' is wrong."
      )
    }
  })

  it('asks for the password when none is given', async () => {
    expect(await refusal(fixture('keytool-legacy'))).toBe(
      "The PFX in 'certificate' is protected by a password: set 'certificate-password'."
    )
  })

  it('opens a PFX made with the empty password when a password is given', async () => {
    const credential = await loadCredential({
      kind: 'certificate',
      certificate: fixture('openssl-empty-password').toString('base64'),
      password: 'unneeded'
    })
    expect(credential.chain).toHaveLength(1)
  })

  it('names an encryption it does not read', async () => {
    const pfx = openssl('pw', '-nomac', '-keypbe', 'PBE-SHA1-3DES', '-certpbe', 'PBE-SHA1-3DES')
    const oid3des = hex('2a864886f70d010c0103')
    const at = pfx.indexOf(oid3des)
    expect(at).toBeGreaterThan(0)
    pfx[at + oid3des.length - 1] = 0x01 // pbeWithSHAAnd128BitRC4
    expect(await refusal(pfx, 'pw')).toBe(
      "The PFX in 'certificate' uses pbeWithSHAAnd128BitRC4 (1.2.840.113549.1.12.1.1), which this action does not read: export it again with AES-256 (openssl pkcs12 -export, or Windows' AES256-SHA256 option)."
    )
  })

  it('names an unknown MAC algorithm by its OID', async () => {
    const pfx = openssl('pw')
    const sha256 = hex('0609608648016503040201')
    const at = pfx.lastIndexOf(sha256)
    pfx[at + sha256.length - 1] = 0x09
    expect(await refusal(pfx, 'pw')).toBe(
      "The PFX in 'certificate' uses OID 2.16.840.1.101.3.4.2.9, which this action does not read: export it again with AES-256 (openssl pkcs12 -export, or Windows' AES256-SHA256 option)."
    )
  })

  it('refuses an iteration count beyond what any tool writes, before deriving anything', async () => {
    const data = '06092a864886f70d010701'
    const authSafe = tlv(0x30)
    const pfx = tlv(
      0x30,
      hex('020103'),
      tlv(0x30, hex(data), tlv(0xa0, tlv(0x04, authSafe))),
      tlv(
        0x30,
        tlv(0x30, tlv(0x30, hex('0609608648016503040201 0500')), tlv(0x04, Buffer.alloc(32))),
        tlv(0x04, Buffer.alloc(8)),
        hex('02 04 7f ff ff ff')
      )
    )
    expect(readPfx(pfx, 'pw')).toEqual({ ok: false, problem: 'iterations', detail: '2147483647' })
    expect(await refusal(pfx, 'pw')).toBe(
      "The PFX in 'certificate' asks for 2147483647 key derivation iterations, more than any tool writes (at most 10,000,000 are taken): export it again."
    )
  })

  it('says a cut-short file is damaged', async () => {
    const pfx = fixture('openssl-default')
    expect(await refusal(pfx.subarray(0, pfx.length - 100), 'corpus-pw')).toBe(
      "Input 'certificate' is not a PKCS#12/PFX file that can be read (damaged or truncated): export it again."
    )
  })

  it('says a DER structure that is not a PFX is neither PEM nor PFX', async () => {
    const notPfx = tlv(0x30, hex('020102'), tlv(0x04, Buffer.alloc(80)))
    expect(await refusal(notPfx, 'pw')).toBe(
      "Input 'certificate' is neither PEM (-----BEGIN CERTIFICATE----- and a private key) nor a readable PKCS#12/PFX file."
    )
  })
})

describe("'certificate-password' with a line break or spaces around it", () => {
  const options = {
    algorithm: 'PS256' as const,
    entra: true,
    input: 'certificate',
    now: new Date()
  }

  it('opens the PFX with the trimmed password, and warns', async () => {
    const credential = await loadCredential({
      kind: 'certificate',
      certificate: fixture('openssl-default').toString('base64'),
      password: 'corpus-pw\n'
    })
    expect(checkCredential(credential, options)).toEqual([
      "'certificate-password' has a line break or spaces around it that are not part of the password: the PFX in 'certificate' opened without them. Remove them from the secret."
    ])
  })

  it('takes a password whose spaces belong to it as given, without a warning', async () => {
    const credential = await loadCredential({
      kind: 'certificate',
      certificate: openssl(' spaced pw ').toString('base64'),
      password: ' spaced pw '
    })
    expect(checkCredential(credential, options)).toEqual([])
  })

  it('says so when the password is wrong with and without them', async () => {
    expect(await refusal(fixture('openssl-default'), ' wrong\r\n')).toBe(
      "The PFX in 'certificate' could not be opened: 'certificate-password' is wrong (it has a line break or spaces around it; without them it is wrong too)."
    )
  })

  it('decrypts a PEM key with the trimmed password, and warns', async () => {
    const key = rsa.key
      .export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'pem-pw' })
      .toString()
    const credential = await loadCredential({
      kind: 'certificate',
      certificate: key + rsa.certPem,
      password: 'pem-pw\r\n'
    })
    expect(credential.warnings).toEqual([
      "'certificate-password' has a line break or spaces around it that are not part of the password: the private key in 'certificate' opened without them. Remove them from the secret."
    ])
  })

  it('says so when a PEM key password is wrong with and without them', async () => {
    const key = rsa.key
      .export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'pem-pw' })
      .toString()
    await expect(
      loadCredential({ kind: 'certificate', certificate: key + rsa.certPem, password: 'nope\n' })
    ).rejects.toThrow(
      "The private key in 'certificate' could not be decrypted: 'certificate-password' is wrong (it has a line break or spaces around it; without them it is wrong too)."
    )
  })
})

describe('passwords as older OpenSSL encoded them', () => {
  it('opens a PFX whose MAC put each UTF-8 byte of the password in a BMPString unit', () => {
    // OpenSSL before 1.1.0 wrote non-ASCII passwords so; OpenSSL 3 still opens such files.
    const plain = openssl('', '-keypbe', 'NONE', '-certpbe', 'NONE', '-nomac')
    const [, authSafeInfo] = parse(plain).children
    const content = octets(authSafeInfo.children[1].children[0])
    const password = 'pässwort-€'
    const bytes = Buffer.from([...Buffer.from(password, 'utf8')].flatMap((b) => [0, b]))
    const salt = Buffer.alloc(8, 7)
    const key = pkcs12Kdf('sha1', 64, Buffer.concat([bytes, Buffer.alloc(2)]), salt, 2048, 3, 20)
    const mac = createHmac('sha1', key).update(content).digest()
    const pfx = tlv(
      0x30,
      hex('020103'),
      authSafeInfo.bytes,
      tlv(
        0x30,
        tlv(0x30, tlv(0x30, hex('06052b0e03021a 0500')), tlv(0x04, mac)),
        tlv(0x04, salt),
        hex('02020800')
      )
    )
    const result = readPfx(pfx, password)
    expect(result.ok && result.certificates[0].equals(rsa.cert.raw)).toBe(true)
    expect(readPfx(pfx, 'pässwort-$')).toEqual({ ok: false, problem: 'password' })
  })
})

describe('byte-exact certificates', () => {
  it('computes the thumbprints and x5c from a BER certificate as given, not from its re-encoding', async () => {
    // The outer SEQUENCE with an indefinite length: OpenSSL reads it and re-encodes it as DER.
    const der = rsa.cert.raw
    const ber = Buffer.concat([hex('3080'), der.subarray(4), Buffer.alloc(2)])
    const pem = `-----BEGIN CERTIFICATE-----\n${ber.toString('base64')}\n-----END CERTIFICATE-----\n`
    const credential = await loadCredential({ kind: 'certificate', certificate: rsa.keyPem + pem })
    expect(credential.chain[0].raw.equals(der)).toBe(true)
    expect(credential.chainDer).toEqual([ber])
    expect(credential.x5tS256).toBe(createHash('sha256').update(ber).digest('base64url'))
    expect(credential.x5t).toBe(createHash('sha1').update(ber).digest('base64url'))
    expect(credential.thumbprints.sha1).toBe(
      createHash('sha1').update(ber).digest('hex').toUpperCase()
    )
  })
})

describe('password encoding decided per bag', () => {
  const characters = 'aZ9 äöüßéèçñ€£¥字漢😀🔑ÆØÅ'
  const randomPassword = (): string =>
    Array.from(
      { length: 6 + randomInt(10) },
      () => [...characters][randomInt([...characters].length)]
    ).join('')
  const der = createHash('sha256').update(rsa.cert.raw).digest('hex')
  const variants = [
    ['-keypbe', 'AES-256-CBC', '-certpbe', 'PBE-SHA1-3DES'],
    ['-keypbe', 'PBE-SHA1-3DES', '-certpbe', 'AES-128-CBC'],
    ['-legacy', '-keypbe', 'AES-256-CBC'],
    ['-nomac', '-keypbe', 'AES-256-CBC', '-certpbe', 'PBE-SHA1-3DES'],
    ['-nomac', '-legacy', '-keypbe', 'AES-192-CBC']
  ]

  it('opens 40 freshly made files with non-ASCII passwords, mixing PBES2 and PBES1 bags', () => {
    const failures: string[] = []
    for (let i = 0; i < 40; i++) {
      const password = randomPassword()
      const options = variants[i % variants.length]
      const result = readPfx(openssl(password, ...options), password)
      const leaf = result.ok
        ? createHash('sha256').update(result.certificates[0]).digest('hex')
        : ''
      if (!result.ok || result.keys.length !== 1 || leaf !== der) {
        failures.push(`${options.join(' ')} with ${JSON.stringify(password)}`)
      }
    }
    expect(failures).toEqual([])
  })

  it('refuses each of them with a wrong password, every time', () => {
    const answers = new Set<string>()
    for (let i = 0; i < 10; i++) {
      const pfx = openssl(randomPassword(), ...variants[i % variants.length])
      const result = readPfx(pfx, `${randomPassword()}x`)
      answers.add(result.ok ? 'opened' : result.problem)
    }
    expect([...answers]).toEqual(['password'])
  })
})

afterAll(() => rmSync(work, { recursive: true, force: true }))
