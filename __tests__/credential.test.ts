import { afterAll, describe, expect, it } from '@jest/globals'
import { createHash, generateKeyPairSync } from 'node:crypto'
import { execFileSync } from 'node:child_process'
import {
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  truncateSync,
  writeFileSync
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  checkCredential,
  type Credential,
  loadCredential,
  MAX_FILE_BYTES,
  readCertificateFile
} from '../src/keys/credential.js'
import { InputError } from '../src/errors.js'
import type { CertificateSource } from '../src/settings.js'
import forge from 'node-forge'
import { makeCert, makePfx, runOpenssl } from './support/certs.js'
import { linuxOnly, posixOnly } from './support/platform.js'

const DAY = 86_400_000
const rsa = makeCert()
const other = makeCert()
const ca = makeCert({ ca: true, commonName: 'Test CA' })
const leaf = makeCert({ issuer: ca, commonName: 'leaf' })
const pkcs1 = rsa.key.export({ type: 'pkcs1', format: 'pem' }).toString()
const dir = mkdtempSync(join(tmpdir(), 'credential-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const source = (fields: Partial<CertificateSource>): CertificateSource => ({
  kind: 'certificate',
  ...fields
})

async function loadError(fields: Partial<CertificateSource>): Promise<InputError> {
  try {
    await loadCredential(source(fields))
  } catch (error) {
    if (error instanceof InputError) return error
    throw error
  }
  throw new Error('loadCredential did not fail')
}

/** Drops 40 characters from the middle of a PEM body. */
const damage = (pem: string): string => pem.slice(0, 200) + pem.slice(240)

/** The base64 lines of a PEM key: what must never appear in a message. */
const keyLines = (pem: string): string[] =>
  pem.split('\n').filter((l) => /^[A-Za-z0-9+/=]{40,}$/.test(l))

