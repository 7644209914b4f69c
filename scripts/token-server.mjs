// The local Entra-like token server (__tests__/support/entra-server.js) as a background service,
// for workflows that run the action itself (`uses: ./`) with no Azure account: throwaway
// certificates, an HTTPS token endpoint on 127.0.0.1 that checks assertions the way Entra does,
// and the values a later step needs, written to GITHUB_ENV.
//
//   node scripts/token-server.mjs start [--dir DIR]   make certificates, serve in the background,
//                                                      write the variables below to GITHUB_ENV
//                                                      (or print them without a runner) and, as
//                                                      url, client-id, ..., to GITHUB_OUTPUT
//   node scripts/token-server.mjs start --github-oidc  the same, and an app that trusts this
//                                                      job's GitHub OIDC tokens (verified with
//                                                      GitHub's published keys): its client ID
//                                                      is TOKEN_SERVER_FEDERATED_CLIENT_ID
//   node scripts/token-server.mjs stop [--dir DIR]    stop the server started in DIR
//   TOKEN=... node scripts/token-server.mjs verify [--dir DIR] [--audience AUD] [--client-id ID]
//                                                      check that TOKEN was issued by this server
//
// Variables: TOKEN_SERVER_URL (the authority host), TOKEN_SERVER_CLIENT_ID, TOKEN_SERVER_TENANT_ID,
// TOKEN_SERVER_PEM (key + certificate file), TOKEN_SERVER_PFX (PKCS#12 file) and
// TOKEN_SERVER_PFX_PASSWORD, TOKEN_SERVER_UNREGISTERED_PEM (a certificate the server does not
// know), TOKEN_SERVER_CA_FILE and NODE_EXTRA_CA_CERTS (the server's TLS certificate, so that Node
// trusts it), TOKEN_SERVER_DIR. Everything here is made for the run and worthless outside it.
import { spawn } from 'node:child_process'
import { randomBytes, randomUUID } from 'node:crypto'
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { createLocalJWKSet, jwtVerify } from 'jose'
import { makeCert, makePfx, makeTlsCert } from '../__tests__/support/certs.js'
import { startEntraServer } from '../__tests__/support/entra-server.js'

const SCRIPT = fileURLToPath(import.meta.url)
/** The server stops by itself after this long, should nothing stop it. */
const MAX_LIFETIME_MS = 60 * 60 * 1000
/** How long `start` waits for the server to listen, and `stop` for it to exit. */
const WAIT_MS = 30_000
const GRAPH = 'https://graph.microsoft.com'
/**
 * The resources its tenant knows: Graph, Partner Center and a test API, and those the Azure tools
 * of the examples ask for (Resource Manager by both its names, Key Vault, Storage).
 */
const RESOURCES = [
  GRAPH,
  'https://api.partner.microsoft.com',
  'api://test-resource',
  'https://management.azure.com',
  'https://management.core.windows.net',
  'https://vault.azure.net',
  'https://storage.azure.com'
]

/**
 * What `start` prepares for `serve`, in DIR/setup.json.
 * @typedef {{ clientId: string, tenantId: string, certFile: string, tlsKeyFile: string, tlsCertFile: string, federated?: { clientId: string, subject: string, jwks: import('jose').JSONWebKeySet } }} Setup
 */
/**
 * What `serve` publishes once it listens, in DIR/server.json.
 * @typedef {{ url: string, pid: number, jwks: import('jose').JSONWebKeySet, clientId: string }} Served
 */

/** @param {number} ms */
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/** @param {string} dir @returns {Served | undefined} */
function readServed(dir) {
  const file = join(dir, 'server.json')
  return existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : undefined
}

