// The floor: the same request as the action with nothing but node:https and node:crypto. The key
// and certificate come from INPUT_CERTIFICATE (PEM), the assertion is PS256 with x5t#S256
// (PROTOCOL.md §1), the token is masked and written to GITHUB_OUTPUT. No validation, no retries,
// no error messages: nothing that does this job can cost less.
import {
  constants,
  createHash,
  createPrivateKey,
  randomUUID,
  sign,
  X509Certificate
} from 'node:crypto'
import { appendFileSync } from 'node:fs'
import { request } from 'node:https'

/** @param {string} name */
const input = (name) => process.env[`INPUT_${name.toUpperCase()}`] ?? ''
/** @param {object} value */
const encode = (value) => Buffer.from(JSON.stringify(value)).toString('base64url')

const pem = input('certificate')
const clientId = input('client-id')
const endpoint = input('token-endpoint')
const now = Math.floor(Date.now() / 1000)

const thumbprint = createHash('sha256').update(new X509Certificate(pem).raw).digest('base64url')
const header = encode({ alg: 'PS256', typ: 'JWT', 'x5t#S256': thumbprint })
const claims = encode({
  aud: endpoint,
  iss: clientId,
  sub: clientId,
  jti: randomUUID(),
  nbf: now,
  iat: now,
  exp: now + 600
})
const signature = sign('sha256', Buffer.from(`${header}.${claims}`), {
  key: createPrivateKey(pem),
  padding: constants.RSA_PKCS1_PSS_PADDING,
  saltLength: 32
}).toString('base64url')

const body = new URLSearchParams({
  grant_type: 'client_credentials',
  client_id: clientId,
  scope: input('scope'),
  client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
  client_assertion: `${header}.${claims}.${signature}`
}).toString()

const req = request(endpoint, {
  method: 'POST',
  headers: {
    'content-type': 'application/x-www-form-urlencoded',
    'content-length': Buffer.byteLength(body)
  }
})
req.on('response', (res) => {
  let text = ''
  res.setEncoding('utf8')
  res.on('data', (chunk) => (text += chunk))
  res.on('end', () => {
    if (res.statusCode !== 200) return void (process.exitCode = 1)
    const token = JSON.parse(text).access_token
    const delimiter = `ghadelimiter_${randomUUID()}`
    process.stdout.write(`::add-mask::${token}\n`)
    appendFileSync(
      process.env.GITHUB_OUTPUT ?? '',
      `access-token<<${delimiter}\n${token}\n${delimiter}\n`
    )
  })
})
req.end(body)
