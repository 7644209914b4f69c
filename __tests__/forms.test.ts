// Every certificate form people hold, run through the built action (dist/index.js) as the runner
// runs it, against the Entra-like HTTPS server (and oidc-provider for EC keys): the forms that must
// work, and the checks that must stop a run before anything is sent, in one line, quoting no secret.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { createHash, randomUUID, type X509Certificate } from 'node:crypto'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { makeCert, makePfx, makeTlsCert, runOpenssl } from './support/certs.js'
import { startEntraServer, type RecordedRequest } from './support/entra-server.js'
import { DEFAULT_SCOPE, startOidcProvider, type OidcProvider } from './support/oidc-provider.js'
import { findLeaks, runAction, type ActionRun } from './support/run-action.js'

type Server = Awaited<ReturnType<typeof startEntraServer>>
type TestCert = ReturnType<typeof makeCert>

const CLIENT = randomUUID()
const TENANT = randomUUID()
const DAY = 86_400_000
const PASSWORD = 'correct horse battery staple'
const WRONG_PASSWORD = 'incorrect horse battery staple'
const dir = mkdtempSync(join(tmpdir(), 'forms-'))
const tls = makeTlsCert(dir)
const env = { NODE_EXTRA_CA_CERTS: tls.caFile }

const rsa = makeCert({ commonName: 'forms' })
const other = makeCert({ commonName: 'another pair' })
const root = makeCert({ ca: true, commonName: 'Forms Root CA' })
const intermediate = makeCert({ ca: true, commonName: 'Forms Intermediate CA', issuer: root })
const leaf = makeCert({ commonName: 'forms leaf', issuer: intermediate })

const pkcs1 = rsa.key.export({ type: 'pkcs1', format: 'pem' }).toString()
const encryptedPkcs8 = rsa.key
  .export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: PASSWORD })
  .toString()
const encryptedPkcs1 = rsa.key
  .export({ type: 'pkcs1', format: 'pem', cipher: 'aes-128-cbc', passphrase: PASSWORD })
  .toString()

/** The base64 lines of a PEM: what no message may quote. */
const keyLines = (pem: string): string[] =>
  pem.split('\n').filter((l) => /^[A-Za-z0-9+/=]{40,}$/.test(l))
/** A PFX as base64, whole and in 64-character pieces: what no message may quote. */
const pfxPieces = (der: Buffer): string[] => {
  const base64 = der.toString('base64')
  return [base64, ...(base64.match(/.{64}/g) ?? [])]
}
/** Everything secret about `rsa`, in every form the tests give it. */
const RSA_SECRETS = [
  ...keyLines(rsa.keyPem),
  ...keyLines(pkcs1),
  ...keyLines(encryptedPkcs8),
  ...keyLines(encryptedPkcs1),
  PASSWORD
]

/** The `x5t#S256` header a PS256 assertion must carry for this certificate. */
const x5tS256 = (cert: X509Certificate): string =>
  createHash('sha256').update(cert.raw).digest('base64url')
/** A date from a certificate, as the action's messages show it. */
const shown = (date: string): string => new Date(date).toISOString().replace('.000Z', 'Z')

let server: Server

beforeAll(async () => {
  server = await startEntraServer({
    apps: [{ clientId: CLIENT, tenantId: TENANT, certificates: [rsa.cert, leaf.cert] }],
    tls: { keyPem: tls.keyPem, certPem: tls.certPem }
  })
})
afterAll(async () => {
  await server.close()
  rmSync(dir, { recursive: true, force: true })
})

interface Result {
  run: ActionRun
  /** The requests this run sent to the Entra-like server. */
  sent: RecordedRequest[]
}

/** Runs the action for the registered app with these certificate inputs. */
async function act(inputs: Record<string, string>, workspace?: string): Promise<Result> {
  const before = server.requests.length
  const run = await runAction(
    {
      'client-id': CLIENT,
      'tenant-id': TENANT,
      scope: 'https://graph.microsoft.com/.default',
      'authority-host': server.url,
      ...inputs
    },
    { env, workspace }
  )
  return { run, sent: server.requests.slice(before) }
}