describe('loadCredential from PEM', () => {
  it('reads a PKCS#8 key followed by its certificate and computes both thumbprints', async () => {
    const credential = await loadCredential(source({ certificate: rsa.keyPem + rsa.certPem }))
    expect(credential.chain.map((c) => c.fingerprint256)).toEqual([rsa.cert.fingerprint256])
    expect(credential.x5tS256).toBe(createHash('sha256').update(rsa.cert.raw).digest('base64url'))
    expect(credential.x5t).toBe(createHash('sha1').update(rsa.cert.raw).digest('base64url'))
    expect(credential.privateKey.asymmetricKeyType).toBe('rsa')
  })

  it('reads a PKCS#1 key after the certificate', async () => {
    const credential = await loadCredential(source({ certificate: rsa.certPem + pkcs1 }))
    expect(credential.chain[0].fingerprint256).toBe(rsa.cert.fingerprint256)
  })

  it('orders the chain from the leaf up, whatever the order given, and leaves out strangers', async () => {
    const root = makeCert({ ca: true, commonName: 'Root' })
    const intermediate = makeCert({ ca: true, commonName: 'Intermediate', issuer: root })
    const end = makeCert({ commonName: 'end', issuer: intermediate })
    const credential = await loadCredential(
      source({
        certificate: root.certPem + other.certPem + end.certPem + end.keyPem + intermediate.certPem
      })
    )
    expect(credential.chain.map((c) => c.subject)).toEqual(['CN=end', 'CN=Intermediate', 'CN=Root'])
  })

  it.each([
    ['CRLF line ends', (pem: string) => pem.replace(/\n/g, '\r\n')],
    ['one line with literal \\n', (pem: string) => pem.replace(/\n/g, '\\n')],
    ['indentation and blank lines', (pem: string) => `\n\n${pem.replace(/^/gm, '    ')}\n  \n`],
    ['everything on one line with spaces', (pem: string) => pem.replace(/\n/g, ' ')]
  ])('repairs %s', async (_, mangle) => {
    const credential = await loadCredential(
      source({ certificate: mangle(rsa.keyPem + rsa.certPem) })
    )
    expect(credential.chain[0].fingerprint256).toBe(rsa.cert.fingerprint256)
  })

  it('refuses a private-key input that holds no key', async () => {
    const error = await loadError({ certificate: rsa.certPem, privateKey: other.certPem })
    expect([error.input, error.message]).toEqual([
      'private-key',
      "Input 'private-key' holds no PEM private key (-----BEGIN PRIVATE KEY----- or -----BEGIN RSA PRIVATE KEY-----)."
    ])
  })

  it('takes the key from private-key when certificate holds only the certificate', async () => {
    const credential = await loadCredential(source({ certificate: rsa.certPem, privateKey: pkcs1 }))
    expect(credential.chain[0].fingerprint256).toBe(rsa.cert.fingerprint256)
  })

  it('decrypts an encrypted PKCS#8 key with the password', async () => {
    const encrypted = rsa.key
      .export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'pa55word' })
      .toString()
    expect(encrypted).toContain('ENCRYPTED PRIVATE KEY')
    const credential = await loadCredential(
      source({ certificate: encrypted + rsa.certPem, password: 'pa55word' })
    )
    expect(credential.privateKey.asymmetricKeyType).toBe('rsa')
  })

  it('decrypts a legacy encrypted PKCS#1 key (Proc-Type/DEK-Info), even flattened to one line', async () => {
    const encrypted = rsa.key
      .export({ type: 'pkcs1', format: 'pem', cipher: 'aes-128-cbc', passphrase: 'pa55word' })
      .toString()
    expect(encrypted).toContain('Proc-Type: 4,ENCRYPTED')
    const credential = await loadCredential(
      source({ certificate: (encrypted + rsa.certPem).replace(/\n/g, '\\n'), password: 'pa55word' })
    )
    expect(credential.chain[0].fingerprint256).toBe(rsa.cert.fingerprint256)
  })

  it('asks for certificate-password when the key is encrypted', async () => {
    const encrypted = rsa.key
      .export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'pa55word' })
      .toString()
    const error = await loadError({ certificate: encrypted + rsa.certPem })
    expect(error.input).toBe('certificate-password')
    expect(error.message).toBe(
      "The private key in 'certificate' is encrypted: set 'certificate-password' to its passphrase."
    )
  })

  it('says the password is wrong, without quoting it', async () => {
    const encrypted = rsa.key
      .export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'pa55word' })
      .toString()
    const error = await loadError({
      certificate: encrypted + rsa.certPem,
      password: 'wrong-password'
    })
    expect([error.input, error.message]).toEqual([
      'certificate-password',
      "The private key in 'certificate' could not be decrypted: 'certificate-password' is wrong."
    ])
  })

  it('refuses a key that does not match the certificate', async () => {
    const error = await loadError({ certificate: rsa.keyPem + other.certPem })
    expect(error.message).toBe(
      "The private key does not match the certificate in 'certificate' (no certificate there has the key's public key): give the key and the certificate of the same pair."
    )
  })

  it('explains that the thumbprint comes from the certificate when only a key is given', async () => {
    const error = await loadError({ certificate: rsa.keyPem })
    expect(error.message).toBe(
      "Input 'certificate' holds a private key but no certificate: add the certificate (-----BEGIN CERTIFICATE-----). The thumbprint the server uses to find your key comes from the certificate."
    )
  })

  it('asks for the key when only certificates are given', async () => {
    const error = await loadError({ certificate: rsa.certPem })
    expect(error.message).toMatch(/^Input 'certificate' holds no private key: /)
  })

  it('takes a TRUSTED CERTIFICATE block and passes over a PUBLIC KEY block', async () => {
    const trusted = rsa.certPem.replace(/CERTIFICATE-----/g, 'TRUSTED CERTIFICATE-----')
    const publicKey = rsa.cert.publicKey.export({ type: 'spki', format: 'pem' }).toString()
    const credential = await loadCredential(
      source({ certificate: rsa.keyPem + publicKey + trusted })
    )
    expect(credential.chain[0].fingerprint256).toBe(rsa.cert.fingerprint256)
  })

  it('sends only the certificate of a TRUSTED CERTIFICATE block, without the trust settings OpenSSL writes after it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'trusted-'))
    try {
      writeFileSync(join(dir, 'c.pem'), rsa.certPem)
      const trusted = runOpenssl([
        'x509',
        '-in',
        join(dir, 'c.pem'),
        '-trustout',
        '-addtrust',
        'clientAuth',
        '-setalias',
        'app'
      ]).toString()
      expect(trusted).toContain('-----BEGIN TRUSTED CERTIFICATE-----')
      const credential = await loadCredential(source({ certificate: rsa.keyPem + trusted }))
      expect(credential.chainDer).toEqual([rsa.cert.raw])
      expect(credential.x5tS256).toBe(createHash('sha256').update(rsa.cert.raw).digest('base64url'))
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('refuses an RSA-PSS-only key from PEM before matching it to a certificate', async () => {
    const { privateKey } = generateKeyPairSync('rsa-pss', { modulusLength: 2048 })
    const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
    const error = await loadError({ certificate: pem + rsa.certPem })
    expect(error.message).toBe(
      "The key in 'certificate' is an RSA-PSS-only key (OID id-RSASSA-PSS), which JWT signing does not take: create the certificate with a plain RSA key (openssl req -newkey rsa:2048)."
    )
  })

  it('refuses two private keys', async () => {
    const error = await loadError({ certificate: rsa.keyPem + other.keyPem + rsa.certPem })
    expect(error.message).toBe(
      'The inputs hold 2 private keys: keep only the one that belongs to the certificate.'
    )
  })

  it('says a truncated PEM is truncated, without quoting it', async () => {
    const truncated = rsa.keyPem + rsa.certPem.slice(0, 200)
    const error = await loadError({ certificate: truncated })
    expect(error.message).toBe(
      "Input 'certificate' holds a PEM block without its matching -----END ...----- line: the text is truncated. Paste the whole file."
    )
  })

  it('refuses a damaged certificate and a damaged key without quoting them', async () => {
    const badCert = damage(rsa.certPem)
    expect((await loadError({ certificate: rsa.keyPem + badCert })).message).toBe(
      "Input 'certificate' holds a CERTIFICATE block that is not a valid X.509 certificate (truncated or damaged)."
    )
    const badKey = damage(rsa.keyPem)
    const error = await loadError({ certificate: badKey + rsa.certPem })
    expect(error.message).toBe(
      "Input 'certificate' holds a PRIVATE KEY block that is not a valid private key (truncated or damaged)."
    )
    for (const line of keyLines(rsa.keyPem)) expect(error.message).not.toContain(line)
  })

  it('calls text cut inside a BEGIN line truncated', async () => {
    const cut = rsa.keyPem + rsa.certPem.slice(0, 17)
    expect(cut.endsWith('-----BEGIN CERTIF')).toBe(true)
    expect((await loadError({ certificate: cut })).message).toBe(
      "Input 'certificate' holds a PEM block without its matching -----END ...----- line: the text is truncated. Paste the whole file."
    )
  })

  it('explains a base64 certificate given without its key', async () => {
    const error = await loadError({ certificate: rsa.cert.raw.toString('base64') })
    expect(error.message).toBe(
      "Input 'certificate' holds a certificate alone (DER, as in a .cer file), without its private key: give the key and the certificate as PEM, or a PFX that holds both."
    )
  })

  it('refuses text that is neither PEM nor a PFX', async () => {
    const error = await loadError({ certificate: 'this is not a certificate' })
    expect(error.message).toBe(
      "Input 'certificate' is neither PEM (-----BEGIN CERTIFICATE----- and a private key) nor base64 of a PKCS#12/PFX file."
    )
  })

  it('explains a binary DER certificate file given without its key', async () => {
    const path = join(dir, 'cert.cer')
    writeFileSync(path, rsa.cert.raw)
    expect((await loadError({ certificateFile: path })).message).toBe(
      "Input 'certificate-file' holds a certificate alone (DER, as in a .cer file), without its private key: give the key and the certificate as PEM, or a PFX that holds both."
    )
  })

  it('names private-key in the key checks when the key came from there', async () => {
    const short = makeCert({ bits: 1024 })
    const credential = await loadCredential(
      source({ certificate: short.certPem, privateKey: short.keyPem })
    )
    expect(() =>
      checkCredential(credential, {
        algorithm: 'PS256',
        entra: true,
        input: 'certificate',
        keyInput: 'private-key',
        now: new Date()
      })
    ).toThrow(
      "The RSA key in 'private-key' has 1024 bits; at least 2048 are required. Create a new certificate with a 2048-bit (or longer) key."
    )
  })

  it('reads a PEM file and names a missing one with its path', async () => {
    const path = join(dir, 'both.pem')
    writeFileSync(path, rsa.certPem + rsa.keyPem)
    expect((await loadCredential(source({ certificateFile: path }))).chain).toHaveLength(1)
    const error = await loadError({ certificateFile: join(dir, 'missing.pem') })
    expect(error.input).toBe('certificate-file')
    expect(error.message).toBe(
      `Input 'certificate-file': ${join(dir, 'missing.pem')} does not exist. Relative paths are resolved against the workspace (GITHUB_WORKSPACE).`
    )
  })
})

