// An HTTP CONNECT proxy on loopback, as on a self-hosted runner behind a corporate proxy. It records
// every CONNECT target and, since nothing here may leave the machine, tunnels each one to a local
// server instead of the real host.
import { createServer } from 'node:http'
import { connect } from 'node:net'

/**
 * @param {{ port: number, refuse?: number }} target where every tunnel really goes (127.0.0.1:port),
 *   or, with `refuse`, the status the proxy answers every CONNECT with (e.g. 407)
 * @returns {Promise<{ url: string, connects: string[], close(): Promise<void> }>}
 */
export async function startProxy(target) {
  /** @type {string[]} */
  const connects = []
  /** @type {Set<import('node:stream').Duplex>} */
  const sockets = new Set()
  const server = createServer((_, res) => res.writeHead(405).end())
  server.on('connect', (req, client, head) => {
    connects.push(req.url ?? '')
    if (target.refuse) {
      client.end(`HTTP/1.1 ${target.refuse} Refused\r\nContent-Length: 0\r\n\r\n`)
      return
    }
    const upstream = connect(target.port, '127.0.0.1', () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n')
      upstream.write(head)
      upstream.pipe(client)
      client.pipe(upstream)
    })
    for (const socket of [client, upstream]) {
      sockets.add(socket)
      socket.on('error', () => {})
      socket.on('close', () => sockets.delete(socket))
    }
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(undefined)))
  const address = /** @type {import('node:net').AddressInfo} */ (server.address())
  return {
    url: `http://127.0.0.1:${address.port}`,
    connects,
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resolve())
      })
  }
}