/** The run got the token the server issued, with an assertion naming `cert`, and leaked nothing. */
function expectToken({ run, sent }: Result, cert: X509Certificate, secrets: string[]): void {
  expect(run.errors).toEqual([])
  expect(run.code).toBe(0)
  expect(sent).toHaveLength(1)
  expect(run.outputs['access-token']).toBe(server.issued.at(-1))
  expect(sent[0].assertion?.header['x5t#S256']).toBe(x5tS256(cert))
  expect(
    findLeaks(run, [run.outputs['access-token'], sent[0].form.client_assertion, ...secrets])
  ).toEqual([])
}

/** The run failed with exactly this one error line, sent nothing and quoted no secret. */
function expectRefused({ run, sent }: Result, message: string, secrets: string[]): void {
  expect(run.errors).toEqual([message])
  expect(run.code).toBe(1)
  expect(sent).toEqual([])
  expect(findLeaks(run, secrets)).toEqual([])
}

describe('PEM forms against an Entra-like server', () => {
  it('gets a token with a PKCS#8 key followed by its certificate', async () => {
    expect(rsa.keyPem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/)
    expectToken(await act({ certificate: rsa.keyPem + rsa.certPem }), rsa.cert, RSA_SECRETS)
  })

  it('gets a token with a PKCS#1 (RSA PRIVATE KEY) key', async () => {
    expect(pkcs1).toMatch(/^-----BEGIN RSA PRIVATE KEY-----\n/)
    expectToken(await act({ certificate: pkcs1 + rsa.certPem }), rsa.cert, RSA_SECRETS)
  })

  it('gets a token with the certificate before the key', async () => {
    expectToken(await act({ certificate: rsa.certPem + rsa.keyPem }), rsa.cert, RSA_SECRETS)
  })

  it('gets a token with an encrypted PKCS#8 key and certificate-password', async () => {
    expect(encryptedPkcs8).toMatch(/^-----BEGIN ENCRYPTED PRIVATE KEY-----\n/)
    const result = await act({
      certificate: encryptedPkcs8 + rsa.certPem,
      'certificate-password': PASSWORD
    })
    expectToken(result, rsa.cert, RSA_SECRETS)
  })

  it('gets a token with a legacy encrypted PKCS#1 key (Proc-Type/DEK-Info) and certificate-password', async () => {
    expect(encryptedPkcs1).toMatch(
      /^-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,[0-9A-F]{32}\n\n/
    )
    const result = await act({
      certificate: rsa.certPem + encryptedPkcs1,
      'certificate-password': PASSWORD
    })
    expectToken(result, rsa.cert, RSA_SECRETS)
  })

  it('gets a token with private-key given apart from a certificate-only certificate', async () => {
    expectToken(
      await act({ certificate: rsa.certPem, 'private-key': pkcs1 }),
      rsa.cert,
      RSA_SECRETS
    )
  })

  it('gets a token with an encrypted private-key given apart, and certificate-password', async () => {
    const result = await act({
      certificate: rsa.certPem,
      'private-key': encryptedPkcs8,
      'certificate-password': PASSWORD
    })
    expectToken(result, rsa.cert, RSA_SECRETS)
  })

  it('sends a shuffled chain in x5c leaf first, then its issuers, with send-x5c', async () => {
    const result = await act({
      certificate: intermediate.certPem + root.certPem + leaf.keyPem + leaf.certPem,
      'send-x5c': 'true'
    })
    expectToken(result, leaf.cert, keyLines(leaf.keyPem))
    expect(result.sent[0].assertion?.header.x5c).toEqual([
      leaf.cert.raw.toString('base64'),
      intermediate.cert.raw.toString('base64'),
      root.cert.raw.toString('base64')
    ])
  })
})

