import {
  createHash,
  createPrivateKey,
  createPublicKey,
  KeyObject,
  X509Certificate
} from 'node:crypto'
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs'
import type { PfxResult } from './pkcs12/pfx.js'
import { InputError } from '../errors.js'
import { items, parse } from './pkcs12/der.js'
import {
  certificateDer,
  isKeyLabel,
  MIN_KEY_PIECE_LENGTH,
  normalize,
  parsePem,
  type PemBlock
} from './pem.js'
import type { Algorithm, CertificateSource } from '../settings.js'

/** The signing key and the certificate chain it belongs to. */
export interface Credential {
  privateKey: KeyObject
  /** The certificate whose public key matches the private key, then its issuers up the chain. */
  chain: X509Certificate[]
  /**
   * Each certificate of `chain` with its bytes exactly as the input holds them (PEM block or PFX
   * bag), never re-encoded: `x5c` and every thumbprint are computed from these, as the server
   * computes its own over the bytes that were uploaded.
   */
  chainDer: Buffer[]
  /** base64url SHA-1 of the leaf's bytes: the assertion's `x5t` (RS256). */
  x5t: string
  /** base64url SHA-256 of the leaf's bytes: the assertion's `x5t#S256` (PS256). */
  x5tS256: string
  /** The leaf's thumbprints in hex, upper case, as the Azure portal shows them. */
  thumbprints: { sha1: string; sha256: string }
  /** What the run should warn about while loading (a password that needed trimming). */
  warnings: string[]
}

/** What the inputs hold once decoded: keys and certificates, with the inputs they came from. */
interface Material {
  keys: { key: KeyObject; input: string }[]
  certificates: { der: Buffer; input: string }[]
  /** Inputs that held certificates: where a missing or mismatched one is reported. */
  certificateInput: string
  /** Told each piece of key text (base64 lines of a key, a base64 PFX) as soon as it is read. */
  onSecret: (text: string) => void
  warnings: string[]
  /** When the step's time runs out (epoch ms): loading a PFX stops there. */
  deadline?: number
}

/** Days before expiry from which the action warns. */
export const EXPIRY_WARNING_DAYS = 30
const DAY_MS = 86_400_000
const CLOCK_SKEW_MS = 5 * 60_000

/**
 * Loads the private key and certificate chain from PEM text, a PEM file, or a PKCS#12/PFX (base64
 * text or binary file); PFX support is loaded only when a PFX is given.
 * @throws {InputError} naming the input that is wrong and the fix; never quoting key material.
 */
export async function loadCredential(
  source: CertificateSource,
  onSecret: (text: string) => void = () => {},
  options: { deadline?: number } = {}
): Promise<Credential> {
  // Only a bounded number of pieces is masked: each mask costs the runner a comparison on every
  // later line of the job. A real key has a few dozen lines at most.
  let masked = 0
  const material: Material = {
    keys: [],
    certificates: [],
    certificateInput: 'certificate',
    onSecret: (text) => {
      if (masked++ < MAX_MASKED_PIECES) onSecret(text)
    },
    warnings: [],
    deadline: options.deadline
  }
  if (source.certificateFile !== undefined) {
    material.certificateInput = 'certificate-file'
    await addFile(material, source.certificateFile, source.password)
  } else if (source.certificate !== undefined) {
    await addText(material, source.certificate, 'certificate', source.password)
  }
  if (source.privateKey !== undefined) {
    const blocks = parsePem(normalize(source.privateKey), 'private-key', material.onSecret)
    if (!blocks.some((b) => isKeyLabel(b.label))) {
      throw new InputError(
        'private-key',
        `Input 'private-key' holds no PEM private key (-----BEGIN PRIVATE KEY----- or -----BEGIN RSA PRIVATE KEY-----).`
      )
    }
    addPem(material, blocks, source.password)
  }
  return assemble(material)
}

/** Most pieces of key text masked (the lines of a 4096-bit key are 50). */
export const MAX_MASKED_PIECES = 64
/** Most different certificates taken: a real chain has a handful. */
export const MAX_CERTIFICATES = 32
/** Longest base64 PFX text masked as a whole (a PFX with a long chain is a few dozen KiB). */
const MAX_MASKED_TEXT = 64 * 1024

