// The PKCS#12 reader in-process: its parts (RC2, the BER reader), every corpus file, the message
// for each way a PFX can fail, the password trimmed of a trailing line break, the password encoding
// decided per bag over many freshly made files, the key derivation against OpenSSL's, and
// hand-built structures for each answer readPfx gives (bags, MACs, PBES1/PBES2 parameters).
import { afterAll, beforeEach, describe, expect, it, jest } from '@jest/globals'
import { createCipheriv, createHash, createHmac, pbkdf2Sync, randomInt } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { checkCredential, loadCredential } from '../src/keys/credential.js'
import type * as Der from '../src/keys/pkcs12/der.js'
import type * as Pfx from '../src/keys/pkcs12/pfx.js'
import type * as Rc2 from '../src/keys/pkcs12/rc2.js'
import { rc4 } from '../src/keys/pkcs12/rc4.js'
import { makeCert, runOpenssl } from './support/certs.js'
import { ROOT } from './support/run-action.js'

// Every test loads the reader afresh: its OID tables and RC2's PITABLE are built when the module
// is evaluated, and mutation runs credit that code to the tests that were running then, so each
// test here counts as one that covers them. loadCredential imports the fresh reader too.
let DerError: typeof Der.DerError
let octets: typeof Der.octets
let parse: typeof Der.parse
let pkcs12Kdf: typeof Pfx.pkcs12Kdf
let readPfx: typeof Pfx.readPfx
let decryptBlock: typeof Rc2.decryptBlock
let decryptRc2Cbc: typeof Rc2.decryptRc2Cbc
let expandKey: typeof Rc2.expandKey
beforeEach(async () => {
  jest.resetModules()
  ;({ DerError, octets, parse } = await import('../src/keys/pkcs12/der.js'))
  ;({ pkcs12Kdf, readPfx } = await import('../src/keys/pkcs12/pfx.js'))
  ;({ decryptBlock, decryptRc2Cbc, expandKey } = await import('../src/keys/pkcs12/rc2.js'))
})

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
  runOpenssl([...args, '-passout', `pass:${password}`, ...options, '-out', out])
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

  // Ciphertexts from `openssl enc -rc2-cbc -provider legacy` (-nopad for the chosen last blocks).
  const key128 = hex('88bca90e90875a7f0f79c384627bafb2')
  const iv = hex('0001020304050607')

  it('decrypts three chained blocks and removes the padding', () => {
    const cipher = hex('04650b982a41d9c1f267da63e5d9c7d018a854b5f22360a4')
    expect(decryptRc2Cbc(key128, 128, iv, cipher)?.toString()).toBe('ABCDEFGHIJKLMNOP')
  })

  it('decrypts with 40 and 64 effective bits, as the legacy PFX ciphers use them', () => {
    const cipher40 = hex('2b4556cda91b1a8aad2460ad63432558')
    expect(decryptRc2Cbc(hex('0102030405'), 40, iv, cipher40)?.toString()).toBe('RC2 forty bits!')
    const cipher64 = hex('535b17d25976fdf5e0d49c836b7e7716')
    expect(decryptRc2Cbc(hex('0102030405060708'), 64, iv, cipher64)?.toString()).toBe(
      'RC2 forty bits!'
    )
  })

  it.each([
    ['a whole block of padding', 'b8c70ac1dc720ade', ''],
    ['two octets of padding', 'bab0d2d49de4e3f6', '414141414141'],
    ['a last octet of 0', '413caeeaeded360f', undefined],
    ['a last octet of 9', '315a2d87c2b95348', undefined],
    ['nine octets of 9 over two blocks', '315a2d87c2b9534812634ec1daf7b957', undefined],
    ['padding octets that differ (01 02)', '55feb4abbe6c6e8a', undefined],
    ['padding octets that differ (41 03 03)', '76d14546aaba44db', undefined]
  ])('answers for %s', (_, cipher, plain) => {
    expect(decryptRc2Cbc(key128, 128, iv, hex(cipher))?.toString('hex')).toBe(plain)
  })

  it('answers undefined for no data or an IV that is not 8 octets', () => {
    expect(decryptRc2Cbc(key128, 128, iv, Buffer.alloc(0))).toBeUndefined()
    const whole = hex('b8c70ac1dc720ade')
    expect(decryptRc2Cbc(key128, 128, iv.subarray(0, 7), whole)).toBeUndefined()
    expect(decryptRc2Cbc(key128, 128, Buffer.concat([iv, iv]), whole)).toBeUndefined()
  })

  it('answers undefined for data that is not whole blocks, even where its end would pass as padding', () => {
    const whole = hex('b8c70ac1dc720ade')
    // A ninth octet that, decrypted as a block of its own and chained, would end in padding 01.
    const K = expandKey(key128, 128)
    const ninth = [...Array(256).keys()].find((octet) => {
      const block = Buffer.from([octet, 0, 0, 0, 0, 0, 0, 0])
      decryptBlock(K, block)
      return (block[0] ^ whole[0]) === 1
    })
    expect(ninth).toBeDefined()
    const data = Buffer.concat([whole, Buffer.from([ninth!])])
    expect(decryptRc2Cbc(key128, 128, iv, data)).toBeUndefined()
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
  // RFC 9579's invalid vectors are the files that must not open.
  const opening = corpus.filter((f) => !/^rfc9579-a[4-6]$/.test(f.name))
  it.each(opening.map((f) => [f.name, f] as const))('opens %s', (name, entry) => {
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

  it('names an encryption it does not read by its name', async () => {
    const pfx = openssl('pw', '-nomac')
    const aes256 = hex('060960864801650304012a')
    const at = pfx.indexOf(aes256)
    expect(at).toBeGreaterThan(0)
    pfx[at + aes256.length - 1] = 0x2e // AES-256-GCM
    expect(await refusal(pfx, 'pw')).toBe(
      "The PFX in 'certificate' uses AES-256-GCM (2.16.840.1.101.3.4.1.46), which this action does not read: export it again with AES-256 (openssl pkcs12 -export, or Windows' AES256-SHA256 option)."
    )
  })

  it('names a MAC digest it does not read by its name, and an unknown one by its OID', async () => {
    const sha256 = hex('0609608648016503040201')
    const patched = (last: number): Buffer => {
      const pfx = openssl('pw')
      pfx[pfx.lastIndexOf(sha256) + sha256.length - 1] = last
      return pfx
    }
    expect(await refusal(patched(0x09), 'pw')).toBe(
      "The PFX in 'certificate' uses SHA3-384 (2.16.840.1.101.3.4.2.9), which this action does not read: export it again with AES-256 (openssl pkcs12 -export, or Windows' AES256-SHA256 option)."
    )
    expect(await refusal(patched(0x0b), 'pw')).toBe(
      "The PFX in 'certificate' uses OID 2.16.840.1.101.3.4.2.11, which this action does not read: export it again with AES-256 (openssl pkcs12 -export, or Windows' AES256-SHA256 option)."
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

describe('the PKCS#12 key derivation', () => {
  // Expected values from `openssl kdf PKCS12KDF` with the BMPString password as hexpass.
  const bmp = (text: string): Buffer =>
    Buffer.concat([Buffer.from(text, 'utf16le').swap16(), Buffer.alloc(2)])
  it.each([
    [
      'sha1',
      64,
      'smeg',
      '0a58cf64530d823f',
      1,
      1,
      24,
      '8aaae6297b6cb04642ab5b077851284eb7128f1a2a7fbca3'
    ],
    ['sha1', 64, 'smeg', '0a58cf64530d823f', 1, 2, 8, '79993dfe048d3b76'],
    [
      'sha1',
      64,
      'queeg',
      '1682c0fc5b3f7ec5',
      1000,
      1,
      24,
      '483dd6e919d7de2e8e648ba8f862f3fbfbdc2bcb2c02957f'
    ],
    [
      'sha256',
      64,
      'a-password-longer-than-one-block-of-sixty-four-bytes-in-utf-16',
      '0102030405060708090a',
      3,
      3,
      80,
      '521c0a17979847b6c325d3c4a362db93e48a8242dc698f9c79203c586ddc85f4a1a84118c2cc2ef5ba4bc7d4815e8d2233fdb12bbc7905cf530db7d13a821fa568b31e51f9c3068babd171b55e0d234e'
    ],
    [
      'sha512',
      128,
      'pw',
      'ff'.repeat(72),
      2,
      1,
      200,
      'bec37f7a2976b90c93655aaf6fd6d13d393ba8e41f799ffcf9930753ea7f57bf30b68518596e7d6ab21ae860ff18b22ed47a05e0315aaf065792e872d767a9cb587ccad3f61365f5d5ec617059acda9402bcd4938a577b494223c672c5965c1ebabb9852e2e780ad8600bf7957cca9717bc606c98ac3b38bdb8daf6f998e381409a0fb504a4e3db3681ca88a104b8a693188f5893871abac7a9488fd402d0168bfc8d5a8286068437e431386be716663ee46019022edcd20cb011839af4f956c2f9010a35c800b2d'
    ]
  ])(
    'derives with %s (block %i), password %s, salt %s, %i iterations, purpose %i, %i octets',
    (hashName, blockSize, pass, salt, iterations, purpose, length, expected) => {
      const key = pkcs12Kdf(hashName, blockSize, bmp(pass), hex(salt), iterations, purpose, length)
      expect(key.toString('hex')).toBe(expected)
    }
  )
})

describe('hand-built PFX structures', () => {
  const O = {
    data: '1.2.840.113549.1.7.1',
    signedData: '1.2.840.113549.1.7.2',
    envelopedData: '1.2.840.113549.1.7.3',
    encryptedData: '1.2.840.113549.1.7.6',
    keyBag: '1.2.840.113549.1.12.10.1.1',
    shroudedKeyBag: '1.2.840.113549.1.12.10.1.2',
    certBag: '1.2.840.113549.1.12.10.1.3',
    crlBag: '1.2.840.113549.1.12.10.1.4',
    safeContentsBag: '1.2.840.113549.1.12.10.1.6',
    x509: '1.2.840.113549.1.9.22.1',
    sdsi: '1.2.840.113549.1.9.22.2',
    pbes2: '1.2.840.113549.1.5.13',
    pbkdf2: '1.2.840.113549.1.5.12',
    pbe3des: '1.2.840.113549.1.12.1.3',
    sha1: '1.3.14.3.2.26',
    hmacSha1: '1.2.840.113549.2.7',
    hmacSha256: '1.2.840.113549.2.9',
    aes256: '2.16.840.1.101.3.4.1.42'
  }
  /** HMAC PRFs of PBKDF2 (RFC 8018 appendix B.1.2) and their hashes. */
  const HMACS: [string, string][] = [
    ['1.2.840.113549.2.7', 'sha1'],
    ['1.2.840.113549.2.8', 'sha224'],
    ['1.2.840.113549.2.9', 'sha256'],
    ['1.2.840.113549.2.10', 'sha384'],
    ['1.2.840.113549.2.11', 'sha512'],
    ['1.2.840.113549.2.12', 'sha512-224'],
    ['1.2.840.113549.2.13', 'sha512-256']
  ]
  const HMAC_HASHES: Record<string, string> = Object.fromEntries(HMACS)
  const seq = (...parts: Buffer[]): Buffer => tlv(0x30, ...parts)
  const ctx0 = (...parts: Buffer[]): Buffer => tlv(0xa0, ...parts)
  const octet = (bytes: Buffer): Buffer => tlv(0x04, bytes)
  const int = (n: number): Buffer => {
    const bytes: number[] = []
    for (let v = n; bytes.length === 0 || v > 0; v = Math.floor(v / 256)) bytes.unshift(v % 256)
    if (bytes[0] & 0x80) bytes.unshift(0)
    return tlv(0x02, Buffer.from(bytes))
  }
  const oidOf = (dotted: string): Buffer => {
    const [a, b, ...rest] = dotted.split('.').map(Number)
    const bytes: number[] = []
    for (const n of [40 * a + b, ...rest]) {
      const groups = [n & 0x7f]
      for (let v = Math.floor(n / 128); v > 0; v = Math.floor(v / 128))
        groups.unshift((v & 0x7f) | 0x80)
      bytes.push(...groups)
    }
    return tlv(0x06, Buffer.from(bytes))
  }
  const NULL = hex('0500')
  const bmp = (text: string): Buffer =>
    Buffer.concat([Buffer.from(text, 'utf16le').swap16(), Buffer.alloc(2)])
  const NULL_PASSWORD = Buffer.alloc(0)

  const key1 = rsa.key.export({ type: 'pkcs8', format: 'der' })
  const other = makeCert({ commonName: 'pfx unit other' })
  const key2 = other.key.export({ type: 'pkcs8', format: 'der' })
  const cert1 = rsa.cert.raw
  const cert2 = other.cert.raw

  const bag = (id: string, value: Buffer): Buffer => seq(oidOf(id), ctx0(value))
  const keyBag = (pkcs8: Buffer): Buffer => bag(O.keyBag, pkcs8)
  const certBag = (der: Buffer, type = O.x509): Buffer =>
    bag(O.certBag, seq(oidOf(type), ctx0(octet(der))))
  const shrouded = (algorithm: Buffer, encrypted: Buffer): Buffer =>
    bag(O.shroudedKeyBag, seq(algorithm, octet(encrypted)))
  const dataInfo = (...bags: Buffer[]): Buffer => seq(oidOf(O.data), ctx0(octet(seq(...bags))))
  const encryptedInfo = (algorithm: Buffer, content: Buffer): Buffer =>
    seq(oidOf(O.encryptedData), ctx0(seq(int(0), seq(oidOf(O.data), algorithm, content))))

  /** A PFX of these ContentInfos, with a MAC made by `mac` over the AuthenticatedSafe, if given. */
  function pfxOf(infos: Buffer[], mac?: (authSafe: Buffer) => Buffer, version = 3): Buffer {
    const authSafe = seq(...infos)
    return seq(
      int(version),
      seq(oidOf(O.data), ctx0(octet(authSafe))),
      ...(mac ? [mac(authSafe)] : [])
    )
  }
  /** [OID, node:crypto name, block size] of a MAC digest. */
  type Digest = [string, string, number]
  /**
   * A MacData with this BMPString password, SHA-1 unless `digest` says otherwise; `count`
   * undefined leaves the count out.
   */
  const macData =
    (
      pass: Buffer,
      count?: number,
      derive = count ?? 1,
      cut = 0,
      digest: Digest = [O.sha1, 'sha1', 64]
    ) =>
    (authSafe: Buffer): Buffer => {
      const [id, hashName, blockSize] = digest
      const salt = Buffer.alloc(8, 3)
      const size = createHash(hashName).digest().length
      const key = pkcs12Kdf(hashName, blockSize, pass, salt, derive, 3, size)
      const mac = createHmac(hashName, key).update(authSafe).digest().subarray(cut)
      const parts = [seq(seq(oidOf(id), NULL), octet(mac)), octet(salt)]
      return seq(...parts, ...(count === undefined ? [] : [int(count)]))
    }

  /** PKCS#12 PBES1 with 3DES: the AlgorithmIdentifier and the ciphertext. */
  function pbe3des(plain: Buffer, pass: Buffer, count = 2, derive = count): [Buffer, Buffer] {
    const salt = Buffer.alloc(8, 9)
    const key = pkcs12Kdf('sha1', 64, pass, salt, derive, 1, 24)
    const iv = pkcs12Kdf('sha1', 64, pass, salt, derive, 2, 8)
    const cipher = createCipheriv('des-ede3-cbc', key, iv)
    const encrypted = Buffer.concat([cipher.update(plain), cipher.final()])
    return [seq(oidOf(O.pbe3des), seq(octet(salt), int(count))), encrypted]
  }

  interface Pbes2Options {
    count?: number
    /** The count written in the parameters, when not the one used. */
    declared?: number
    keyLength?: number
    prf?: string | null
    kdf?: string
    scheme?: string
    salt?: Buffer
  }
  /** PBES2 with PBKDF2 and AES-256-CBC; the options change what the parameters say. */
  function pbes2(plain: Buffer, password: string, options: Pbes2Options = {}): [Buffer, Buffer] {
    const { count = 2, keyLength, prf = O.hmacSha256, kdf = O.pbkdf2, scheme = O.aes256 } = options
    const salt = Buffer.alloc(16, 5)
    const iv = Buffer.alloc(16, 6)
    const digest = prf === null ? 'sha1' : (HMAC_HASHES[prf] ?? 'sha256')
    const key = pbkdf2Sync(Buffer.from(password, 'utf8'), salt, count, 32, digest)
    const cipher = createCipheriv('aes-256-cbc', key, iv)
    const encrypted = Buffer.concat([cipher.update(plain), cipher.final()])
    const kdfParams = seq(
      options.salt ?? octet(salt),
      int(options.declared ?? count),
      ...(keyLength === undefined ? [] : [int(keyLength)]),
      ...(prf === null ? [] : [seq(oidOf(prf), NULL)])
    )
    const algorithm = seq(
      oidOf(O.pbes2),
      seq(seq(oidOf(kdf), kdfParams), seq(oidOf(scheme), octet(iv)))
    )
    return [algorithm, encrypted]
  }

  it('reads key bags, certificate bags and nested SafeContents, skipping CRL and SDSI bags', () => {
    const [algorithm, encrypted] = pbes2(key2, 'pw')
    const pfx = pfxOf([
      dataInfo(
        keyBag(key1),
        certBag(cert1),
        certBag(Buffer.from('sdsi certificate'), O.sdsi),
        bag(O.crlBag, seq(oidOf('1.2.840.113549.1.9.23.1'), ctx0(octet(Buffer.from('crl'))))),
        bag(O.safeContentsBag, seq(certBag(cert2), shrouded(algorithm, encrypted)))
      )
    ])
    expect(readPfx(pfx, 'pw')).toEqual({
      ok: true,
      keys: [key1, key2],
      certificates: [cert1, cert2]
    })
  })

  it('answers not-pfx for what is no SEQUENCE, unreadable for a SEQUENCE cut short', () => {
    expect(readPfx(Buffer.from('not a PFX at all'), 'pw')).toEqual({
      ok: false,
      problem: 'not-pfx'
    })
    const pfx = pfxOf([dataInfo(certBag(cert1))])
    expect(readPfx(pfx.subarray(0, pfx.length - 1))).toEqual({ ok: false, problem: 'unreadable' })
  })

  it('answers not-pfx for a version other than 3 and for a ContentInfo without content', () => {
    expect(readPfx(pfxOf([dataInfo(certBag(cert1))], undefined, 2))).toEqual({
      ok: false,
      problem: 'not-pfx'
    })
    expect(readPfx(seq(int(3), seq(oidOf(O.data), ctx0())))).toEqual({
      ok: false,
      problem: 'not-pfx'
    })
  })

  it('names a public-key integrity mode and an authenticated safe in an unknown form', () => {
    const signed = seq(int(3), seq(oidOf(O.signedData), ctx0(seq())))
    expect(readPfx(signed, 'pw')).toEqual({
      ok: false,
      problem: 'unsupported',
      detail: 'public-key integrity (signedData) (1.2.840.113549.1.7.2)'
    })
    const enveloped = pfxOf([dataInfo(certBag(cert1)), seq(oidOf(O.envelopedData), ctx0(seq()))])
    expect(readPfx(enveloped, 'pw')).toEqual({
      ok: false,
      problem: 'unsupported',
      detail: 'public-key privacy (envelopedData) (1.2.840.113549.1.7.3)'
    })
    expect(readPfx(pfxOf([seq(oidOf('1.2.3.4'), ctx0(seq()))]), 'pw')).toEqual({
      ok: false,
      problem: 'unsupported',
      detail: 'OID 1.2.3.4'
    })
  })

  it('answers unreadable for an AuthenticatedSafe that is not BER', () => {
    const pfx = seq(int(3), seq(oidOf(O.data), ctx0(octet(hex('30 05 02 01')))))
    expect(readPfx(pfx, 'pw')).toEqual({ ok: false, problem: 'unreadable' })
  })

  it('reads encrypted content as a primitive or a constructed [0], nothing else', () => {
    const [algorithm, encrypted] = pbes2(seq(certBag(cert1)), 'pw')
    const primitive = pfxOf([encryptedInfo(algorithm, tlv(0x80, encrypted))])
    expect(readPfx(primitive, 'pw')).toEqual({ ok: true, keys: [], certificates: [cert1] })
    const half = encrypted.length / 2
    const segments = tlv(0xa0, octet(encrypted.subarray(0, half)), octet(encrypted.subarray(half)))
    expect(readPfx(pfxOf([encryptedInfo(algorithm, segments)]), 'pw')).toEqual({
      ok: true,
      keys: [],
      certificates: [cert1]
    })
    for (const content of [octet(encrypted), tlv(0x81, encrypted), Buffer.alloc(0)]) {
      expect(readPfx(pfxOf([encryptedInfo(algorithm, content)]), 'pw')).toEqual({
        ok: false,
        problem: 'unreadable'
      })
    }
  })

  it('answers password when the right key decrypts to something that is not BER', () => {
    const [algorithm, encrypted] = pbes2(Buffer.from('valid padding, no BER'), 'pw')
    expect(readPfx(pfxOf([encryptedInfo(algorithm, tlv(0x80, encrypted))]), 'pw')).toEqual({
      ok: false,
      problem: 'password'
    })
  })

  it('checks the MAC even when nothing is encrypted', () => {
    const pfx = pfxOf([dataInfo(certBag(cert1))], macData(bmp('pw'), 1))
    expect(readPfx(pfx, 'pw')).toEqual({ ok: true, keys: [], certificates: [cert1] })
    expect(readPfx(pfx, 'wrong')).toEqual({ ok: false, problem: 'password' })
    expect(readPfx(fixture('openssl-unencrypted'), 'wrong')).toEqual({
      ok: false,
      problem: 'password'
    })
  })

  it('answers password, not unreadable, for a MAC of another length', () => {
    const pfx = pfxOf([dataInfo(certBag(cert1))], macData(bmp('pw'), 1, 1, 1))
    expect(readPfx(pfx, 'pw')).toEqual({ ok: false, problem: 'password' })
  })

  it('lets the MAC settle the password: bags under another one do not open', () => {
    const [algorithm, encrypted] = pbe3des(key1, bmp(''))
    const pfx = pfxOf([dataInfo(shrouded(algorithm, encrypted))], macData(bmp('pw'), 1))
    expect(readPfx(pfx, 'pw')).toEqual({ ok: false, problem: 'password' })
  })

  it('opens bags under the empty password behind a MAC made with the null one, and the reverse', () => {
    const [emptyAlgorithm, emptyEncrypted] = pbe3des(key1, bmp(''))
    const nullMac = pfxOf(
      [dataInfo(shrouded(emptyAlgorithm, emptyEncrypted))],
      macData(NULL_PASSWORD, 1)
    )
    expect(readPfx(nullMac)).toEqual({ ok: true, keys: [key1], certificates: [] })
    expect(readPfx(nullMac, 'unneeded')).toEqual({ ok: true, keys: [key1], certificates: [] })
    const [nullAlgorithm, nullEncrypted] = pbe3des(key1, NULL_PASSWORD)
    const emptyMac = pfxOf([dataInfo(shrouded(nullAlgorithm, nullEncrypted))], macData(bmp(''), 1))
    expect(readPfx(emptyMac)).toEqual({ ok: true, keys: [key1], certificates: [] })
  })

  it('refuses an iteration count of 0 in the MAC and in a PBES1 bag', () => {
    const zeroMac = pfxOf([dataInfo(certBag(cert1))], macData(bmp('pw'), 0, 1))
    expect(readPfx(zeroMac, 'pw')).toEqual({ ok: false, problem: 'unreadable' })
    const [algorithm, encrypted] = pbe3des(key1, bmp('pw'), 0, 1)
    expect(readPfx(pfxOf([dataInfo(shrouded(algorithm, encrypted))]), 'pw')).toEqual({
      ok: false,
      problem: 'unreadable'
    })
  })

  it('takes a MAC without an iteration count as one iteration', () => {
    const pfx = pfxOf([dataInfo(certBag(cert1))], macData(bmp('pw'), undefined, 1))
    expect(readPfx(pfx, 'pw')).toEqual({ ok: true, keys: [], certificates: [cert1] })
  })

  it('takes 10,000,000 iterations as the limit and refuses one more, before deriving', () => {
    // An unknown PRF stops the read after the count is checked, before any derivation.
    const answer = (declared: number): unknown => {
      const [algorithm, encrypted] = pbes2(key1, 'pw', { declared, prf: '1.2.840.113549.2.6' })
      return readPfx(pfxOf([dataInfo(shrouded(algorithm, encrypted))]), 'pw')
    }
    expect(answer(10_000_000)).toEqual({
      ok: false,
      problem: 'unsupported',
      detail: 'OID 1.2.840.113549.2.6'
    })
    expect(answer(10_000_001)).toEqual({
      ok: false,
      problem: 'iterations',
      detail: '10000001'
    })
  })

  it('reads PBES2 with the default PRF (HMAC-SHA1) and with a key length that matches the cipher', () => {
    for (const options of [{ prf: null }, { keyLength: 32 }, { keyLength: 32, prf: O.hmacSha1 }]) {
      const [algorithm, encrypted] = pbes2(key1, 'pw', options)
      expect(readPfx(pfxOf([dataInfo(shrouded(algorithm, encrypted))]), 'pw')).toEqual({
        ok: true,
        keys: [key1],
        certificates: []
      })
    }
  })

  it.each([
    [
      'a key length other than the cipher’s',
      { keyLength: 16 },
      { ok: false, problem: 'unreadable' }
    ],
    [
      'a key derivation other than PBKDF2',
      { kdf: '1.3.6.1.4.1.11591.4.11' },
      { ok: false, problem: 'unsupported', detail: 'scrypt (1.3.6.1.4.1.11591.4.11)' }
    ],
    [
      'RC2 under PBES2',
      { scheme: '1.2.840.113549.3.2' },
      { ok: false, problem: 'unsupported', detail: 'RC2-CBC under PBES2 (1.2.840.113549.3.2)' }
    ],
    [
      'DES under PBES2',
      { scheme: '1.3.14.3.2.7' },
      { ok: false, problem: 'unsupported', detail: 'DES-CBC (1.3.14.3.2.7)' }
    ],
    [
      'a salt source instead of a salt',
      { salt: seq(oidOf('1.2.840.113549.1.5.12.1'), NULL) },
      { ok: false, problem: 'unsupported', detail: 'PBKDF2 with a salt source' }
    ],
    [
      'an unknown PRF',
      { prf: '1.2.840.113549.2.6' },
      { ok: false, problem: 'unsupported', detail: 'OID 1.2.840.113549.2.6' }
    ]
  ])('answers for PBES2 with %s', (_, options, answer) => {
    const [algorithm, encrypted] = pbes2(key1, 'pw', options)
    expect(readPfx(pfxOf([dataInfo(shrouded(algorithm, encrypted))]), 'pw')).toEqual(answer)
  })

  it.each(HMACS)('reads PBES2 with the PRF %s (HMAC-%s)', (prf) => {
    const [algorithm, encrypted] = pbes2(key1, 'pw', { prf })
    expect(readPfx(pfxOf([dataInfo(shrouded(algorithm, encrypted))]), 'pw')).toEqual({
      ok: true,
      keys: [key1],
      certificates: []
    })
  })

  it.each([
    ['1.3.14.3.2.26', 'sha1', 64],
    ['2.16.840.1.101.3.4.2.4', 'sha224', 64],
    ['2.16.840.1.101.3.4.2.1', 'sha256', 64],
    ['2.16.840.1.101.3.4.2.2', 'sha384', 128],
    ['2.16.840.1.101.3.4.2.3', 'sha512', 128],
    ['2.16.840.1.101.3.4.2.5', 'sha512-224', 128],
    ['2.16.840.1.101.3.4.2.6', 'sha512-256', 128],
    ['1.2.840.113549.2.5', 'md5', 64]
  ] as Digest[])('checks a MAC with the digest %s (%s, blocks of %i octets)', (...digest) => {
    const pfx = pfxOf([dataInfo(certBag(cert1))], macData(bmp('pw'), 1, 1, 0, digest))
    expect(readPfx(pfx, 'pw')).toEqual({ ok: true, keys: [], certificates: [cert1] })
    expect(readPfx(pfx, 'other')).toEqual({ ok: false, problem: 'password' })
  })

  it.each([
    ['1.2.840.113549.1.5.11', 'pbeWithSHA1AndRC2-CBC'],
    ['1.2.840.113549.1.5.3', 'pbeWithMD5AndDES-CBC'],
    ['1.2.840.113549.1.5.10', 'pbeWithSHA1AndDES-CBC']
  ])('names the bag encryption %s (%s), which it does not read', (id, label) => {
    const algorithm = seq(oidOf(id), seq(octet(Buffer.alloc(8)), int(2048)))
    expect(readPfx(pfxOf([dataInfo(shrouded(algorithm, Buffer.alloc(16)))]), 'pw')).toEqual({
      ok: false,
      problem: 'unsupported',
      detail: `${label} (${id})`
    })
  })

  /** A PBMAC1 MacData (RFC 9579): HMAC with a PBKDF2 key; `cut` shortens the MAC value. */
  const pbmac1 =
    (
      password: string,
      options: { count?: number; keyLength?: number | null; hmac?: string; cut?: number } = {}
    ) =>
    (authSafe: Buffer): Buffer => {
      const { count = 2048, keyLength = 32, hmac = O.hmacSha256, cut = 0 } = options
      const salt = Buffer.alloc(8, 7)
      const hashName = HMAC_HASHES[hmac] ?? 'sha256'
      const key = pbkdf2Sync(Buffer.from(password), salt, count, keyLength ?? 32, 'sha256')
      const mac = createHmac(hashName, key).update(authSafe).digest()
      const kdfParams = seq(
        octet(salt),
        int(count),
        ...(keyLength === null ? [] : [int(keyLength)]),
        seq(oidOf(O.hmacSha256), NULL)
      )
      const params = seq(seq(oidOf(O.pbkdf2), kdfParams), seq(oidOf(hmac), NULL))
      const algorithm = seq(oidOf('1.2.840.113549.1.5.14'), params)
      return seq(
        seq(algorithm, octet(mac.subarray(0, mac.length - cut))),
        octet(Buffer.from('NOT USED')),
        int(1)
      )
    }

  it('reads a PBMAC1 MAC (RFC 9579) with the password as UTF-8', () => {
    const pfx = pfxOf([dataInfo(certBag(cert1))], pbmac1('pässwörd'))
    expect(readPfx(pfx, 'pässwörd')).toEqual({ ok: true, keys: [], certificates: [cert1] })
    expect(readPfx(pfx, 'other')).toEqual({ ok: false, problem: 'password' })
  })

  it('checks a PBMAC1 MAC with HMAC-SHA512', () => {
    const hmac = '1.2.840.113549.2.11'
    const pfx = pfxOf([dataInfo(certBag(cert1))], pbmac1('pw', { hmac, keyLength: 64 }))
    expect(readPfx(pfx, 'pw')).toEqual({ ok: true, keys: [], certificates: [cert1] })
  })

  it('refuses PBMAC1 without the key length RFC 9579 requires', () => {
    const pfx = pfxOf([dataInfo(certBag(cert1))], pbmac1('pw', { keyLength: null }))
    expect(readPfx(pfx, 'pw')).toEqual({ ok: false, problem: 'unreadable' })
  })

  it('names an HMAC PBMAC1 does not read', () => {
    const pfx = pfxOf([dataInfo(certBag(cert1))], pbmac1('pw', { hmac: '2.16.840.1.101.3.4.2.14' }))
    expect(readPfx(pfx, 'pw')).toEqual({
      ok: false,
      problem: 'unsupported',
      detail: 'hmacWithSHA3-256 (2.16.840.1.101.3.4.2.14)'
    })
  })

  it('takes a MAC only in its full length: cut by one octet, or empty, it is wrong', () => {
    for (const cut of [1, 32]) {
      const pbmac = pfxOf([dataInfo(certBag(cert1))], pbmac1('pw', { cut }))
      expect(readPfx(pbmac, 'pw')).toEqual({ ok: false, problem: 'password' })
    }
    for (const cut of [1, 19, 20]) {
      const pfx = pfxOf([dataInfo(certBag(cert1))], macData(bmp('pw'), 1, 1, cut))
      expect(readPfx(pfx, 'pw')).toEqual({ ok: false, problem: 'password' })
    }
  })

  it('reads RC4 bags (pbeWithSHAAnd128BitRC4 and 40BitRC4), which derive a key and no IV', () => {
    for (const [id, keyLength] of [
      ['1.2.840.113549.1.12.1.1', 16],
      ['1.2.840.113549.1.12.1.2', 5]
    ] as const) {
      const salt = Buffer.alloc(8, 4)
      const key = pkcs12Kdf('sha1', 64, bmp('pw'), salt, 3, 1, keyLength)
      const encrypted = rc4(key, key1)
      const algorithm = seq(oidOf(id), seq(octet(salt), int(3)))
      const pfx = pfxOf([dataInfo(shrouded(algorithm, encrypted))])
      expect(readPfx(pfx, 'pw')).toEqual({ ok: true, keys: [key1], certificates: [] })
      expect(readPfx(pfx, 'other')).toEqual({ ok: false, problem: 'password' })
    }
  })

  it('names an unknown bag encryption by its OID', () => {
    const algorithm = seq(oidOf('1.2.3.4.5'), NULL)
    expect(readPfx(pfxOf([dataInfo(shrouded(algorithm, Buffer.alloc(16)))]), 'pw')).toEqual({
      ok: false,
      problem: 'unsupported',
      detail: 'OID 1.2.3.4.5'
    })
  })
})

afterAll(() => rmSync(work, { recursive: true, force: true }))