describe('secrets as people store them', () => {
  const pfxBase64 = makePfx(rsa, { password: PASSWORD }).toString('base64')
  const stored: [string, string, Record<string, string>][] = [
    ['a PEM key and certificate', rsa.keyPem + rsa.certPem, {}],
    [
      'a legacy encrypted PKCS#1 key and certificate',
      encryptedPkcs1 + rsa.certPem,
      { 'certificate-password': PASSWORD }
    ],
    [
      'a base64 PFX wrapped at 76 columns',
      `${pfxBase64.match(/.{1,76}/g)?.join('\n')}\n`,
      { 'certificate-password': PASSWORD }
    ]
  ]
  const mangles: [string, (text: string) => string][] = [
    ['CRLF line ends', (text) => text.replace(/\n/g, '\r\n')],
    ['one line with literal \\n sequences', (text) => text.replace(/\n/g, '\\n')],
    [
      'indentation and surrounding blank lines and spaces',
      (text) => `\n  \n\n${text.replace(/^(?=.)/gm, '    ')}  \n \n\n`
    ]
  ]

  describe.each(stored)('%s', (_, text, extra) => {
    it.each(mangles)('works as stored with %s', async (_, mangle) => {
      const certificate = mangle(text)
      expect(certificate).not.toBe(text)
      expectToken(await act({ certificate, ...extra }), rsa.cert, [
        ...RSA_SECRETS,
        ...pfxPieces(Buffer.from(pfxBase64, 'base64'))
      ])
    })
  })
})

describe.each([
  ['modern (AES-256, PBKDF2), with a password', { password: PASSWORD }],
  ['modern (AES-256, PBKDF2), without a password', {}],
  ['legacy (3DES/RC2-40, SHA-1 MAC), with a password', { password: PASSWORD, legacy: true }],
  ['legacy (3DES/RC2-40, SHA-1 MAC), without a password', { legacy: true }]
])('a %s PFX', (name, options: { password?: string; legacy?: boolean }) => {
  const pfx = makePfx(rsa, options)
  const file = join(dir, `${name.replace(/\W+/g, '-')}.pfx`)
  writeFileSync(file, pfx)
  const password: Record<string, string> =
    options.password === undefined ? {} : { 'certificate-password': options.password }
  const secrets = [...RSA_SECRETS, ...pfxPieces(pfx)]

  it('gets a token as base64 in certificate', async () => {
    const result = await act({ certificate: pfx.toString('base64'), ...password })
    expectToken(result, rsa.cert, secrets)
  })

  it('gets a token as a binary file in certificate-file', async () => {
    expect(pfx[0]).toBe(0x30)
    expectToken(await act({ 'certificate-file': file, ...password }), rsa.cert, secrets)
  })
})

describe('PFX details', () => {
  it('sends the chain a PFX holds in x5c leaf first, with send-x5c', async () => {
    const pfx = makePfx(leaf, { password: PASSWORD, chain: [root, intermediate] })
    const result = await act({
      certificate: pfx.toString('base64'),
      'certificate-password': PASSWORD,
      'send-x5c': 'true'
    })
    expectToken(result, leaf.cert, [...keyLines(leaf.keyPem), ...pfxPieces(pfx), PASSWORD])
    expect(result.sent[0].assertion?.header.x5c).toEqual([
      leaf.cert.raw.toString('base64'),
      intermediate.cert.raw.toString('base64'),
      root.cert.raw.toString('base64')
    ])
  })

  it('reads the PEM that openssl pkcs12 -nodes writes (Bag Attributes, subject= and issuer=)', async () => {
    const file = join(dir, 'to-pem.pfx')
    writeFileSync(file, makePfx(rsa, { password: PASSWORD }))
    const pem = runOpenssl([
      'pkcs12',
      '-in',
      file,
      '-nodes',
      '-passin',
      `pass:${PASSWORD}`
    ]).toString()
    // With CRLF on Windows, where openssl writes text as the system does.
    expect(pem).toMatch(/^Bag Attributes\r?\n {4}localKeyID: [0-9A-F ]+\r?\n/)
    expect(pem).toContain('\nsubject=')
    expectToken(await act({ certificate: pem }), rsa.cert, [...RSA_SECRETS, ...keyLines(pem)])
  })

  // OpenSSL 3, Windows and Key Vault derive the PBES2 key from the UTF-8 bytes of the password
  // (and the MAC key from its BMPString); a non-ASCII password is an ordinary password.
  it.each([
    ['modern', false],
    ['legacy', true]
  ])('opens a %s PFX whose password is not ASCII', async (_, legacy) => {
    const password = 'Pässwörd-für-Zertifikat'
    const pfx = makePfx(rsa, { password, legacy })
    const result = await act({
      certificate: pfx.toString('base64'),
      'certificate-password': password
    })
    expectToken(result, rsa.cert, [...RSA_SECRETS, ...pfxPieces(pfx), password])
  })
})

