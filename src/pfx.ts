// PKCS#12 / PFX reading. node:crypto has no PKCS#12 parser, so node-forge does it: it reads the
// modern encryption (PBES2: PBKDF2 + AES-256-CBC, OpenSSL 3 and current Windows/Key Vault
// exports) and the legacy one (3DES or RC2-40 with a SHA-1 MAC). This module is imported only when
// a PFX is given, so PEM users never load it.
import forge from 'node-forge/lib/forge.js'
import 'node-forge/lib/pkcs12.js'
import { InputError } from './errors.js'

/** What a PFX holds, as DER: PKCS#8 private keys and X.509 certificates, in file order. */
export interface PfxContents {
  keys: Buffer[]
  certificates: Buffer[]
}

/**
 * Decrypts a PFX with its password (none: the empty password, as Windows and OpenSSL use).
 * @param input the input it came from, for messages.
 * @throws {InputError} on a wrong or missing password, or bytes that are not a PFX.
 */
export function readPfx(der: Buffer, input: string, password?: string): PfxContents {
  let asn1: forge.asn1.Asn1
  try {
    asn1 = forge.asn1.fromDer(forge.util.createBuffer(der.toString('binary')))
  } catch {
    throw new InputError(
      input,
      `Input '${input}' is neither PEM (-----BEGIN CERTIFICATE----- and a private key) nor a readable PKCS#12/PFX file.`
    )
  }
  const p12 = open(asn1, input, password)
  const contents: PfxContents = { keys: [], certificates: [] }
  for (const safe of p12.safeContents) {
    for (const bag of safe.safeBags) {
      // forge leaves key types it does not model (EC) as ASN.1 in `bag.asn1`.
      const raw = bag as forge.pkcs12.Bag & { asn1?: forge.asn1.Asn1 }
      if (bag.type === forge.pki.oids.pkcs8ShroudedKeyBag || bag.type === forge.pki.oids.keyBag) {
        const info = bag.key
          ? forge.pki.wrapRsaPrivateKey(forge.pki.privateKeyToAsn1(bag.key))
          : raw.asn1
        if (info) contents.keys.push(toBuffer(info))
      } else if (bag.type === forge.pki.oids.certBag) {
        const cert = bag.cert ? forge.pki.certificateToAsn1(bag.cert) : raw.asn1
        if (cert) contents.certificates.push(toBuffer(cert))
      }
    }
  }
  return contents
}

function open(asn1: forge.asn1.Asn1, input: string, password?: string): forge.pkcs12.Pkcs12Pfx {
  try {
    return forge.pkcs12.pkcs12FromAsn1(asn1, false, password ?? '')
  } catch (error) {
    const text = error instanceof Error ? error.message : ''
    // forge's messages for a failed MAC check or key decryption; nothing else is shown.
    if (/password/i.test(text)) {
      throw password === undefined
        ? new InputError(
            'certificate-password',
            `The PFX in '${input}' is protected by a password: set 'certificate-password'.`
          )
        : new InputError(
            'certificate-password',
            `The PFX in '${input}' could not be opened: 'certificate-password' is wrong.`
          )
    }
    throw new InputError(
      input,
      `Input '${input}' is not a PKCS#12/PFX file that can be read (damaged, truncated, or an unsupported encryption).`
    )
  }
}

function toBuffer(asn1: forge.asn1.Asn1): Buffer {
  return Buffer.from(forge.asn1.toDer(asn1).getBytes(), 'binary')
}
