// PKCS#12 / PFX reading. node:crypto has no PKCS#12 parser, so node-forge does it: it reads the
// modern encryption (PBES2: PBKDF2 + AES-256-CBC, OpenSSL 3 and current Windows/Key Vault
// exports) and the legacy one (3DES or RC2-40 with a SHA-1 MAC). This module is built into its own
// file and loaded only when a PFX is given, so PEM users never load it. It throws nothing of its
// own: it answers what it found, and credential.ts words the message.
import forge from 'node-forge/lib/forge.js'
import 'node-forge/lib/pkcs12.js'

/** What a PFX holds, as DER: PKCS#8 private keys and X.509 certificates, in file order. */
export type PfxResult =
  | { ok: true; keys: Buffer[]; certificates: Buffer[] }
  | { ok: false; problem: 'not-pfx' | 'password' | 'unreadable' }

/** Decrypts a PFX with its password (none: the empty password, as Windows and OpenSSL use). */
export function readPfx(der: Buffer, password?: string): PfxResult {
  let asn1: forge.asn1.Asn1
  try {
    asn1 = forge.asn1.fromDer(forge.util.createBuffer(der.toString('binary')))
  } catch {
    return { ok: false, problem: 'not-pfx' }
  }
  let p12: forge.pkcs12.Pkcs12Pfx
  try {
    p12 = open(asn1, password ?? '')
  } catch (error) {
    // forge says "Invalid password?" when the MAC check or the key decryption fails.
    const text = error instanceof Error ? error.message : ''
    if (!/password/i.test(text)) return { ok: false, problem: 'unreadable' }
    // A PFX made without a password opens with the empty one, whatever the user set.
    const empty = password ? attempt(() => open(asn1, '')) : undefined
    if (!empty) return { ok: false, problem: 'password' }
    p12 = empty
  }
  const keys: Buffer[] = []
  const certificates: Buffer[] = []
  for (const safe of p12.safeContents) {
    for (const bag of safe.safeBags) {
      // forge leaves key and certificate types it does not model (EC) as ASN.1 in `bag.asn1`.
      const raw = (bag as forge.pkcs12.Bag & { asn1?: forge.asn1.Asn1 }).asn1
      if (bag.type === forge.pki.oids.pkcs8ShroudedKeyBag || bag.type === forge.pki.oids.keyBag) {
        const info = bag.key
          ? forge.pki.wrapRsaPrivateKey(forge.pki.privateKeyToAsn1(bag.key))
          : raw
        if (info) keys.push(toBuffer(info))
      } else if (bag.type === forge.pki.oids.certBag) {
        const cert = bag.cert ? forge.pki.certificateToAsn1(bag.cert) : raw
        if (cert) certificates.push(toBuffer(cert))
      }
    }
  }
  return { ok: true, keys, certificates }
}

function open(asn1: forge.asn1.Asn1, password: string): forge.pkcs12.Pkcs12Pfx {
  try {
    return forge.pkcs12.pkcs12FromAsn1(asn1, false, password)
  } catch (error) {
    // forge checks the MAC with the password as BMPString (right), but derives the PBES2 (AES) key
    // from the low byte of each character, where OpenSSL 3, Windows and Key Vault use UTF-8.
    // With a non-ASCII password the MAC passes and decryption fails: decrypt again with the UTF-8
    // bytes, leaving out the MAC, which the first pass has already verified.
    const text = error instanceof Error ? error.message : ''
    // eslint-disable-next-line no-control-regex
    if (!/decrypt/i.test(text) || /^[\x00-\x7f]*$/.test(password)) throw error
    const withoutMac = forge.asn1.create(
      asn1.tagClass,
      asn1.type,
      asn1.constructed,
      (asn1.value as forge.asn1.Asn1[]).slice(0, 2)
    )
    return forge.pkcs12.pkcs12FromAsn1(withoutMac, false, forge.util.encodeUtf8(password))
  }
}

function attempt<T>(f: () => T): T | undefined {
  try {
    return f()
  } catch {
    return undefined
  }
}

function toBuffer(asn1: forge.asn1.Asn1): Buffer {
  return Buffer.from(forge.asn1.toDer(asn1).getBytes(), 'binary')
}