describe('certificate-file', () => {
  it('reads a PEM file relative to the workspace', async () => {
    const workspace = mkdtempSync(join(dir, 'workspace-'))
    mkdirSync(join(workspace, 'certs'))
    writeFileSync(join(workspace, 'certs', 'client.pem'), rsa.keyPem + rsa.certPem)
    const result = await act({ 'certificate-file': 'certs/client.pem' }, workspace)
    expectToken(result, rsa.cert, RSA_SECRETS)
  })

  it('reads a PEM file by its absolute path, whatever the workspace', async () => {
    const file = join(dir, 'absolute.pem')
    writeFileSync(file, rsa.certPem + encryptedPkcs1)
    const workspace = mkdtempSync(join(dir, 'workspace-'))
    const result = await act(
      { 'certificate-file': file, 'certificate-password': PASSWORD },
      workspace
    )
    expectToken(result, rsa.cert, RSA_SECRETS)
  })

  it('reads a binary PFX file relative to the workspace', async () => {
    const workspace = mkdtempSync(join(dir, 'workspace-'))
    const pfx = makePfx(rsa, { password: PASSWORD })
    writeFileSync(join(workspace, 'client.pfx'), pfx)
    const result = await act(
      { 'certificate-file': 'client.pfx', 'certificate-password': PASSWORD },
      workspace
    )
    expectToken(result, rsa.cert, [...RSA_SECRETS, ...pfxPieces(pfx)])
  })
})

describe('EC keys against a generic OAuth server (oidc-provider)', () => {
  const p256 = makeCert({ curve: 'P-256', commonName: 'ec p-256' })
  const p384 = makeCert({ curve: 'P-384', commonName: 'ec p-384' })
  const sec1 = (cert: TestCert): string =>
    cert.key.export({ type: 'sec1', format: 'pem' }).toString()
  // What `openssl ecparam -name prime256v1 -genkey` writes before the key.
  const p256Parameters =
    '-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n'
  const pfx = makePfx(p256, { password: PASSWORD })
  let provider: OidcProvider

  beforeAll(async () => {
    provider = await startOidcProvider({
      clients: [
        { clientId: 'ec-p256', publicKeyPem: p256.certPem, alg: 'ES256' },
        { clientId: 'ec-p384', publicKeyPem: p384.certPem, alg: 'ES384' }
      ],
      tls: { keyPem: tls.keyPem, certPem: tls.certPem }
    })
  })
  afterAll(async () => provider?.close())

  it.each([
    ['an EC PRIVATE KEY (SEC1) on P-256 with ES256', p256, 'ES256', sec1(p256)],
    ['a PKCS#8 EC key on P-256 with ES256', p256, 'ES256', p256.keyPem],
    ['an EC PRIVATE KEY (SEC1) on P-384 with ES384', p384, 'ES384', sec1(p384)],
    ['a PKCS#8 EC key on P-384 with ES384', p384, 'ES384', p384.keyPem],
    ['EC PARAMETERS before the SEC1 key', p256, 'ES256', p256Parameters + sec1(p256)]
  ])('gets a token with %s', async (_, cert, algorithm, keyPem) => {
    expect(keyPem).toMatch(
      keyPem === cert.keyPem
        ? /^-----BEGIN PRIVATE KEY-----\n/
        : /^(-----BEGIN EC PARAMETERS-----\n.*\n.*\n)?-----BEGIN EC PRIVATE KEY-----\n/
    )
    await expectGenericToken(
      cert,
      algorithm,
      { certificate: keyPem + cert.certPem },
      keyLines(keyPem)
    )
  })

  it('gets a token with an EC key in a PFX', async () => {
    await expectGenericToken(
      p256,
      'ES256',
      { certificate: pfx.toString('base64'), 'certificate-password': PASSWORD },
      [...keyLines(p256.keyPem), ...pfxPieces(pfx), PASSWORD]
    )
  })

  /** Runs the action against oidc-provider and checks what it issued and what it was sent. */
  async function expectGenericToken(
    cert: TestCert,
    algorithm: string,
    inputs: Record<string, string>,
    secrets: string[]
  ): Promise<void> {
    const clientId = cert === p256 ? 'ec-p256' : 'ec-p384'
    const before = provider.requests.length
    const run = await runAction(
      {
        'client-id': clientId,
        scope: DEFAULT_SCOPE,
        'token-endpoint': provider.tokenEndpoint,
        algorithm,
        ...inputs
      },
      { env }
    )
    expect(run.errors).toEqual([])
    expect(run.code).toBe(0)
    const requests = provider.requests.slice(before)
    expect(requests).toHaveLength(1)
    expect(requests[0].error).toBeUndefined()
    expect(requests[0].header).toEqual({
      alg: algorithm,
      typ: 'JWT',
      'x5t#S256': x5tS256(cert.cert)
    })
    const token = run.outputs['access-token']
    expect(await provider.introspect(token)).toMatchObject({ active: true, clientId })
    expect(findLeaks(run, [token, requests[0].assertion ?? 'none', ...secrets])).toEqual([])
  }
})