/** Largest certificate file read: PEM or PFX files with a chain are a few KiB. */
export const MAX_FILE_BYTES = 4 * 1024 * 1024

async function addFile(material: Material, path: string, password?: string): Promise<void> {
  const bytes = readCertificateFile(path)
  // A DER PFX starts with a SEQUENCE tag; anything else is text (PEM, or base64 of a PFX).
  if (bytes[0] === 0x30 && !bytes.includes('-----BEGIN')) {
    await addPfx(material, bytes, 'certificate-file', password)
  } else {
    await addText(material, bytes.toString('utf8'), 'certificate-file', password)
  }
}

/**
 * Reads a certificate file: a regular file of at most {@link MAX_FILE_BYTES}. Opened without
 * blocking and checked before any byte is read, so a FIFO, a device (`/dev/zero`) or a huge file is
 * refused at once instead of blocking or filling memory.
 * @throws {InputError} naming `certificate-file` and what is wrong with it.
 */
export function readCertificateFile(path: string): Buffer {
  const refuse = (why: string): InputError =>
    new InputError(
      'certificate-file',
      `Input 'certificate-file': ${path} ${why}. Relative paths are resolved against the workspace (GITHUB_WORKSPACE).`
    )
  let fd: number
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK)
  } catch (error) {
    // A directory opens read-only; fstat below refuses it.
    const code = (error as NodeJS.ErrnoException).code
    throw refuse(code === 'ENOENT' ? 'does not exist' : `cannot be read (${code})`)
  }
  try {
    const stat = fstatSync(fd)
    if (stat.isDirectory()) throw refuse('is a directory')
    if (!stat.isFile()) {
      throw refuse(
        'is not a regular file (a pipe, socket or device): give the path of the PEM or PFX file itself'
      )
    }
    if (stat.size > MAX_FILE_BYTES) {
      throw refuse(
        `is ${(stat.size / 1024 / 1024).toFixed(1)} MiB; a certificate file is a few KiB (at most ${MAX_FILE_BYTES / 1024 / 1024} MiB): check the path`
      )
    }
    // At most one byte more than allowed: a file that grew since fstat is refused too.
    // Stryker disable next-line MethodExpression: bounds the memory; the bytes read are the same
    const buffer = Buffer.alloc(Math.min(stat.size, MAX_FILE_BYTES) + 1)
    let length = 0
    // Stryker disable next-line EqualityOperator: a read into no room returns 0, which ends the loop too
    for (let n; length < buffer.length; length += n) {
      n = readSync(fd, buffer, length, buffer.length - length, null)
      if (n === 0) break
    }
    // Stryker disable next-line all: a file that grows between fstat and the read; no test can time that
    if (length > MAX_FILE_BYTES) throw refuse(`is larger than ${MAX_FILE_BYTES / 1024 / 1024} MiB`)
    return buffer.subarray(0, length)
  } catch (error) {
    if (error instanceof InputError) throw error
    // Stryker disable next-line LogicalOperator,StringLiteral: node:fs errors carry a code; the fallback is for any other
    throw refuse(`cannot be read (${(error as NodeJS.ErrnoException).code ?? 'read error'})`)
  } finally {
    closeSync(fd)
  }
}

async function addText(
  material: Material,
  text: string,
  input: string,
  password?: string
): Promise<void> {
  const normalized = normalize(text)
  if (normalized.includes('-----BEGIN')) {
    addPem(material, parsePem(normalized, input, material.onSecret), password)
    return
  }
  const base64 = normalized.replace(/\s/g, '')
  // Recognised before anything is masked: text that is not base64 is no secret of the action's.
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(base64) || base64.length < 64) {
    throw new InputError(
      input,
      `Input '${input}' is neither PEM (-----BEGIN CERTIFICATE----- and a private key) nor base64 of a PKCS#12/PFX file.`
    )
  }
  if (normalized.length <= MAX_MASKED_TEXT) material.onSecret(normalized)
  for (const part of normalized.split(/\s/))
    if (part.length >= MIN_KEY_PIECE_LENGTH) material.onSecret(part)
  await addPfx(material, Buffer.from(base64, 'base64'), input, password)
}