/** @param {number} pid */
function isAlive(pid) {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** GitHub Actions' OIDC issuer and the keys it signs with (PROTOCOL.md §5). */
const GITHUB_OIDC_ISSUER = 'https://token.actions.githubusercontent.com'

/**
 * The federated credential of this job's repository: GitHub's published keys, and the subject of
 * this job's OIDC tokens (a pull request's, or the pushed ref's).
 * @returns {Promise<{ clientId: string, subject: string, jwks: import('jose').JSONWebKeySet }>}
 */
async function githubFederation() {
  const repository = process.env.GITHUB_REPOSITORY
  if (!repository) throw new Error('--github-oidc needs a GitHub Actions job (GITHUB_REPOSITORY)')
  const answer = await fetch(`${GITHUB_OIDC_ISSUER}/.well-known/jwks`)
  if (!answer.ok) throw new Error(`GitHub's OIDC keys: HTTP ${answer.status}`)
  const jwks = /** @type {import('jose').JSONWebKeySet} */ (await answer.json())
  const subject =
    process.env.GITHUB_EVENT_NAME === 'pull_request'
      ? `repo:${repository}:pull_request`
      : `repo:${repository}:ref:${process.env.GITHUB_REF}`
  return { clientId: randomUUID(), subject, jwks }
}

/**
 * Makes the certificates, starts `serve` detached, waits until it listens, exports the variables.
 * @param {string} dir
 * @param {boolean} githubOidc also register an app that trusts this job's GitHub OIDC tokens
 */
async function start(dir, githubOidc) {
  mkdirSync(dir, { recursive: true })
  rmSync(join(dir, 'server.json'), { force: true })
  const tls = makeTlsCert(dir)
  const client = makeCert({ commonName: 'certificate-token-action CI' })
  const unregistered = makeCert({ commonName: 'certificate-token-action CI (not registered)' })
  const password = randomBytes(12).toString('base64url')
  const files = {
    pem: join(dir, 'client.pem'),
    pfx: join(dir, 'client.pfx'),
    unregistered: join(dir, 'unregistered.pem'),
    tlsKey: join(dir, 'tls-key.pem')
  }
  writeFileSync(files.pem, client.keyPem + client.certPem, { mode: 0o600 })
  writeFileSync(files.pfx, makePfx(client, { password }), { mode: 0o600 })
  writeFileSync(files.unregistered, unregistered.keyPem + unregistered.certPem, { mode: 0o600 })
  writeFileSync(files.tlsKey, tls.keyPem, { mode: 0o600 })
  /** @type {Setup} */
  const setup = {
    clientId: randomUUID(),
    tenantId: randomUUID(),
    certFile: files.pem,
    tlsKeyFile: files.tlsKey,
    tlsCertFile: tls.caFile,
    federated: githubOidc ? await githubFederation() : undefined
  }
  writeFileSync(join(dir, 'setup.json'), JSON.stringify(setup))

  // Detached, with its output in a file: the step that starts it can end while it serves.
  const log = openSync(join(dir, 'server.log'), 'a')
  const child = spawn(process.execPath, [SCRIPT, 'serve', '--dir', dir], {
    detached: true,
    stdio: ['ignore', log, log],
    windowsHide: true
  })
  let exited = false
  child.on('exit', () => (exited = true))
  child.unref()
  const deadline = Date.now() + WAIT_MS
  let served = readServed(dir)
  while (!served && !exited && Date.now() < deadline) {
    await sleep(100)
    served = readServed(dir)
  }
  if (!served) {
    if (!exited && child.pid) process.kill(child.pid)
    throw new Error(`the token server did not start; see ${join(dir, 'server.log')}`)
  }

  const variables = {
    TOKEN_SERVER_URL: served.url,
    TOKEN_SERVER_DIR: dir,
    TOKEN_SERVER_CLIENT_ID: setup.clientId,
    TOKEN_SERVER_TENANT_ID: setup.tenantId,
    TOKEN_SERVER_PEM: files.pem,
    TOKEN_SERVER_PFX: files.pfx,
    TOKEN_SERVER_PFX_PASSWORD: password,
    TOKEN_SERVER_UNREGISTERED_PEM: files.unregistered,
    TOKEN_SERVER_CA_FILE: tls.caFile,
    ...(setup.federated ? { TOKEN_SERVER_FEDERATED_CLIENT_ID: setup.federated.clientId } : {}),
    NODE_EXTRA_CA_CERTS: tls.caFile
  }
  const lines = Object.entries(variables).map(([name, value]) => `${name}=${value}\n`)
  if (process.env.GITHUB_ENV) appendFileSync(process.env.GITHUB_ENV, lines.join(''))
  else process.stdout.write(lines.join(''))
  // The same values as step outputs (TOKEN_SERVER_PFX_PASSWORD -> pfx-password): a workflow that
  // reads `steps.<id>.outputs.*` can be checked statically, which `env.*` set at run time cannot.
  if (process.env.GITHUB_OUTPUT) {
    const outputs = Object.entries(variables)
      .filter(([name]) => name.startsWith('TOKEN_SERVER_'))
      .map(([name, value]) => {
        const output = name.slice('TOKEN_SERVER_'.length).toLowerCase().replace(/_/g, '-')
        return `${output}=${value}\n`
      })
    appendFileSync(process.env.GITHUB_OUTPUT, outputs.join(''))
  }
  console.error(`Token server listening at ${served.url} (pid ${served.pid}).`)
}

/**
 * The server itself: runs until SIGTERM/SIGINT (or MAX_LIFETIME_MS), then removes server.json.
 * @param {string} dir
 */
async function serve(dir) {
  /** @type {Setup} */
  const setup = JSON.parse(readFileSync(join(dir, 'setup.json'), 'utf8'))
  const server = await startEntraServer({
    apps: [
      {
        clientId: setup.clientId,
        tenantId: setup.tenantId,
        certificates: [readFileSync(setup.certFile, 'utf8')]
      },
      ...(setup.federated
        ? [
            {
              clientId: setup.federated.clientId,
              tenantId: setup.tenantId,
              certificates: [],
              federated: {
                issuer: GITHUB_OIDC_ISSUER,
                subject: setup.federated.subject,
                jwks: setup.federated.jwks
              }
            }
          ]
        : [])
    ],
    tls: {
      keyPem: readFileSync(setup.tlsKeyFile, 'utf8'),
      certPem: readFileSync(setup.tlsCertFile, 'utf8')
    },
    resources: RESOURCES
  })
  /** @type {Served} */
  const served = {
    url: server.url,
    pid: process.pid,
    jwks: server.tokenJwks,
    clientId: setup.clientId
  }
  // Written whole, then renamed: `start` never reads half a file.
  writeFileSync(join(dir, 'server.json.tmp'), JSON.stringify(served))
  renameSync(join(dir, 'server.json.tmp'), join(dir, 'server.json'))
  const stop = async () => {
    await server.close()
    rmSync(join(dir, 'server.json'), { force: true })
    process.exit(0)
  }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
  setTimeout(stop, MAX_LIFETIME_MS).unref()
}

/**
 * Stops the server started in `dir` and waits until it has exited.
 * @param {string} dir
 */
async function stop(dir) {
  const served = readServed(dir)
  if (!served || !isAlive(served.pid)) {
    console.error('No token server is running there.')
    return
  }
  process.kill(served.pid, 'SIGTERM')
  const deadline = Date.now() + WAIT_MS
  while (isAlive(served.pid) && Date.now() < deadline) await sleep(100)
  if (isAlive(served.pid)) throw new Error(`the token server (pid ${served.pid}) did not stop`)
  // The server removes it as it stops; on Windows a signal ends a process without that.
  rmSync(join(dir, 'server.json'), { force: true })
  console.error(`Token server stopped (pid ${served.pid}).`)
}

/**
 * Checks that the token in TOKEN was signed by this server for its client (or `clientId`) and
 * `audience`. Prints only the claims that say so, never the token.
 * @param {string} dir
 * @param {string} audience
 * @param {string} [clientId]
 */
async function verify(dir, audience, clientId) {
  const served = readServed(dir)
  if (!served) throw new Error('no token server is running there')
  const token = process.env.TOKEN ?? ''
  if (!token) throw new Error('TOKEN is empty')
  const { payload } = await jwtVerify(token, createLocalJWKSet(served.jwks), { audience })
  const client = clientId ?? served.clientId
  if (payload.appid !== client) {
    throw new Error(`the token is for client ${String(payload.appid)}, not ${client}`)
  }
  const expires = new Date(Number(payload.exp) * 1000).toISOString()
  console.log(`The token is valid: issued by ${served.url} for ${payload.appid}, aud ${audience},`)
  console.log(`expires ${expires}.`)
}

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    dir: { type: 'string' },
    audience: { type: 'string', default: GRAPH },
    'github-oidc': { type: 'boolean', default: false },
    'client-id': { type: 'string' }
  }
})
const dir = resolve(values.dir ?? join(process.env.RUNNER_TEMP ?? tmpdir(), 'token-server'))
const commands = {
  start: () => start(dir, values['github-oidc'] ?? false),
  serve: () => serve(dir),
  stop: () => stop(dir),
  verify: () => verify(dir, values.audience, values['client-id'])
}
const command = commands[/** @type {keyof typeof commands} */ (positionals[0])]
if (!command) {
  console.error('Usage: node scripts/token-server.mjs start|stop|verify [--dir DIR]')
  process.exit(2)
}
try {
  await command()
} catch (error) {
  console.error(`token-server: ${error instanceof Error ? error.message : String(error)}`)
  process.exit(1)
}
