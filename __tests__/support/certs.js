// Throwaway keys and certificates for the tests, made by the tests: node:crypto makes the keys,
// node-forge lays out RSA certificates (any validity dates, chains) and node:crypto signs them,
// openssl makes EC ones.
import { execFileSync } from 'node:child_process'
import { generateKeyPairSync, sign, X509Certificate } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import forge from 'node-forge'

/**
 * A key pair and its certificate.
 * @typedef {{ keyPem: string, certPem: string, key: import('node:crypto').KeyObject, cert: X509Certificate }} TestCert
 */

/**
 * @typedef {object} CertOptions
 * @property {number} [bits] RSA modulus length; default 2048.
 * @property {'P-256' | 'P-384'} [curve] make an EC key on this curve instead of RSA.
 * @property {string} [commonName]
 * @property {Date} [notBefore]
 * @property {Date} [notAfter]
 * @property {TestCert} [issuer] sign with this certificate's key (a chain); self-signed by default.
 * @property {boolean} [ca] mark as a CA (for issuers).
 * @property {string[]} [altNames] subject alternative names: `DNS:localhost`, `IP:127.0.0.1`.
 */

const DAY = 86_400_000
/** forge's pki, with the function its own cert.sign() uses and its typings leave out. */
const pki =
  /** @type {typeof forge.pki & { getTBSCertificate(cert: forge.pki.Certificate): forge.asn1.Asn1 }} */ (
    forge.pki
  )

/**
 * Runs openssl and returns what it printed. On Windows, OpenSSL's programs read their arguments
 * in the ANSI code page, where most non-ASCII characters (of a `pass:` password, say) are lost,
 * unless OPENSSL_WIN32_UTF8 is set: then they read them as UTF-8, as on Linux and macOS.
 * @param {string[]} args
 * @returns {Buffer}
 */
export function runOpenssl(args) {
  return execFileSync('openssl', args, {
    stdio: 'pipe',
    env: { ...process.env, OPENSSL_WIN32_UTF8: '1' }
  })
}

/**
 * Makes a fresh key (RSA 2048 by default, or EC) and a certificate for it.
 * @param {CertOptions} [options]
 * @returns {TestCert}
 */
export function makeCert(options = {}) {
  return options.curve ? makeEcCert(options) : makeRsaCert(options)
}

/** @param {CertOptions} options @returns {TestCert} */
function makeRsaCert(options) {
  const { privateKey: key } = generateKeyPairSync('rsa', { modulusLength: options.bits ?? 2048 })
  const keyPem = key.export({ type: 'pkcs8', format: 'pem' }).toString()
  const forgeKey = forge.pki.privateKeyFromPem(keyPem)
  const cert = forge.pki.createCertificate()
  cert.publicKey = forge.pki.setRsaPublicKey(forgeKey.n, forgeKey.e)
  cert.serialNumber = `01${Math.floor(Math.random() * 1e12).toString(16)}`
  cert.validity.notBefore = options.notBefore ?? new Date(Date.now() - DAY)
  cert.validity.notAfter = options.notAfter ?? new Date(Date.now() + 365 * DAY)
  const subject = [
    { name: 'commonName', value: options.commonName ?? 'certificate-token-action test' }
  ]
  cert.setSubject(subject)
  /** @type {object[]} */
  const extensions = [{ name: 'basicConstraints', cA: options.ca ?? false }]
  if (options.altNames) {
    extensions.push({
      name: 'subjectAltName',
      altNames: options.altNames.map((n) =>
        n.startsWith('IP:')
          ? { type: 7, ip: n.slice(3) }
          : { type: 2, value: n.replace(/^DNS:/, '') }
      )
    })
  }
  cert.setExtensions(extensions)
  if (options.issuer) {
    cert.setIssuer(forge.pki.certificateFromPem(options.issuer.certPem).subject.attributes)
  } else {
    cert.setIssuer(subject)
  }
  // What forge's cert.sign() does, with node:crypto's RSA: forge's own big-number code takes
  // seconds a certificate on Node 21+ (it sees the global `navigator` and picks its slowest path).
  cert.signatureOid = cert.siginfo.algorithmOid = forge.pki.oids.sha256WithRSAEncryption
  cert.tbsCertificate = pki.getTBSCertificate(cert)
  const tbs = Buffer.from(forge.asn1.toDer(cert.tbsCertificate).getBytes(), 'binary')
  cert.signature = sign('sha256', tbs, options.issuer?.key ?? key).toString('binary')
  const certPem = forge.pki.certificateToPem(cert)
  return { keyPem, certPem, key, cert: new X509Certificate(certPem) }
}

/** @param {CertOptions} options @returns {TestCert} */
function makeEcCert(options) {
  const dir = mkdtempSync(join(tmpdir(), 'cert-'))
  try {
    const { privateKey } = generateKeyPairSync('ec', {
      namedCurve: /** @type {string} */ (options.curve)
    })
    const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
    writeFileSync(join(dir, 'key.pem'), keyPem)
    runOpenssl([
      'req',
      '-x509',
      '-new',
      '-key',
      join(dir, 'key.pem'),
      '-out',
      join(dir, 'cert.pem'),
      '-days',
      '365',
      '-subj',
      `/CN=${options.commonName ?? 'certificate-token-action test'}`
    ])
    const certPem = readFileSync(join(dir, 'cert.pem'), 'utf8')
    return { keyPem, certPem, key: privateKey, cert: new X509Certificate(certPem) }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/**
 * A PKCS#12 file made by openssl: modern (AES-256-CBC + PBKDF2) or legacy (3DES/RC2-40, SHA-1 MAC).
 * @param {TestCert} cert
 * @param {{ password?: string, legacy?: boolean, chain?: TestCert[] }} [options]
 * @returns {Buffer}
 */
export function makePfx(cert, options = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'pfx-'))
  try {
    writeFileSync(join(dir, 'key.pem'), cert.keyPem)
    writeFileSync(
      join(dir, 'cert.pem'),
      [cert.certPem, ...(options.chain ?? []).map((c) => c.certPem)].join('')
    )
    const args = [
      'pkcs12',
      '-export',
      '-inkey',
      join(dir, 'key.pem'),
      '-in',
      join(dir, 'cert.pem'),
      '-out',
      join(dir, 'c.pfx')
    ]
    args.push('-passout', `pass:${options.password ?? ''}`)
    if (options.legacy) args.push('-legacy')
    runOpenssl(args)
    return readFileSync(join(dir, 'c.pfx'))
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/**
 * A TLS server certificate for 127.0.0.1/localhost, and its PEM written to a file for NODE_EXTRA_CA_CERTS.
 * @param {string} dir
 * @returns {TestCert & { caFile: string }}
 */
export function makeTlsCert(dir) {
  const tls = makeRsaCert({ commonName: '127.0.0.1', altNames: ['IP:127.0.0.1', 'DNS:localhost'] })
  const caFile = join(dir, 'test-ca.pem')
  writeFileSync(caFile, tls.certPem)
  return { ...tls, caFile }
}