function isCertificate(der: Buffer): boolean {
  try {
    new X509Certificate(der)
    return true
  } catch {
    return false
  }
}

async function addPfx(
  material: Material,
  der: Buffer,
  input: string,
  password?: string
): Promise<void> {
  // Loaded on demand: PEM users do not pay for the PKCS#12 library at startup.
  if (isCertificate(der)) {
    throw new InputError(
      input,
      `Input '${input}' holds a certificate alone (DER, as in a .cer file), without its private key: give the key and the certificate as PEM, or a PFX that holds both.`
    )
  }
  const { newWork, openPfx } = await import('./pkcs12/pfx.js')
  // One budget for every attempt of this load: the password as given, then trimmed.
  const work = newWork(material.deadline)
  let pfx = await openPfx(der, password, work)
  // A secret saved from a file often ends with a line break: try the password without it.
  const trimmed = password?.trim()
  // Stryker disable next-line ConditionalExpression: no other problem depends on the password, so it comes again
  if (!pfx.ok && pfx.problem === 'password' && trimmed !== password) {
    const retry = await openPfx(der, trimmed, work)
    // Stryker disable next-line ConditionalExpression: a warning pushed before the error is never shown
    if (retry.ok) material.warnings.push(trimmedWarning(`the PFX in '${input}'`))
    // Stryker disable next-line ConditionalExpression,EqualityOperator: a PFX whose MAC opens with the trimmed password but not its bags: none seen
    if (retry.ok || retry.problem !== 'password') pfx = retry
  }
  if (!pfx.ok) throw pfxError(pfx, input, password)
  if (pfx.keys.length > 1) {
    throw new InputError(
      input,
      `The PFX in '${input}' holds ${pfx.keys.length} private keys; the action needs only the key of its certificate: export the PFX again with that one certificate and its key.`
    )
  }
  for (const key of pfx.keys) {
    let privateKey: KeyObject
    try {
      privateKey = createPrivateKey({ key, format: 'der', type: 'pkcs8' })
    } catch {
      throw new InputError(
        input,
        `The PFX in '${input}' holds a private key that node:crypto cannot read (damaged, or a key type it does not know).`
      )
    }
    material.keys.push({ key: privateKey, input })
  }
  for (const der of pfx.certificates) material.certificates.push({ der, input })
}

type PfxFailure = Extract<PfxResult, { ok: false }>

function pfxError(failure: PfxFailure, input: string, password?: string): InputError {
  const { problem, detail } = failure
  if (problem === 'password') {
    if (!password) {
      return new InputError(
        'certificate-password',
        `The PFX in '${input}' is protected by a password: set 'certificate-password'.`
      )
    }
    const spaces =
      password.trim() !== password
        ? ' (it has a line break or spaces around it; without them it is wrong too)'
        : ''
    return new InputError(
      'certificate-password',
      `The PFX in '${input}' could not be opened: 'certificate-password' is wrong${spaces}.`
    )
  }
  if (problem === 'unsupported') {
    return new InputError(
      input,
      `The PFX in '${input}' uses ${detail}, which this action does not read: export it again with AES-256 (openssl pkcs12 -export, or Windows' AES256-SHA256 option).`
    )
  }
  if (problem === 'work') {
    return new InputError(
      input,
      `The PFX in '${input}' asks for ${Number(detail).toLocaleString('en-US')} key derivation iterations, more work than loading a certificate may take (the action allows about 20,000,000 hash computations in all; a file with 600,000 iterations needs 4,200,000): export it again with fewer, e.g. openssl pkcs12 -export -iter 2048 (OpenSSL's default) or pk12util/certtool with their defaults.`
    )
  }
  if (problem === 'time') {
    return new InputError(
      input,
      `The PFX in '${input}' took longer to open than the step's time allows: export it again with fewer key derivation iterations (openssl pkcs12 -export with its default of 2048).`
    )
  }
  if (problem === 'iterations') {
    return new InputError(
      input,
      `The PFX in '${input}' asks for ${detail} key derivation iterations, more than any tool writes (at most 10,000,000 are taken): export it again.`
    )
  }
  return problem === 'not-pfx'
    ? new InputError(
        input,
        `Input '${input}' is neither PEM (-----BEGIN CERTIFICATE----- and a private key) nor a readable PKCS#12/PFX file.`
      )
    : new InputError(
        input,
        `Input '${input}' is not a PKCS#12/PFX file that can be read (damaged or truncated): export it again.`
      )
}

