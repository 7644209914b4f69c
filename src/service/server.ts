// The token service's HTTP server: bound to 127.0.0.1 only, judging each request with route()
// and answering in the shape each client reads (PROTOCOL.md §7).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { ActionError } from '../errors.js'
import { route, type Expected } from './protocol.js'
import type { HeldToken, ResourceReport, Tokens } from './tokens.js'

/** Most different resources served: a job uses a handful. */
export const MAX_RESOURCES = 64

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
  let host = ''
  const server = createServer({ maxHeaderSize: 8192 }, (req, res) => {
    void handle(req, res).catch(() => answer(res, 500, { error: 'server_error' }))
  })
  // A request that trickles in is cut off: a client sends a few hundred bytes at once.
  server.headersTimeout = 5_000
  server.requestTimeout = 10_000

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
    if (!options.tokens.report.has(resource) && options.tokens.report.size >= MAX_RESOURCES) {
      answer(res, 400, refusal(`This endpoint serves at most ${MAX_RESOURCES} resources a job.`))
      return
    }
    let token: HeldToken
    try {
      token = await options.tokens.get(resource)
    } catch (error) {
      const explanation =
        error instanceof ActionError ? options.redact(error.message) : 'an unexpected error'
      const line = `No token for ${resource}: ${explanation}`
      options.log(line)
      if (failures.length < MAX_FAILURES) failures.push(options.redact(line))
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

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  const address = server.address()
  const port = typeof address === 'object' && address ? address.port : 0
  host = `127.0.0.1:${port}`
  return { server, port }
}

function refusal(message: string): Record<string, string> {
  return { error: 'invalid_request', error_description: message }
}

function answer(res: ServerResponse, status: number, body?: object, then?: () => void): void {
  const text = body === undefined ? '' : JSON.stringify(body)
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(text),
    'Cache-Control': 'no-store',
    Connection: 'close'
  })
  res.end(text, then)
}