describe('loadCredential from certificate-file and private-key', () => {
  it('names certificate-file in what is wrong with the text it holds', async () => {
    const certOnly = join(dir, 'cert-only.pem')
    writeFileSync(certOnly, rsa.certPem)
    const damaged = join(dir, 'damaged.pem')
    writeFileSync(damaged, rsa.keyPem + damage(rsa.certPem))
    const missing = await loadError({ certificateFile: certOnly })
    expect([missing.input, missing.message.split(':')[0]]).toEqual([
      'certificate-file',
      "Input 'certificate-file' holds no private key"
    ])
    const bad = await loadError({ certificateFile: damaged })
    expect([bad.input, bad.message]).toEqual([
      'certificate-file',
      "Input 'certificate-file' holds a CERTIFICATE block that is not a valid X.509 certificate (truncated or damaged)."
    ])
  })

  it('reads a PFX file whether it holds the DER bytes or their base64', async () => {
    const pfx = makePfx(leaf, { password: 'pfx-pw', chain: [ca] })
    const der = join(dir, 'binary.pfx')
    const text = join(dir, 'base64.pfx')
    writeFileSync(der, pfx)
    writeFileSync(text, `${pfx.toString('base64')}\n`)
    for (const certificateFile of [der, text]) {
      const credential = await loadCredential(source({ certificateFile, password: 'pfx-pw' }))
      expect(credential.chain.map((c) => c.subject)).toEqual(['CN=leaf', 'CN=Test CA'])
    }
  })

  it('takes a private-key input that holds the certificate too, and names it when damaged', async () => {
    const both = await loadCredential(
      source({ certificate: rsa.certPem, privateKey: rsa.keyPem + rsa.certPem })
    )
    expect(both.x5t).toBe(createHash('sha1').update(rsa.cert.raw).digest('base64url'))
    const error = await loadError({
      certificate: rsa.certPem,
      privateKey: rsa.keyPem.slice(0, 300)
    })
    expect([error.input, error.message]).toEqual([
      'private-key',
      "Input 'private-key' holds a PEM block without its matching -----END ...----- line: the text is truncated. Paste the whole file."
    ])
  })
})