describe('checks before any request', () => {
  const password = { 'certificate-password': PASSWORD }
  const wrong = { 'certificate-password': WRONG_PASSWORD }
  const secrets = [...RSA_SECRETS, WRONG_PASSWORD]

  it('refuses a key that does not match the certificate', async () => {
    expectRefused(
      await act({ certificate: rsa.keyPem + other.certPem }),
      "The private key does not match the certificate in 'certificate' (no certificate there has the key's public key): give the key and the certificate of the same pair.",
      secrets
    )
  })

  it('refuses an expired certificate, with its dates', async () => {
    const expired = makeCert({
      notBefore: new Date(Date.now() - 400 * DAY),
      notAfter: new Date(Date.now() - 2 * DAY)
    })
    server.apps[0].certificates.push(expired.cert)
    expectRefused(
      await act({ certificate: expired.keyPem + expired.certPem }),
      `The certificate in 'certificate' expired on ${shown(expired.cert.validTo)} (valid from ${shown(expired.cert.validFrom)}): create a new one, upload it to the app registration, and update the secret.`,
      keyLines(expired.keyPem)
    )
  })

  it('refuses a certificate that is not valid yet, with its dates', async () => {
    const future = makeCert({
      notBefore: new Date(Date.now() + 2 * DAY),
      notAfter: new Date(Date.now() + 400 * DAY)
    })
    server.apps[0].certificates.push(future.cert)
    expectRefused(
      await act({ certificate: future.keyPem + future.certPem }),
      `The certificate in 'certificate' is not valid yet: valid from ${shown(future.cert.validFrom)} to ${shown(future.cert.validTo)}. Check the runner's clock, or use a certificate that is valid now.`,
      keyLines(future.keyPem)
    )
  })

  it('warns with the days left when the certificate expires within 30 days, and still gets the token', async () => {
    const soon = makeCert({ notAfter: new Date(Date.now() + 10.5 * DAY) })
    server.apps[0].certificates.push(soon.cert)
    const result = await act({ certificate: soon.keyPem + soon.certPem })
    expectToken(result, soon.cert, keyLines(soon.keyPem))
    expect(result.run.warnings).toEqual([
      `The certificate in 'certificate' expires in 10 days (${shown(soon.cert.validTo)}): create a new one and upload it to the app registration before then.`
    ])
  })

  it('refuses an RSA key shorter than 2048 bits', async () => {
    const short = makeCert({ bits: 1024 })
    server.apps[0].certificates.push(short.cert)
    expectRefused(
      await act({ certificate: short.keyPem + short.certPem }),
      "The RSA key in 'certificate' has 1024 bits; at least 2048 are required. Create a new certificate with a 2048-bit (or longer) key.",
      keyLines(short.keyPem)
    )
  })

  describe('EC keys', () => {
    const ec = makeCert({ curve: 'P-256' })
    const sec1 = ec.key.export({ type: 'sec1', format: 'pem' }).toString()
    const ecSecrets = [...keyLines(ec.keyPem), ...keyLines(sec1)]

    it.each([
      ['PKCS#8', ec.keyPem],
      ['SEC1', sec1]
    ])('refuses a %s EC key against Microsoft Entra ID', async (_, keyPem) => {
      expectRefused(
        await act({ certificate: keyPem + ec.certPem }),
        "The key in 'certificate' is an EC key; Microsoft Entra ID accepts RSA certificates only. Create an RSA certificate (2048 bits or more).",
        ecSecrets
      )
    })

    it('refuses ES256 against Microsoft Entra ID', async () => {
      expectRefused(
        await act({ certificate: sec1 + ec.certPem, algorithm: 'ES256' }),
        "Input 'algorithm' is ES256, but Microsoft Entra ID accepts RSA certificates only: use PS256 (the default) or RS256, or set 'token-endpoint' for a server that accepts EC keys.",
        ecSecrets
      )
    })

    it('refuses an algorithm that does not fit the curve, on another server', async () => {
      expectRefused(
        await act({
          certificate: sec1 + ec.certPem,
          'token-endpoint': server.tokenUrl(TENANT),
          algorithm: 'ES384'
        }),
        "Input 'algorithm' is ES384, but the key in 'certificate' is an EC P-256 key: set algorithm: ES256.",
        ecSecrets
      )
    })
  })

  it.each([
    ['an encrypted PKCS#8 key', encryptedPkcs8],
    ['a legacy encrypted PKCS#1 key', encryptedPkcs1]
  ])('says the password of %s is wrong', async (_, keyPem) => {
    expectRefused(
      await act({ certificate: keyPem + rsa.certPem, ...wrong }),
      "The private key in 'certificate' could not be decrypted: 'certificate-password' is wrong.",
      secrets
    )
  })

  it.each([
    ['an encrypted PKCS#8 key', encryptedPkcs8],
    ['a legacy encrypted PKCS#1 key', encryptedPkcs1]
  ])('asks for certificate-password for %s', async (_, keyPem) => {
    expectRefused(
      await act({ certificate: keyPem + rsa.certPem }),
      "The private key in 'certificate' is encrypted: set 'certificate-password' to its passphrase.",
      secrets
    )
  })

  it('names private-key when its encrypted key cannot be decrypted', async () => {
    expectRefused(
      await act({ certificate: rsa.certPem, 'private-key': encryptedPkcs1, ...wrong }),
      "The private key in 'private-key' could not be decrypted: 'certificate-password' is wrong.",
      secrets
    )
  })

  describe.each([
    ['modern', false],
    ['legacy', true]
  ])('a %s PFX with a password', (_, legacy) => {
    const pfx = makePfx(rsa, { password: PASSWORD, legacy })
    const pfxSecrets = [...secrets, ...pfxPieces(pfx)]

    it('is refused with a wrong password', async () => {
      expectRefused(
        await act({ certificate: pfx.toString('base64'), ...wrong }),
        "The PFX in 'certificate' could not be opened: 'certificate-password' is wrong.",
        pfxSecrets
      )
    })

    it('is refused without certificate-password', async () => {
      expectRefused(
        await act({ certificate: pfx.toString('base64') }),
        "The PFX in 'certificate' is protected by a password: set 'certificate-password'.",
        pfxSecrets
      )
    })

    it('names certificate-file when it comes from a file', async () => {
      const file = join(dir, `wrong-${legacy}.pfx`)
      writeFileSync(file, pfx)
      expectRefused(
        await act({ 'certificate-file': file, ...wrong }),
        "The PFX in 'certificate-file' could not be opened: 'certificate-password' is wrong.",
        pfxSecrets
      )
    })
  })

  it.each([
    ['a client secret', 'Xy8Q~abcdefghijklmnopqrstuvwxyz.0123456_'],
    ['a sentence', 'the certificate is in the vault']
  ])('refuses %s: neither PEM nor base64', async (_, certificate) => {
    expectRefused(
      await act({ certificate }),
      "Input 'certificate' is neither PEM (-----BEGIN CERTIFICATE----- and a private key) nor base64 of a PKCS#12/PFX file.",
      [...secrets, certificate]
    )
  })

  it('refuses base64 that is not a PFX', async () => {
    const certificate = Buffer.from('not a pfx at all, just text. '.repeat(8)).toString('base64')
    expectRefused(
      await act({ certificate }),
      "Input 'certificate' is neither PEM (-----BEGIN CERTIFICATE----- and a private key) nor a readable PKCS#12/PFX file.",
      [certificate]
    )
  })

  it('says a PEM text cut short is truncated', async () => {
    const text = rsa.keyPem + rsa.certPem
    expectRefused(
      await act({ certificate: text.slice(0, text.length - 200) }),
      "Input 'certificate' holds a PEM block without its matching -----END ...----- line: the text is truncated. Paste the whole file.",
      secrets
    )
  })

  it('says a key cut short is truncated, whatever comes first', async () => {
    expectRefused(
      await act({ certificate: rsa.certPem + rsa.keyPem.slice(0, 600) }),
      "Input 'certificate' holds a PEM block without its matching -----END ...----- line: the text is truncated. Paste the whole file.",
      secrets
    )
  })

  it('says a certificate with a damaged body is not a valid certificate', async () => {
    const damaged = rsa.certPem.slice(0, 200) + rsa.certPem.slice(240)
    expectRefused(
      await act({ certificate: rsa.keyPem + damaged }),
      "Input 'certificate' holds a CERTIFICATE block that is not a valid X.509 certificate (truncated or damaged).",
      secrets
    )
  })

  it('refuses a key with no certificate, saying where the thumbprint comes from', async () => {
    expectRefused(
      await act({ certificate: rsa.keyPem }),
      "Input 'certificate' holds a private key but no certificate: add the certificate (-----BEGIN CERTIFICATE-----). The thumbprint the server uses to find your key comes from the certificate.",
      secrets
    )
  })

  it('refuses private-key with neither certificate nor certificate-file', async () => {
    expectRefused(
      await act({ 'private-key': rsa.keyPem }),
      "Input 'private-key' is set but 'certificate' and 'certificate-file' are empty. If the certificate comes from a secret, that secret is empty in this run: pull requests from forks and Dependabot get no secrets, the secret's name may be misspelt, or it is an environment secret and the job has no 'environment:' naming that environment. Set 'certificate' (or 'certificate-file') to the certificate PEM too; the thumbprint the server matches comes from the certificate.",
      secrets
    )
  })

  it('refuses a certificate with no private key', async () => {
    expectRefused(
      await act({ certificate: rsa.certPem }),
      "Input 'certificate' holds no private key: add the private key to it (PEM), or set 'private-key', or give a PFX that contains the key.",
      secrets
    )
  })

  it('refuses two private keys', async () => {
    expectRefused(
      await act({ certificate: rsa.keyPem + rsa.certPem, 'private-key': other.keyPem }),
      'The inputs hold 2 private keys: keep only the one that belongs to the certificate.',
      [...secrets, ...keyLines(other.keyPem)]
    )
  })

  it('refuses certificate and certificate-file together', async () => {
    const file = join(dir, 'both.pem')
    writeFileSync(file, rsa.keyPem + rsa.certPem)
    expectRefused(
      await act({ certificate: rsa.keyPem + rsa.certPem, 'certificate-file': file }),
      "Inputs 'certificate' and 'certificate-file' are both set: keep one of them.",
      secrets
    )
  })

  it('names the resolved path of a certificate-file that does not exist', async () => {
    const workspace = mkdtempSync(join(dir, 'workspace-'))
    expectRefused(
      await act({ 'certificate-file': 'certs/missing.pfx', ...password }, workspace),
      `Input 'certificate-file': ${join(workspace, 'certs', 'missing.pfx')} does not exist. Relative paths are resolved against the workspace (GITHUB_WORKSPACE).`,
      secrets
    )
  })

  it('names both ways out when there is no credential input and no OIDC token', async () => {
    const result = await act({})
    expectRefused(
      result,
      "No credential: 'certificate' and 'certificate-file' are empty, and the job has no GitHub OIDC token. If the certificate comes from a secret, that secret is empty in this run: pull requests from forks and Dependabot get no secrets, the secret's name may be misspelt, or it is an environment secret and the job has no 'environment:' naming that environment. To sign in without a certificate, add 'permissions: id-token: write' to the job to use GitHub OIDC federation.",
      secrets
    )
  })
})
