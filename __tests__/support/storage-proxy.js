// A corporate proxy that inspects TLS, in front of one Blob storage account: a CONNECT to `host`
// is answered here, with a certificate for that host that the client was told to trust, and every
// request inside it is recorded with its Authorization header and answered as Blob storage answers
// for a container that does not exist. A client that reaches it has sent the bearer token it
// would have sent to Azure. A CONNECT to any other host gets 502.
import { createServer } from 'node:http'
import { TLSSocket } from 'node:tls'

/**
 * @typedef {{ method: string, path: string, authorization: string }} StorageRequest
 * @param {{ host: string, tls: { keyPem: string, certPem: string } }} options
 * @returns {Promise<{ url: string, seen: StorageRequest[], connects: string[], close(): Promise<void> }>}
 */
export async function startStorageProxy({ host, tls }) {
  /** @type {StorageRequest[]} */
  const seen = []
  /** @type {string[]} */
  const connects = []
  const notFound =
    '<?xml version="1.0" encoding="utf-8"?><Error><Code>ContainerNotFound</Code>' +
    '<Message>The specified container does not exist.</Message></Error>'
  const storage = createServer((req, res) => {
    seen.push({
      method: req.method ?? '',
      path: req.url ?? '',
      authorization: req.headers.authorization ?? ''
    })
    res
      .writeHead(404, {
        'Content-Type': 'application/xml',
        'x-ms-error-code': 'ContainerNotFound',
        'Content-Length': Buffer.byteLength(notFound)
      })
      .end(notFound)
  })
  const proxy = createServer((req, res) => {
    connects.push(`${req.method} ${req.url}`)
    res.writeHead(502, { Connection: 'close' }).end()
  })
  proxy.on('connect', (req, socket, head) => {
    connects.push(`CONNECT ${req.url}`)
    if (req.url !== `${host}:443`) {
      socket.end('HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n')
      return
    }
    if (head.length > 0) socket.unshift(head)
    socket.write('HTTP/1.1 200 Connection Established\r\n\r\n')
    storage.emit(
      'connection',
      new TLSSocket(socket, { isServer: true, key: tls.keyPem, cert: tls.certPem })
    )
  })
  await new Promise((resolve) => proxy.listen(0, '127.0.0.1', () => resolve(undefined)))
  const address = /** @type {import('node:net').AddressInfo} */ (proxy.address())
  return {
    url: `http://127.0.0.1:${address.port}`,
    seen,
    connects,
    close: () =>
      new Promise((resolve) => {
        storage.closeAllConnections()
        proxy.closeAllConnections()
        proxy.close(() => resolve())
      })
  }
}