/** The warning for a password that opened the key only once its surrounding whitespace was cut. */
function trimmedWarning(what: string): string {
  return `'certificate-password' has a line break or spaces around it that are not part of the password: ${what} opened without them. Remove them from the secret.`
}

function addPem(material: Material, blocks: PemBlock[], password?: string): void {
  for (const block of blocks) {
    if (block.label === 'CERTIFICATE' || block.label === 'TRUSTED CERTIFICATE') {
      material.certificates.push({ der: certificateDer(block), input: block.input })
    } else if (isKeyLabel(block.label)) {
      material.keys.push({ key: decodeKey(block, password, material.warnings), input: block.input })
    }
    // Other blocks (EC PARAMETERS, PUBLIC KEY, ...) carry nothing the assertion needs.
  }
}

function decodeKey(block: PemBlock, password: string | undefined, warnings: string[]): KeyObject {
  if (block.encrypted && password === undefined) {
    throw new InputError(
      'certificate-password',
      `The private key in '${block.input}' is encrypted: set 'certificate-password' to its passphrase.`
    )
  }
  try {
    return createPrivateKey({ key: block.pem, format: 'pem', passphrase: password })
  } catch {
    // A secret saved from a file often ends with a line break: try the password without it.
    const trimmed = password?.trim()
    // Stryker disable next-line ConditionalExpression,LogicalOperator: a retry that cannot succeed ends in the same error
    if (block.encrypted && trimmed !== password) {
      try {
        const key = createPrivateKey({ key: block.pem, format: 'pem', passphrase: trimmed })
        warnings.push(trimmedWarning(`the private key in '${block.input}'`))
        return key
      } catch {
        // wrong either way: reported below
      }
    }
    // node:crypto's message is not shown: OpenSSL's text is cryptic and could echo input.
    const spaces =
      trimmed !== password
        ? ' (it has a line break or spaces around it; without them it is wrong too)'
        : ''
    throw block.encrypted
      ? new InputError(
          'certificate-password',
          `The private key in '${block.input}' could not be decrypted: 'certificate-password' is wrong${spaces}.`
        )
      : new InputError(
          block.input,
          `Input '${block.input}' holds a ${block.label} block that is not a valid private key (truncated or damaged).`
        )
  }
}

function parseCertificate(der: Buffer, input: string): X509Certificate {
  try {
    return new X509Certificate(der)
  } catch {
    throw new InputError(
      input,
      `Input '${input}' holds a CERTIFICATE block that is not a valid X.509 certificate (truncated or damaged).`
    )
  }
}

