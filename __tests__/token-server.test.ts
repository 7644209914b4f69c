// scripts/token-server.mjs as the workflow uses it: `start` serves in the background and writes
// GITHUB_ENV, the built action (dist/index.js) gets a token from it with the PEM and with the PFX
// and is refused with the unregistered certificate, `verify` checks the token, `stop` ends it.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { request } from 'node:https'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ROOT, runAction, spawnNode } from './support/run-action.js'

const SCRIPT = join(ROOT, 'scripts', 'token-server.mjs')
const GRAPH = 'https://graph.microsoft.com/.default'
const dir = mkdtempSync(join(tmpdir(), 'token-server-test-'))
const serverDir = join(dir, 'server')
const envFile = join(dir, 'github-env')
const outputFile = join(dir, 'github-output')
let env: Record<string, string> = {}
let outputs: Record<string, string> = {}
let started: { code: number | null; stdout: string; stderr: string }

function script(args: string[], extra: Record<string, string> = {}) {
  return spawnNode(
    [SCRIPT, ...args, '--dir', serverDir],
    { PATH: process.env.PATH, ...extra },
    60_000
  )
}

/** The action's inputs for the server's app, with one of its certificates. */
function inputs(certificate: Record<string, string>) {
  return {
    'client-id': env.TOKEN_SERVER_CLIENT_ID,
    'tenant-id': env.TOKEN_SERVER_TENANT_ID,
    'authority-host': env.TOKEN_SERVER_URL,
    scope: GRAPH,
    ...certificate
  }
}

beforeAll(async () => {
  writeFileSync(envFile, 'EARLIER=kept\n')
  writeFileSync(outputFile, '')
  started = await script(['start'], { GITHUB_ENV: envFile, GITHUB_OUTPUT: outputFile })
  env = readAssignments(envFile)
  outputs = readAssignments(outputFile)
})

/** `NAME=value` lines, as the runner reads GITHUB_ENV and GITHUB_OUTPUT. */
function readAssignments(file: string): Record<string, string> {
  return Object.fromEntries(
    readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)])
  )
}
afterAll(async () => {
  await script(['stop'])
  rmSync(dir, { recursive: true, force: true })
})

describe('token-server start', () => {
  it('exits 0 and appends the server, the app and the certificates to GITHUB_ENV', () => {
    expect(started.code).toBe(0)
    expect(started.stdout).toBe('')
    expect(started.stderr).toMatch(
      /^Token server listening at https:\/\/127\.0\.0\.1:\d+ \(pid \d+\)\.\n$/
    )
    expect(Object.keys(env)).toEqual([
      'EARLIER',
      'TOKEN_SERVER_URL',
      'TOKEN_SERVER_DIR',
      'TOKEN_SERVER_CLIENT_ID',
      'TOKEN_SERVER_TENANT_ID',
      'TOKEN_SERVER_PEM',
      'TOKEN_SERVER_PFX',
      'TOKEN_SERVER_PFX_PASSWORD',
      'TOKEN_SERVER_UNREGISTERED_PEM',
      'TOKEN_SERVER_CA_FILE',
      'NODE_EXTRA_CA_CERTS'
    ])
    expect(env.TOKEN_SERVER_URL).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/)
    expect(env.TOKEN_SERVER_DIR).toBe(serverDir)
    expect(env.NODE_EXTRA_CA_CERTS).toBe(env.TOKEN_SERVER_CA_FILE)
    expect(readFileSync(env.TOKEN_SERVER_CA_FILE, 'utf8')).toMatch(/^-----BEGIN CERTIFICATE-----/)
    expect(readFileSync(env.TOKEN_SERVER_PEM, 'utf8')).toMatch(/PRIVATE KEY-----[\s\S]*CERTIFICATE/)
    expect(readFileSync(env.TOKEN_SERVER_PFX)[0]).toBe(0x30) // DER SEQUENCE
  })

  it('writes the same values as step outputs, for workflows checked statically', () => {
    expect(outputs).toEqual({
      url: env.TOKEN_SERVER_URL,
      dir: env.TOKEN_SERVER_DIR,
      'client-id': env.TOKEN_SERVER_CLIENT_ID,
      'tenant-id': env.TOKEN_SERVER_TENANT_ID,
      pem: env.TOKEN_SERVER_PEM,
      pfx: env.TOKEN_SERVER_PFX,
      'pfx-password': env.TOKEN_SERVER_PFX_PASSWORD,
      'unregistered-pem': env.TOKEN_SERVER_UNREGISTERED_PEM,
      'ca-file': env.TOKEN_SERVER_CA_FILE
    })
  })
})

