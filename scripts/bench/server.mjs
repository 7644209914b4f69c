// The benchmark's token server: HTTPS on 127.0.0.1, answers every client-credentials POST with a
// fresh random token the way Entra does (PROTOCOL.md §1), and the OpenID configuration if a
// client asks for it. It does not check the assertion (the tests do that); it only logs each
// request, so the benchmark can show that every contender really sent one and got its token.
import { randomBytes } from 'node:crypto'
import { createServer } from 'node:https'

/**
 * One request the server answered.
 * @typedef {{ method: string, path: string, clientId?: string, status: number }} LoggedRequest
 */

/**
 * @typedef {object} TokenServer
 * @property {string} origin `https://127.0.0.1:PORT`
 * @property {LoggedRequest[]} requests every request, in order
 * @property {Set<string>} issued every access token handed out
 * @property {() => Promise<void>} close
 */

/**
 * Starts the server on a free loopback port.
 * @param {{ keyPem: string, certPem: string }} tls the server's key and certificate
 * @returns {Promise<TokenServer>}
 */
export async function startTokenServer(tls) {
  /** @type {LoggedRequest[]} */
  const requests = []
  /** @type {Set<string>} */
  const issued = new Set()

  const server = createServer({ key: tls.keyPem, cert: tls.certPem }, (req, res) => {
    let body = ''
    req.setEncoding('utf8')
    req.on('data', (chunk) => (body += chunk))
    req.on('end', () => {
      const url = new URL(req.url ?? '/', origin)
      const form = new URLSearchParams(body)
      const entry = { method: req.method ?? '', path: url.pathname, status: 200 }
      /** @type {object} */
      let answer
      if (req.method === 'POST' && url.pathname.endsWith('/oauth2/v2.0/token')) {
        Object.assign(entry, { clientId: form.get('client_id') ?? undefined })
        if (form.get('grant_type') !== 'client_credentials' || !form.get('client_assertion')) {
          entry.status = 400
          answer = { error: 'invalid_request', error_description: 'not a client assertion' }
        } else {
          const token = randomBytes(32).toString('base64url')
          issued.add(token)
          answer = {
            token_type: 'Bearer',
            expires_in: 3599,
            ext_expires_in: 3599,
            access_token: token
          }
        }
      } else if (
        req.method === 'GET' &&
        url.pathname.endsWith('/.well-known/openid-configuration')
      ) {
        answer = openIdConfiguration(`${origin}${url.pathname.split('/')[1]}`)
      } else {
        entry.status = 404
        answer = { error: 'not_found' }
      }
      requests.push(entry)
      const text = JSON.stringify(answer)
      res.writeHead(entry.status, {
        'content-type': 'application/json; charset=utf-8',
        'content-length': Buffer.byteLength(text)
      })
      res.end(text)
    })
  })

  await new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(undefined)))
  const address = /** @type {import('node:net').AddressInfo} */ (server.address())
  const origin = `https://127.0.0.1:${address.port}/`
  return {
    origin: origin.slice(0, -1),
    requests,
    issued,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      })
  }
}

/**
 * The OpenID configuration of a tenant (an Entra-shaped v2.0 document).
 * @param {string} authority `https://127.0.0.1:PORT/<tenant>`
 */
export function openIdConfiguration(authority) {
  return {
    issuer: `${authority}/v2.0`,
    token_endpoint: `${authority}/oauth2/v2.0/token`,
    authorization_endpoint: `${authority}/oauth2/v2.0/authorize`,
    end_session_endpoint: `${authority}/oauth2/v2.0/logout`,
    jwks_uri: `${authority}/discovery/v2.0/keys`,
    token_endpoint_auth_methods_supported: ['private_key_jwt', 'client_secret_post'],
    response_types_supported: ['code', 'id_token', 'token'],
    subject_types_supported: ['pairwise'],
    id_token_signing_alg_values_supported: ['RS256']
  }
}