describe('readCertificateFile', () => {
  const refusal = (path: string): string => {
    try {
      readCertificateFile(path)
    } catch (error) {
      if (error instanceof InputError && error.input === 'certificate-file') return error.message
      throw error
    }
    throw new Error('readCertificateFile did not fail')
  }
  const why = (path: string, text: string): string =>
    `Input 'certificate-file': ${path} ${text}. Relative paths are resolved against the workspace (GITHUB_WORKSPACE).`

  it('names a missing file and a directory', () => {
    const missing = join(dir, 'missing.pem')
    expect(refusal(missing)).toBe(why(missing, 'does not exist'))
    expect(refusal(dir)).toBe(why(dir, 'is a directory'))
  })

  posixOnly('(POSIX: a self-looping symlink) names a path that cannot be opened', () => {
    const loop = join(dir, 'loop.pem')
    symlinkSync(loop, loop)
    expect(refusal(loop)).toBe(why(loop, 'cannot be read (ELOOP)'))
  })

  posixOnly(
    '(POSIX: mkfifo, /dev/zero) refuses a pipe and a device at once instead of waiting on them',
    () => {
      const fifo = join(dir, 'fifo.pem')
      execFileSync('mkfifo', [fifo])
      const text =
        'is not a regular file (a pipe, socket or device): give the path of the PEM or PFX file itself'
      expect(refusal(fifo)).toBe(why(fifo, text))
      expect(refusal('/dev/zero')).toBe(why('/dev/zero', text))
    }
  )

  it('refuses a file over 4 MiB by its size, before reading it, and reads one of 4 MiB', () => {
    const big = join(dir, 'big.pem')
    writeFileSync(big, '')
    truncateSync(big, 5 * 1024 * 1024 + 100 * 1024)
    expect(refusal(big)).toBe(
      why(big, 'is 5.1 MiB; a certificate file is a few KiB (at most 4 MiB): check the path')
    )
    truncateSync(big, MAX_FILE_BYTES)
    expect(readCertificateFile(big).length).toBe(MAX_FILE_BYTES)
  })

  linuxOnly(
    '(Linux: /proc/self/fd counts open files) closes the file whether it reads it or refuses it',
    () => {
      const good = join(dir, 'closed.pem')
      writeFileSync(good, rsa.certPem)
      const open = (): number => readdirSync('/proc/self/fd').length
      const before = open()
      for (let i = 0; i < 20; i++) {
        readCertificateFile(good)
        expect(() => readCertificateFile(dir)).toThrow(InputError)
      }
      expect(open()).toBe(before)
    }
  )

  linuxOnly(
    '(Linux: /proc/self/mem) names the error of a file that opens but cannot be read',
    () => {
      // /proc/self/mem is a regular file whose first page is not mapped.
      expect(refusal('/proc/self/mem')).toBe(why('/proc/self/mem', 'cannot be read (EIO)'))
    }
  )
})

