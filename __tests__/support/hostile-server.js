// A hostile or broken token server on loopback, written on raw TCP so that it can send what no
// well-behaved HTTP library would: workflow-command injection in every field that reaches the log,
// bodies of every size and speed, malformed HTTP, statuses outside 100-599, deeply nested JSON. And
// a proxy that accepts connections and never answers their CONNECT.
//
// Each attack is a path: POST http://127.0.0.1:PORT/<attack> runs the attack's handler, which gets
// the request (its form, the number of the attempt for this path) and the socket.
import { createServer } from 'node:net'

/**
 * @typedef {object} HostileRequest
 * @property {string} method
 * @property {string} path
 * @property {Record<string, string>} headers lower-cased names
 * @property {Record<string, string>} form the form body, decoded
 * @property {number} attempt 1 for the first request to this path, 2 for the second, ...
 */

/** @typedef {(req: HostileRequest, socket: import('node:net').Socket) => void} Attack */

/** A token that looks like Entra's (a JWT), unique per call. */
let issued = 0
export function makeToken() {
  issued++
  const part = (/** @type {object} */ o) => Buffer.from(JSON.stringify(o)).toString('base64url')
  return `${part({ alg: 'RS256', typ: 'JWT' })}.${part({ aud: 'https://graph.microsoft.com', n: issued, pad: 'x'.repeat(40) })}.${Buffer.alloc(64, issued).toString('base64url')}`
}

/**
 * Writes a whole HTTP/1.1 answer and closes the connection.
 * @param {import('node:net').Socket} socket
 * @param {number | string} status
 * @param {string | Buffer} body
 * @param {Record<string, string | Buffer>} [headers]
 */
export function answer(socket, status, body, headers = {}) {
  const bytes = Buffer.isBuffer(body) ? body : Buffer.from(body)
  /** @type {Buffer[]} */
  const lines = [Buffer.from(`HTTP/1.1 ${status} Whatever\r\nConnection: close\r\n`)]
  const all = {
    'Content-Type': 'application/json',
    'Content-Length': String(bytes.length),
    ...headers
  }
  for (const [name, value] of Object.entries(all)) {
    lines.push(
      Buffer.from(`${name}: `),
      Buffer.isBuffer(value) ? value : Buffer.from(String(value)),
      Buffer.from('\r\n')
    )
  }
  socket.end(Buffer.concat([...lines, Buffer.from('\r\n'), bytes]))
}

/**
 * Starts the server with the given attacks.
 * @param {Record<string, Attack>} attacks
 * @returns {Promise<{ url: string, requests: HostileRequest[], open: number, close(): Promise<void> }>}
 */
export async function startHostileServer(attacks) {
  /** @type {HostileRequest[]} */
  const requests = []
  /** @type {Record<string, number>} */
  const counts = {}
  /** @type {Set<import('node:net').Socket>} */
  const sockets = new Set()
  const server = createServer((socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => {})
    let buffer = Buffer.alloc(0)
    const onData = (/** @type {Buffer} */ chunk) => {
      buffer = Buffer.concat([buffer, chunk])
      const end = buffer.indexOf('\r\n\r\n')
      if (end < 0) return
      const head = buffer.subarray(0, end).toString('latin1').split('\r\n')
      const [method, path] = head[0].split(' ')
      /** @type {Record<string, string>} */
      const headers = {}
      for (const line of head.slice(1)) {
        const colon = line.indexOf(':')
        headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim()
      }
      const length = Number(headers['content-length'] ?? 0)
      if (buffer.length < end + 4 + length) return
      socket.off('data', onData)
      const body = buffer.subarray(end + 4, end + 4 + length).toString('utf8')
      const name = path.split('?')[0].slice(1)
      counts[name] = (counts[name] ?? 0) + 1
      /** @type {HostileRequest} */
      const req = {
        method,
        path,
        headers,
        form: Object.fromEntries(new URLSearchParams(body)),
        attempt: counts[name]
      }
      requests.push(req)
      const attack = attacks[name.split('/')[0]]
      if (attack) attack(req, socket)
      else answer(socket, 404, '{"error":"no such attack"}')
    }
    socket.on('data', onData)
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(undefined)))
  const { port } = /** @type {import('node:net').AddressInfo} */ (server.address())
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    /** Connections still open. */
    get open() {
      return sockets.size
    },
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resolve())
      })
  }
}

/**
 * A proxy that accepts every connection, reads the CONNECT, and never answers.
 * @returns {Promise<{ url: string, connects: number, open: number, close(): Promise<void> }>}
 */
export async function startSilentProxy() {
  /** @type {Set<import('node:net').Socket>} */
  const sockets = new Set()
  const state = { connects: 0 }
  const server = createServer((socket) => {
    state.connects++
    sockets.add(socket)
    socket.on('error', () => {})
    socket.on('close', () => sockets.delete(socket))
    socket.resume()
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(undefined)))
  const { port } = /** @type {import('node:net').AddressInfo} */ (server.address())
  return {
    url: `http://127.0.0.1:${port}`,
    get connects() {
      return state.connects
    },
    /** Connections still open. */
    get open() {
      return sockets.size
    },
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resolve())
      })
  }
}