function assemble(material: Material): Credential {
  const where = material.certificateInput
  if (material.keys.length === 0) {
    throw new InputError(
      where,
      `Input '${where}' holds no private key: add the private key to it (PEM), or set 'private-key', or give a PFX that contains the key.`
    )
  }
  if (material.keys.length > 1) {
    throw new InputError(
      where,
      `The inputs hold ${material.keys.length} private keys: keep only the one that belongs to the certificate.`
    )
  }
  if (material.certificates.length === 0) {
    throw new InputError(
      where,
      `Input '${where}' holds a private key but no certificate: add the certificate (-----BEGIN CERTIFICATE-----). The thumbprint the server uses to find your key comes from the certificate.`
    )
  }
  const privateKey = material.keys[0].key
  if (privateKey.asymmetricKeyType === 'rsa-pss') throw rsaPssError(material.keys[0].input)
  // Each certificate once, by its bytes (a chain may hold the same certificate twice); a map by
  // their hash keeps this linear however many the input holds.
  const byBytes = new Map<string, Material['certificates'][number]>()
  for (const c of material.certificates) {
    const hash = createHash('sha256').update(c.der).digest('base64')
    if (!byBytes.has(hash)) byBytes.set(hash, c)
  }
  const unique = [...byBytes.values()]
  if (unique.length > MAX_CERTIFICATES) {
    throw new InputError(
      where,
      `Input '${where}' holds ${unique.length} different certificates; the action takes at most ${MAX_CERTIFICATES}: the certificate and the issuers of its chain. Remove the others (a bundle of CA certificates does not belong here).`
    )
  }
  const certificates = unique.map((c) => parseCertificate(c.der, c.input))
  const leaf = certificates.findIndex((c) => c.checkPrivateKey(privateKey))
  if (leaf < 0 && certificates.some((c) => isPssMarked(c, privateKey))) {
    throw new InputError(
      where,
      `The certificate in '${where}' holds the private key's public key, but marked for RSA-PSS signatures only (id-RSASSA-PSS, as NSS certutil --pss writes it), which token servers do not take as a client certificate: create the certificate again with a plain RSA public key (certutil without --pss; an RSA-PSS signature on the certificate itself is fine: openssl req -x509 -sigopt rsa_padding_mode:pss). The key can stay.`
    )
  }
  if (leaf < 0) {
    throw new InputError(
      where,
      `The private key does not match the certificate in '${where}' (no certificate there has the key's public key): give the key and the certificate of the same pair.`
    )
  }
  const order = orderChain(leaf, certificates)
  return credentialOf(
    privateKey,
    order.map((i) => unique[i].der),
    material.warnings
  )
}

/**
 * A credential from its key and its chain's bytes, leaf first, as loaded before: what the token
 * service rebuilds from what the main step hands it.
 */
export function credentialOf(
  privateKey: KeyObject,
  chainDer: Buffer[],
  warnings: string[] = []
): Credential {
  const sha1 = createHash('sha1').update(chainDer[0]).digest()
  const sha256 = createHash('sha256').update(chainDer[0]).digest()
  return {
    privateKey,
    chain: chainDer.map((der) => new X509Certificate(der)),
    chainDer,
    x5t: sha1.toString('base64url'),
    x5tS256: sha256.toString('base64url'),
    thumbprints: {
      sha1: sha1.toString('hex').toUpperCase(),
      sha256: sha256.toString('hex').toUpperCase()
    },
    warnings
  }
}

/**
 * The leaf, then its issuer, that one's issuer and so on, whatever order they were given in
 * (`x5c` must list each certificate before the one that issued it, RFC 7515 §4.1.6), as indexes
 * into `certificates`. Certificates that are not part of the leaf's chain are left out.
 */
function orderChain(leaf: number, certificates: X509Certificate[]): number[] {
  const chain = [leaf]
  for (let current = leaf; ;) {
    const issuer = certificates.findIndex(
      (c, i) => !chain.includes(i) && certificates[current].checkIssued(c)
    )
    if (issuer < 0) return chain
    chain.push(issuer)
    current = issuer
  }
}

/**
 * Whether the certificate holds the private key's RSA public key marked for RSA-PSS only
 * (id-RSASSA-PSS, as NSS `certutil --pss` writes it). node:crypto's checkPrivateKey compares key
 * types too, so such a certificate never matches the plain RSA key it was made from; the public keys
 * themselves (the SubjectPublicKeyInfo's BIT STRING: modulus and exponent) are compared here, so
 * the refusal gives the real reason rather than "does not match".
 */
function isPssMarked(certificate: X509Certificate, privateKey: KeyObject): boolean {
  const publicKey = certificate.publicKey
  if (publicKey.asymmetricKeyType !== 'rsa-pss' || privateKey.asymmetricKeyType !== 'rsa')
    return false
  const bits = (key: KeyObject): Buffer =>
    items(parse(key.export({ format: 'der', type: 'spki' })))[1].bytes
  return bits(publicKey).equals(bits(createPublicKey(privateKey)))
}