describe('the action against the background server', () => {
  it('gets a token with the PEM file, and verify accepts it', async () => {
    const run = await runAction(inputs({ 'certificate-file': env.TOKEN_SERVER_PEM }), {
      env: { NODE_EXTRA_CA_CERTS: env.NODE_EXTRA_CA_CERTS }
    })
    expect(run.code).toBe(0)
    expect(run.outputs['token-type']).toBe('Bearer')
    expect(run.outputs['expires-in']).toBe('3599')
    expect(run.masked).toContain(run.outputs['access-token'])
    const verified = await script(['verify'], { TOKEN: run.outputs['access-token'] })
    expect(verified.code).toBe(0)
    expect(verified.stdout).toMatch(
      new RegExp(
        `^The token is valid: issued by ${env.TOKEN_SERVER_URL.replace(/\./g, '\\.')} for ${env.TOKEN_SERVER_CLIENT_ID}, aud https://graph\\.microsoft\\.com,\\nexpires \\d{4}-`
      )
    )
    expect(verified.stdout).not.toContain(run.outputs['access-token'])
  })

  it('gets a token with the PFX file and its password', async () => {
    const run = await runAction(
      inputs({
        'certificate-file': env.TOKEN_SERVER_PFX,
        'certificate-password': env.TOKEN_SERVER_PFX_PASSWORD
      }),
      { env: { NODE_EXTRA_CA_CERTS: env.NODE_EXTRA_CA_CERTS } }
    )
    expect(run.code).toBe(0)
    expect(run.outputs['access-token'].split('.')).toHaveLength(3)
  })

  // CI's flagship job: the action's own scope (Resource Manager), then az, Azure PowerShell,
  // azure-identity and Terraform's backend through the token service.
  it.each([
    'https://management.azure.com',
    'https://management.core.windows.net/',
    'https://vault.azure.net',
    'https://storage.azure.com'
  ])('gets a token for %s, a resource the flagship example asks for', async (resource) => {
    const run = await runAction(
      { ...inputs({ 'certificate-file': env.TOKEN_SERVER_PEM }), scope: `${resource}/.default` },
      { env: { NODE_EXTRA_CA_CERTS: env.NODE_EXTRA_CA_CERTS } }
    )
    expect(run.errors).toEqual([])
    const claims = JSON.parse(
      Buffer.from(run.outputs['access-token'].split('.')[1], 'base64url').toString()
    ) as { aud: string }
    expect(claims.aud).toBe(resource)
  })

  it('is refused with the unregistered certificate (AADSTS700027)', async () => {
    const run = await runAction(inputs({ 'certificate-file': env.TOKEN_SERVER_UNREGISTERED_PEM }), {
      env: { NODE_EXTRA_CA_CERTS: env.NODE_EXTRA_CA_CERTS }
    })
    expect(run.code).toBe(1)
    expect(run.errors).toHaveLength(1)
    expect(run.errors[0]).toContain('AADSTS700027')
    expect(run.outputs).toEqual({})
  })

  it('verify refuses a token that is not for the audience asked', async () => {
    const run = await runAction(inputs({ 'certificate-file': env.TOKEN_SERVER_PEM }), {
      env: { NODE_EXTRA_CA_CERTS: env.NODE_EXTRA_CA_CERTS }
    })
    const verified = await script(['verify', '--audience', 'api://other'], {
      TOKEN: run.outputs['access-token']
    })
    expect(verified).toMatchObject({
      code: 1,
      stdout: '',
      stderr: 'token-server: unexpected "aud" claim value\n'
    })
  })
})

describe('token-server stop', () => {
  it('ends the server: its port refuses connections and server.json is gone', async () => {
    const { pid } = JSON.parse(readFileSync(join(serverDir, 'server.json'), 'utf8'))
    const stopped = await script(['stop'])
    expect(stopped).toMatchObject({ code: 0, stderr: `Token server stopped (pid ${pid}).\n` })
    expect(existsSync(join(serverDir, 'server.json'))).toBe(false)
    const refused = await new Promise<string>((resolve) => {
      const req = request(`${env.TOKEN_SERVER_URL}/`, {
        ca: readFileSync(env.TOKEN_SERVER_CA_FILE)
      })
      req.on('response', () => resolve('answered'))
      req.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'))
      req.end()
    })
    expect(refused).toBe('ECONNREFUSED')
  })
})
