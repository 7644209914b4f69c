// The token service's HTTP server: bound to 127.0.0.1 only, judging each request with route()
// and answering in the shape each client reads (PROTOCOL.md §7).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import { ActionError } from '../errors.js'
import { route, type Expected } from './protocol.js'
import { Unavailable, type HeldToken, type ResourceReport, type Tokens } from './tokens.js'

/**
 * How long a connection may take, from its acceptance, to send its request's headers: a client
 * sends a few hundred bytes at once.
 */
export const HEADERS_MS = 5_000
/** Most connections open at once: a job's steps ask one or two tokens at a time. */
export const MAX_CONNECTIONS = 256

/** What the stop request answers, for the `post:` step's report. */
export interface StopReport {
  resources: Record<string, ResourceReport>
  failures: string[]
}

export interface ServerOptions {
  expected: Omit<Expected, 'host'>
  tokens: Tokens
  /** One line of the service's own log (redacted and escaped by the caller). */
  log: (line: string) => void
  /** Redacts what a refusal quotes of the token server's explanation. */
  redact: (text: string) => string
  /** Called once the stop request is answered. */
  onStop: () => void
}

/** The failures the service met, the last ones first dropped beyond this many. */
const MAX_FAILURES = 20

/**
 * Starts the server on 127.0.0.1 and a free port.
 * @returns the server and its port.
 */
export async function startServer(
  options: ServerOptions
): Promise<{ server: Server; port: number }> {
  const failures: string[] = []
  const logged = new WeakSet<object>()
  let host = ''
  const server = createServer({ maxHeaderSize: 8192 }, (req, res) => {
    connections.received(req.socket)
    void handle(req, res).catch(() => answer(res, 500, { error: 'server_error' }))
  })
  // Node's own limits are checked every connectionsCheckingInterval (30 s), from the first byte
  // only: a connection that sends nothing, or a request line alone, is never closed by them, and
  // trickled headers last ~33 s. The service keeps its own clock, from acceptance.
  server.headersTimeout = HEADERS_MS
  server.requestTimeout = 10_000
  const connections = watchConnections(server)

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const length = Number(req.headers['content-length'] ?? 0)
    if (length > 0 || req.headers['transfer-encoding'] !== undefined) {
      answer(res, 413, refusal('A request to this endpoint has no body.'))
      return
    }
    const decided = route(
      { method: req.method ?? '', target: req.url ?? '', headers: req.headers },
      { ...options.expected, host }
    )
    if (decided.kind === 'refuse') {
      // A wrong or missing secret gets the status and nothing else.
      answer(res, decided.status, decided.message ? refusal(decided.message) : undefined)
      return
    }
    if (decided.kind === 'stop') {
      const report: StopReport = {
        resources: Object.fromEntries(options.tokens.report),
        failures
      }
      answer(res, 200, report, options.onStop)
      return
    }
    const { resource, shape } = decided
    let token: HeldToken
    try {
      token = await options.tokens.get(resource)
    } catch (error) {
      if (error instanceof Unavailable) {
        unavailable(res, resource, error)
        return
      }
      const explanation =
        error instanceof ActionError ? options.redact(error.message) : 'an unexpected error'
      const line = `No token for ${resource}: ${explanation}`
      note(error, line)
      answer(res, 400, refusal(line))
      return
    }
    const expiresOn = Math.floor(token.expiresOn.getTime() / 1000)
    const body: Record<string, string> = {
      access_token: token.accessToken,
      expires_on: String(expiresOn),
      resource,
      token_type: token.tokenType,
      client_id: options.expected.clientId
    }
    // The IMDS shape (Terraform's azurerm provider) reads expires_in.
    if (shape === 'imds') {
      body.expires_in = String(Math.max(0, expiresOn - Math.floor(Date.now() / 1000)))
    }
    answer(res, 200, body)
  }

  /**
   * Logs a failure once: a refusal answered again from memory, or a failure that concurrent
   * callers share, is one line; a wait without a request to the token server is none.
   */
  function note(error: unknown, line: string): void {
    if (error instanceof Unavailable ? error.reported : logged.has(error as object)) return
    if (error instanceof Unavailable) error.reported = true
    else if (typeof error === 'object' && error !== null) logged.add(error)
    options.log(line)
    if (failures.length < MAX_FAILURES) failures.push(options.redact(line))
  }

  /**
   * No token now, but one may come: 503 (429 when the token server throttled) with Retry-After, as
   * App Service answers, which SDKs retry after the time it says (@azure/identity's
   * throttlingRetryStrategy reads it on both statuses; msal-node and Python's azure-identity
   * likewise). Only a failure of the token server is logged, not each wait.
   */
  function unavailable(res: ServerResponse, resource: string, error: Unavailable): void {
    const line = `No token for ${resource} now: ${options.redact(error.message)}`
    note(error, line)
    const body = { error: 'temporarily_unavailable', error_description: line }
    answer(res, error.status, body, undefined, {
      'Retry-After': String(Math.max(1, Math.ceil(error.retryAfterMs / 1000)))
    })
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  const address = server.address()
  const port = typeof address === 'object' && address ? address.port : 0
  host = `127.0.0.1:${port}`
  return { server, port }
}

/**
 * Closes every connection that has not sent its request's headers within {@link HEADERS_MS} of
 * its acceptance, and, at {@link MAX_CONNECTIONS}, the oldest such one to make room: a flood of
 * idle connections then cannot lock a step's request out.
 * @returns `received`, to call once a connection's headers are in.
 */
function watchConnections(server: Server): { received: (socket: Socket) => void } {
  let open = 0
  /** Connections still waiting for their headers, oldest first, with their timers. */
  const waiting = new Map<Socket, NodeJS.Timeout>()
  const received = (socket: Socket): void => {
    clearTimeout(waiting.get(socket))
    waiting.delete(socket)
  }
  server.on('connection', (socket: Socket) => {
    open++
    socket.once('close', () => {
      open--
      received(socket)
    })
    if (open > MAX_CONNECTIONS) {
      const oldest = waiting.keys().next()
      // Every other connection has a request being answered: this one waits no turn.
      const closed = oldest.done ? socket : oldest.value
      received(closed)
      closed.destroy()
      if (closed === socket) return
    }
    const timer = setTimeout(() => {
      waiting.delete(socket)
      socket.destroy()
    }, HEADERS_MS)
    timer.unref()
    waiting.set(socket, timer)
  })
  return { received }
}

function refusal(message: string): Record<string, string> {
  return { error: 'invalid_request', error_description: message }
}

function answer(
  res: ServerResponse,
  status: number,
  body?: object,
  then?: () => void,
  headers: Record<string, string> = {}
): void {
  const text = body === undefined ? '' : JSON.stringify(body)
  res.writeHead(status, {
    ...headers,
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(text),
    'Cache-Control': 'no-store',
    Connection: 'close'
  })
  res.end(text, then)
}