/** An RSA-PSS-only key, from PEM or from a PFX: the same message either way. */
function rsaPssError(keyInput: string): InputError {
  return new InputError(
    keyInput,
    `The key in '${keyInput}' is an RSA-PSS-only key (OID id-RSASSA-PSS), which JWT signing does not take: create the certificate with a plain RSA key (openssl req -newkey rsa:2048).`
  )
}

/**
 * Checks that the credential can work before anything is sent: validity dates, key type and size
 * against the algorithm and the server.
 * @returns warnings to show (a certificate close to expiry); the run goes on.
 * @throws {InputError} when the server would refuse the credential.
 */
export function checkCredential(
  credential: Credential,
  options: {
    algorithm: Algorithm
    entra: boolean
    /** The input that held the certificate. */
    input: string
    /** The input that held the key, when not the certificate's. */
    keyInput?: string
    now: Date
  }
): string[] {
  const { algorithm, entra, input, now } = options
  const keyInput = options.keyInput ?? input
  const leaf = credential.chain[0]
  const from = new Date(leaf.validFrom)
  const to = new Date(leaf.validTo)
  // A certificate made minutes ago on a machine whose clock runs ahead is still usable.
  if (now.getTime() + CLOCK_SKEW_MS < from.getTime()) {
    throw new InputError(
      input,
      `The certificate in '${input}' is not valid yet: valid from ${iso(from)} to ${iso(to)}. Check the runner's clock, or use a certificate that is valid now.`
    )
  }
  if (now > to) {
    throw new InputError(
      input,
      `The certificate in '${input}' expired on ${iso(to)} (valid from ${iso(from)}): create a new one, upload it to the app registration, and update the secret.`
    )
  }

  const key = credential.privateKey
  const details = key.asymmetricKeyDetails ?? {}
  if (key.asymmetricKeyType === 'rsa-pss') throw rsaPssError(keyInput)
  if (key.asymmetricKeyType === 'rsa') {
    const bits = details.modulusLength ?? 0
    if (bits < 2048) {
      throw new InputError(
        keyInput,
        `The RSA key in '${keyInput}' has ${bits} bits; at least 2048 are required. Create a new certificate with a 2048-bit (or longer) key.`
      )
    }
    if (algorithm.startsWith('ES')) {
      throw new InputError(
        'algorithm',
        `Input 'algorithm' is ${algorithm}, which needs an EC key, but the key in '${keyInput}' is RSA: use PS256 or RS256.`
      )
    }
  } else if (key.asymmetricKeyType === 'ec') {
    if (entra) {
      throw new InputError(
        keyInput,
        `The key in '${keyInput}' is an EC key; Microsoft Entra ID accepts RSA certificates only. Create an RSA certificate (2048 bits or more).`
      )
    }
    const curve = details.namedCurve
    const expected = curve === 'prime256v1' ? 'ES256' : curve === 'secp384r1' ? 'ES384' : undefined
    if (expected === undefined) {
      throw new InputError(
        keyInput,
        `The EC key in '${keyInput}' uses curve ${curve}; only P-256 (ES256) and P-384 (ES384) are supported.`
      )
    }
    if (algorithm !== expected) {
      throw new InputError(
        'algorithm',
        `Input 'algorithm' is ${algorithm}, but the key in '${keyInput}' is an EC ${curve === 'prime256v1' ? 'P-256' : 'P-384'} key: set algorithm: ${expected}.`
      )
    }
  } else {
    throw new InputError(
      keyInput,
      `The key in '${keyInput}' is ${String(key.asymmetricKeyType)}; use an RSA key (or an EC P-256/P-384 key for servers other than Microsoft Entra ID).`
    )
  }

  const days = Math.floor((to.getTime() - now.getTime()) / DAY_MS)
  const warnings = [...credential.warnings]
  if (days < EXPIRY_WARNING_DAYS) {
    warnings.push(
      `The certificate in '${input}' expires in ${days} day${days === 1 ? '' : 's'} (${iso(to)}): create a new one and ${entra ? 'upload it to the app registration' : 'register it with the server'} before then.`
    )
  }
  return warnings
}

function iso(date: Date): string {
  return date.toISOString().replace('.000Z', 'Z')
}
