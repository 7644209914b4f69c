// A forward proxy on loopback that records every request it gets, plain (`GET http://…`) or CONNECT,
// with its header names, and forwards none: a request for the token service that reaches it has
// left the machine's loopback on a real runner, and its `X-IDENTITY-HEADER` with it.
import { createServer } from 'node:http'

/**
 * @returns {Promise<{ url: string, seen: { method: string, target: string, headers: string[] }[],
 *   close(): Promise<void> }>}
 */
export async function startRecordingProxy() {
  /** @type {{ method: string, target: string, headers: string[] }[]} */
  const seen = []
  const record = (/** @type {import('node:http').IncomingMessage} */ req) =>
    seen.push({
      method: req.method ?? '',
      target: req.url ?? '',
      headers: Object.keys(req.headers)
    })
  const server = createServer((req, res) => {
    record(req)
    res.writeHead(502, { Connection: 'close' }).end()
  })
  server.on('connect', (req, socket) => {
    record(req)
    socket.end('HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n')
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(undefined)))
  const address = /** @type {import('node:net').AddressInfo} */ (server.address())
  return {
    url: `http://127.0.0.1:${address.port}`,
    seen,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      })
  }
}
