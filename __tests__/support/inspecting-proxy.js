// A corporate proxy that inspects TLS, as many runners reach Azure through: a CONNECT to one of
// `hosts` is answered here with `tls`, a certificate for those hosts that the client was told to
// trust, and each request inside it is recorded (with its Authorization header) and answered by
// that host's handler. A CONNECT to any other host, or a plain request, gets 502. With it, a real
// client that only talks to Azure's own hosts (Azure CLI, Terraform) can be run on loopback.
import { createServer, request } from 'node:http'
import { request as httpsRequest } from 'node:https'
import { isIP } from 'node:net'
import { TLSSocket } from 'node:tls'

/**
 * @typedef {{ host: string, method: string, path: string, authorization: string }} SeenRequest
 * @typedef {(req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse, body: Buffer) => void} Handler
 * @param {{ tls: { keyPem: string, certPem: string }, hosts: Record<string, Handler> }} options
 * @returns {Promise<{ url: string, seen: SeenRequest[], connects: string[], close(): Promise<void> }>}
 */
export async function startInspectingProxy({ tls, hosts }) {
  /** @type {SeenRequest[]} */
  const seen = []
  /** @type {string[]} */
  const connects = []
  /**
   * The host each tunnel was opened for: its handler answers whatever Host the requests name.
   * @type {WeakMap<import('node:net').Socket, string>}
   */
  const tunnels = new WeakMap()
  const inside = createServer((req, res) => {
    const host = tunnels.get(req.socket) ?? ''
    seen.push({
      host,
      method: req.method ?? '',
      path: req.url ?? '',
      authorization: req.headers.authorization ?? ''
    })
    /** @type {Buffer[]} */
    const chunks = []
    req.on('data', (chunk) => chunks.push(chunk))
    req.on('end', () => hosts[host](req, res, Buffer.concat(chunks)))
  })
  const proxy = createServer((req, res) => {
    connects.push(`${req.method} ${req.url}`)
    res.writeHead(502, { Connection: 'close' }).end()
  })
  proxy.on('connect', (req, socket, head) => {
    connects.push(`CONNECT ${req.url}`)
    const host = (req.url ?? '').replace(/:443$/, '')
    if (!Object.hasOwn(hosts, host)) {
      socket.end('HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n')
      return
    }
    if (head.length > 0) socket.unshift(head)
    socket.write('HTTP/1.1 200 Connection Established\r\n\r\n')
    const tunnel = new TLSSocket(socket, { isServer: true, key: tls.keyPem, cert: tls.certPem })
    tunnels.set(tunnel, host)
    inside.emit('connection', tunnel)
  })
  await new Promise((resolve) => proxy.listen(0, '127.0.0.1', () => resolve(undefined)))
  const address = /** @type {import('node:net').AddressInfo} */ (proxy.address())
  return {
    url: `http://127.0.0.1:${address.port}`,
    seen,
    connects,
    close: () =>
      new Promise((resolve) => {
        inside.closeAllConnections()
        proxy.closeAllConnections()
        proxy.close(() => resolve())
      })
  }
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'proxy-connection'])

/**
 * A handler that passes each request on to `url` (the Entra-like server) unchanged, its Host
 * header included, so that server sees the host the client named; `ca` is the server's
 * certificate.
 * @param {string} url @param {string} ca
 * @returns {Handler}
 */
export function forwardTo(url, ca) {
  const target = new URL(url)
  const send = target.protocol === 'https:' ? httpsRequest : request
  return (req, res, body) => {
    const upstream = send(
      {
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        headers: {
          ...Object.fromEntries(
            Object.entries(req.headers).filter(([name]) => !HOP_BY_HOP.has(name))
          ),
          'content-length': String(body.length)
        },
        ca,
        // Its certificate names the server's own host, not the Host header passed on.
        servername: isIP(target.hostname) ? '' : target.hostname
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers)
        answer.pipe(res)
      }
    )
    upstream.on('error', () => res.writeHead(502).end())
    upstream.end(body)
  }
}

/**
 * A handler that answers every request with `status` and `body`: JSON, or XML given as a string.
 * @param {number} status @param {unknown} body @param {Record<string, string>} [headers]
 * @returns {Handler}
 */
export function answer(status, body, headers = {}) {
  const text = typeof body === 'string' ? body : JSON.stringify(body)
  const type = typeof body === 'string' ? 'application/xml' : 'application/json'
  return (_req, res) =>
    res
      .writeHead(status, {
        'Content-Type': type,
        'Content-Length': Buffer.byteLength(text),
        ...headers
      })
      .end(text)
}

/** Blob storage's answer for a container that does not exist (404 ContainerNotFound). */
export const containerNotFound = answer(
  404,
  '<?xml version="1.0" encoding="utf-8"?><Error><Code>ContainerNotFound</Code>' +
    '<Message>The specified container does not exist.</Message></Error>',
  { 'x-ms-error-code': 'ContainerNotFound' }
)