describe('loadCredential from PKCS#12', () => {
  it.each([
    ['modern, with a password', { password: 'pfx-pass' }],
    ['legacy (3DES/RC2-40), with a password', { password: 'pfx-pass', legacy: true }],
    ['modern, without a password', {}],
    ['legacy, without a password', { legacy: true }]
  ])(
    'reads a %s PFX given as base64',
    async (_, options: { password?: string; legacy?: boolean }) => {
      const pfx = makePfx(rsa, options)
      const credential = await loadCredential(
        source({ certificate: pfx.toString('base64'), password: options.password })
      )
      expect(credential.chain[0].fingerprint256).toBe(rsa.cert.fingerprint256)
      expect(credential.x5t).toBe(createHash('sha1').update(rsa.cert.raw).digest('base64url'))
    }
  )

  it('reads a binary PFX file with a chain, leaf first', async () => {
    const path = join(dir, 'chain.pfx')
    writeFileSync(path, makePfx(leaf, { password: 'p', chain: [ca] }))
    const credential = await loadCredential(source({ certificateFile: path, password: 'p' }))
    expect(credential.chain.map((c) => c.subject)).toEqual(['CN=leaf', 'CN=Test CA'])
  })

  it('reads a PFX holding an EC key', async () => {
    const ec = makeCert({ curve: 'P-256' })
    const credential = await loadCredential(
      source({ certificate: makePfx(ec, { password: 'p' }).toString('base64'), password: 'p' })
    )
    expect(credential.privateKey.asymmetricKeyType).toBe('ec')
    expect(credential.chain[0].fingerprint256).toBe(ec.cert.fingerprint256)
  })

  it('asks for the password of a protected PFX', async () => {
    const error = await loadError({
      certificate: makePfx(rsa, { password: 'pfx-pass' }).toString('base64')
    })
    expect(error.input).toBe('certificate-password')
    expect(error.message).toBe(
      "The PFX in 'certificate' is protected by a password: set 'certificate-password'."
    )
  })

  it('opens a PFX made without a password even when a password is given', async () => {
    const credential = await loadCredential(
      source({ certificate: makePfx(rsa).toString('base64'), password: 'unneeded' })
    )
    expect(credential.chain[0].fingerprint256).toBe(rsa.cert.fingerprint256)
  })

  it('opens a modern PFX whose password is not ASCII', async () => {
    const password = 'Pässwörd-für-Zertifikat'
    const credential = await loadCredential(
      source({ certificate: makePfx(rsa, { password }).toString('base64'), password })
    )
    expect(credential.chain[0].fingerprint256).toBe(rsa.cert.fingerprint256)
  })

  it('says the PFX password is wrong', async () => {
    const error = await loadError({
      certificate: makePfx(rsa, { password: 'pfx-pass' }).toString('base64'),
      password: 'nope-nope'
    })
    expect([error.input, error.message]).toEqual([
      'certificate-password',
      "The PFX in 'certificate' could not be opened: 'certificate-password' is wrong."
    ])
  })

  it('opens a PFX with its password saved with a line break, and warns', async () => {
    const certificate = makePfx(rsa, { password: 'pfx-pass' }).toString('base64')
    const credential = await loadCredential(source({ certificate, password: 'pfx-pass\n' }))
    expect(credential.warnings).toEqual([
      "'certificate-password' has a line break or spaces around it that are not part of the password: the PFX in 'certificate' opened without them. Remove them from the secret."
    ])
    const wrong = await loadError({ certificate, password: ' nope-nope\n' })
    expect([wrong.input, wrong.message]).toEqual([
      'certificate-password',
      "The PFX in 'certificate' could not be opened: 'certificate-password' is wrong (it has a line break or spaces around it; without them it is wrong too)."
    ])
  })

  it('does not warn about spaces in a password a PFX without one does not need', async () => {
    const certificate = makePfx(rsa).toString('base64')
    const credential = await loadCredential(source({ certificate, password: ' unneeded\n' }))
    expect(credential.warnings).toEqual([])
  })

  it('refuses base64 that is not a PFX', async () => {
    const error = await loadError({ certificate: Buffer.alloc(200, 7).toString('base64') })
    expect(error.message).toMatch(/^Input 'certificate' is (neither PEM|not a PKCS#12\/PFX file)/)
  })
})

describe('loadCredential from a PFX no tool would write', () => {
  const { asn1 } = forge
  const U = asn1.Class.UNIVERSAL
  const seq = (...items: forge.asn1.Asn1[]) => asn1.create(U, asn1.Type.SEQUENCE, true, items)
  const oid = (id: string) => asn1.create(U, asn1.Type.OID, false, asn1.oidToDer(id).getBytes())
  const int = (n: number) =>
    asn1.create(U, asn1.Type.INTEGER, false, asn1.integerToDer(n).getBytes())
  const octets = (bytes: string) => asn1.create(U, asn1.Type.OCTETSTRING, false, bytes)
  const explicit = (item: forge.asn1.Asn1) =>
    asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, true, [item])
  const data = (inner: forge.asn1.Asn1) =>
    seq(oid('1.2.840.113549.1.7.1'), explicit(octets(asn1.toDer(inner).getBytes())))
  /** A PFX without MAC or encryption whose one bag is a key bag holding `key`. */
  const pfxWithKey = (key: forge.asn1.Asn1): string => {
    const keyBag = seq(oid('1.2.840.113549.1.12.10.1.1'), explicit(key))
    const der = asn1.toDer(seq(int(3), data(seq(data(seq(keyBag)))))).getBytes()
    return Buffer.from(der, 'binary').toString('base64')
  }

  it('tells a base64 PFX and each of its pieces once it is known to be base64, but no short piece', async () => {
    const base64 = makePfx(rsa).toString('base64')
    const [head, middle, tail] = [base64.slice(0, -23), base64.slice(-23, -7), base64.slice(-7)]
    expect([middle.length, tail.length]).toEqual([16, 7])
    const told: string[] = []
    await loadCredential(source({ certificate: `${head}\r\n${middle}\n${tail}\n` }), (piece) =>
      told.push(piece)
    )
    expect(told).toEqual([`${head}\n${middle}\n${tail}`, head, middle])
  })

  it('tells nothing of text that is neither PEM nor base64', async () => {
    const told: string[] = []
    const text = Array.from({ length: 1000 }, (_, i) => `not-base64-piece-${i}!`).join('\n')
    await expect(
      loadCredential(source({ certificate: text }), (piece) => told.push(piece))
    ).rejects.toThrow(
      "Input 'certificate' is neither PEM (-----BEGIN CERTIFICATE----- and a private key) nor base64 of a PKCS#12/PFX file."
    )
    expect(told).toEqual([])
  })

  it('tells at most 64 pieces of key text, however many the input holds', async () => {
    const told: string[] = []
    const piece = (i: number): string => `${String(i).padStart(16, 'A')}`
    const blocks = Array.from(
      { length: 3 },
      (_, b) =>
        `-----BEGIN PRIVATE KEY-----\n${Array.from({ length: 100 }, (_, i) => piece(b * 100 + i)).join('\n')}\n-----END PRIVATE KEY-----`
    )
    await expect(
      loadCredential(source({ certificate: blocks.join('\n') }), (p) => told.push(p))
    ).rejects.toThrow(/holds a PRIVATE KEY block that is not a valid private key/)
    expect(told).toEqual(Array.from({ length: 64 }, (_, i) => piece(i)))
  })

  it('reads 64 base64 characters as a PFX to try, and fewer as neither PEM nor PFX', async () => {
    expect((await loadError({ certificate: 'A'.repeat(63) })).message).toBe(
      "Input 'certificate' is neither PEM (-----BEGIN CERTIFICATE----- and a private key) nor base64 of a PKCS#12/PFX file."
    )
    expect((await loadError({ certificate: 'A'.repeat(64) })).message).toBe(
      "Input 'certificate' is neither PEM (-----BEGIN CERTIFICATE----- and a private key) nor a readable PKCS#12/PFX file."
    )
  })

  it('refuses base64 with a character outside the alphabet at either end', async () => {
    const base64 = makePfx(rsa).toString('base64')
    for (const certificate of [`%${base64}`, `${base64}%`]) {
      expect((await loadError({ certificate })).message).toBe(
        "Input 'certificate' is neither PEM (-----BEGIN CERTIFICATE----- and a private key) nor base64 of a PKCS#12/PFX file."
      )
    }
  })

  it('names a key bag that node:crypto cannot read', async () => {
    // A PKCS#8 PrivateKeyInfo for an algorithm no one knows.
    const unknown = seq(int(0), seq(oid('1.2.3.4')), octets('key'))
    const error = await loadError({ certificate: pfxWithKey(unknown) })
    expect([error.input, error.message]).toEqual([
      'certificate',
      "The PFX in 'certificate' holds a private key that node:crypto cannot read (damaged, or a key type it does not know)."
    ])
  })
})

describe('loadCredential and checkCredential over the PFX corpus', () => {
  // The same files as pfx-corpus.test.ts, which runs them through dist/index.js: here in-process,
  // so that a change to the PFX glue that breaks one of them fails a test of src/ as well.
  interface Fixture {
    name: string
    password?: string
    certificates?: string[]
    error?: string
  }
  const DIR = join(import.meta.dirname, 'fixtures', 'pfx')
  const corpus = JSON.parse(readFileSync(join(DIR, 'corpus.json'), 'utf8')) as Fixture[]
  const sha = (algorithm: string, der: Buffer): Buffer => createHash(algorithm).update(der).digest()

  async function open(fixture: Fixture): Promise<Credential> {
    const credential = await loadCredential(
      source({
        certificate: readFileSync(join(DIR, `${fixture.name}.pfx`)).toString('base64'),
        password: fixture.password
      })
    )
    checkCredential(credential, {
      algorithm: 'PS256',
      entra: true,
      input: 'certificate',
      // At the certificate's start, so the corpus does not expire; the files refused as expired
      // (RFC 9579's vectors, made in 2023) are checked now.
      now:
        credential.chain[0] && !fixture.error?.includes('expired on')
          ? new Date(credential.chain[0].validFrom)
          : new Date()
    })
    return credential
  }

  it.each(corpus.filter((f) => f.certificates).map((f) => [f.name, f] as const))(
    '%s: thumbprints and chain from the bytes as exported',
    async (_, fixture) => {
      const ders = (fixture.certificates ?? []).map((file) => readFileSync(join(DIR, file)))
      const credential = await open(fixture)
      expect(credential.chainDer).toEqual(ders)
      expect(credential.x5t).toBe(sha('sha1', ders[0]).toString('base64url'))
      expect(credential.x5tS256).toBe(sha('sha256', ders[0]).toString('base64url'))
      expect(credential.thumbprints).toEqual({
        sha1: sha('sha1', ders[0]).toString('hex').toUpperCase(),
        sha256: sha('sha256', ders[0]).toString('hex').toUpperCase()
      })
    }
  )

  it.each(corpus.filter((f) => f.error).map((f) => [f.name, f] as const))(
    '%s: refused with its message',
    async (_, fixture) => {
      const failure = await open(fixture).then(
        () => 'opened',
        (error: Error) => `${error.constructor.name}: ${error.message}`
      )
      expect(failure).toBe(`InputError: ${fixture.error}`)
    }
  )
})

describe('checkCredential', () => {
  const now = new Date()
  const options = { algorithm: 'PS256' as const, entra: true, input: 'certificate', now }
  const load = (cert: { keyPem: string; certPem: string }) =>
    loadCredential(source({ certificate: cert.keyPem + cert.certPem }))

  it('passes a valid RSA 2048 certificate without warnings', async () => {
    expect(checkCredential(await load(rsa), options)).toEqual([])
  })

  it('refuses an expired certificate and says the dates', async () => {
    const expired = makeCert({
      notBefore: new Date('2024-01-01T00:00:00Z'),
      notAfter: new Date('2025-01-01T00:00:00Z')
    })
    expect(() => checkCredential(credentialSync(expired), options)).toThrow(
      "The certificate in 'certificate' expired on 2025-01-01T00:00:00Z (valid from 2024-01-01T00:00:00Z): create a new one, upload it to the app registration, and update the secret."
    )
  })

  it('refuses a certificate that is not valid yet', async () => {
    const future = makeCert({
      notBefore: new Date(now.getTime() + 2 * DAY),
      notAfter: new Date(now.getTime() + 400 * DAY)
    })
    expect(() => checkCredential(credentialSync(future), options)).toThrow(
      /^The certificate in 'certificate' is not valid yet: valid from /
    )
  })

  it('warns with the days left when the certificate expires within 30 days', async () => {
    const soon = makeCert({ notAfter: new Date(now.getTime() + 10 * DAY + 3_600_000) })
    const warnings = checkCredential(await load(soon), options)
    expect(warnings).toEqual([
      `The certificate in 'certificate' expires in 10 days (${new Date(soon.cert.validTo).toISOString().replace('.000', '')}): create a new one and upload it to the app registration before then.`
    ])
  })

  it('warns from 29 days left on, not with 30', async () => {
    const thirty = makeCert({ notAfter: new Date(now.getTime() + 30 * DAY + 3_600_000) })
    expect(checkCredential(credentialSync(thirty), options)).toEqual([])
    const under = makeCert({ notAfter: new Date(now.getTime() + 30 * DAY - 3_600_000) })
    expect(checkCredential(credentialSync(under), options)).toEqual([
      expect.stringMatching(/^The certificate in 'certificate' expires in 29 days \(/)
    ])
  })

  it('refuses an RSA key shorter than 2048 bits', async () => {
    const short = makeCert({ bits: 1024 })
    expect(() => checkCredential(credentialSync(short), options)).toThrow(
      "The RSA key in 'certificate' has 1024 bits; at least 2048 are required. Create a new certificate with a 2048-bit (or longer) key."
    )
  })

  it('refuses an EC key against Entra', async () => {
    const ec = makeCert({ curve: 'P-256' })
    expect(() => checkCredential(credentialSync(ec), options)).toThrow(
      /^The key in 'certificate' is an EC key; Microsoft Entra ID accepts RSA certificates only/
    )
  })

  it('matches the EC curve to the algorithm on other servers', async () => {
    const ec = makeCert({ curve: 'P-384' })
    const generic = { ...options, entra: false }
    expect(checkCredential(credentialSync(ec), { ...generic, algorithm: 'ES384' })).toEqual([])
    expect(() => checkCredential(credentialSync(ec), generic)).toThrow(
      expect.objectContaining({
        input: 'algorithm',
        message:
          "Input 'algorithm' is PS256, but the key in 'certificate' is an EC P-384 key: set algorithm: ES384."
      })
    )
    expect(() => checkCredential(credentialSync(rsa), { ...generic, algorithm: 'ES256' })).toThrow(
      /^Input 'algorithm' is ES256, which needs an EC key/
    )
  })

  it('refuses an RSA-PSS-only key, which JWT signing does not take', async () => {
    const { privateKey } = generateKeyPairSync('rsa-pss', { modulusLength: 2048 })
    const credential = { ...credentialSync(rsa), privateKey }
    expect(() => checkCredential(credential, options)).toThrow(
      "The key in 'certificate' is an RSA-PSS-only key (OID id-RSASSA-PSS), which JWT signing does not take: create the certificate with a plain RSA key (openssl req -newkey rsa:2048)."
    )
  })

  it('says where to register a renewed certificate on other servers', async () => {
    const soon = makeCert({ notAfter: new Date(now.getTime() + 3 * DAY + 3_600_000) })
    expect(checkCredential(credentialSync(soon), { ...options, entra: false })[0]).toMatch(
      /expires in 3 days \(.*\): create a new one and register it with the server before then\.$/
    )
  })

  it('takes the first and the last moment of the validity period, allowing 5 minutes of clock skew', async () => {
    const credential = credentialSync(rsa)
    const from = new Date(rsa.cert.validFrom).getTime()
    const to = new Date(rsa.cert.validTo)
    expect(() =>
      checkCredential(credential, { ...options, now: new Date(from - 300_000) })
    ).not.toThrow()
    expect(() =>
      checkCredential(credential, { ...options, now: new Date(from - 300_001) })
    ).toThrow(/^The certificate in 'certificate' is not valid yet/)
    expect(checkCredential(credential, { ...options, now: to })[0]).toMatch(
      /^The certificate in 'certificate' expires in 0 days \(/
    )
    expect(() =>
      checkCredential(credential, { ...options, now: new Date(to.getTime() + 1) })
    ).toThrow(/^The certificate in 'certificate' expired on /)
  })

  it('says "1 day", and names the algorithm input when it does not fit the key', async () => {
    const soon = makeCert({ notAfter: new Date(now.getTime() + DAY + 3_600_000) })
    expect(checkCredential(credentialSync(soon), options)[0]).toMatch(
      /^The certificate in 'certificate' expires in 1 day \(/
    )
    let input = ''
    try {
      checkCredential(credentialSync(rsa), { ...options, entra: false, algorithm: 'ES256' })
    } catch (error) {
      input = (error as InputError).input
    }
    expect(input).toBe('algorithm')
  })

  it('refuses key types other than RSA and EC', async () => {
    const { privateKey } = generateKeyPairSync('ed25519')
    const credential = { ...credentialSync(rsa), privateKey }
    expect(() => checkCredential(credential, options)).toThrow(
      /^The key in 'certificate' is ed25519; use an RSA key/
    )
  })
})

// checkCredential needs only the chain and the key; build them without the async loader.
import { X509Certificate, createPrivateKey } from 'node:crypto'
function credentialSync(cert: { keyPem: string; certPem: string }) {
  return {
    privateKey: createPrivateKey(cert.keyPem),
    chain: [new X509Certificate(cert.certPem)],
    chainDer: [],
    x5t: '',
    x5tS256: '',
    thumbprints: { sha1: '', sha256: '' },
    warnings: []
  }
}
