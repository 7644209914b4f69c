import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals'
import { EOL, tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { InputError } from '../src/errors.js'
import { isReservedVariable, readSettings } from '../src/action/inputs.js'

const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47'
const CLIENT = '11111111-2222-3333-4444-555555555555'

function setInputs(inputs: Record<string, string>): void {
  for (const [name, value] of Object.entries(inputs))
    process.env[`INPUT_${name.toUpperCase()}`] = value
}

/** The error readSettings throws, so a test can assert its input and its exact text. */
function failure(): InputError {
  try {
    readSettings()
  } catch (error) {
    if (error instanceof InputError) return error
    throw error
  }
  throw new Error('readSettings did not throw')
}

/** The inputs every readSettings test starts from. */
const BASE_INPUTS = {
  'client-id': CLIENT,
  'tenant-id': TENANT,
  scope: 'https://graph.microsoft.com/.default',
  certificate: 'x'
}

function clearInputs(): void {
  for (const name of Object.keys(process.env))
    if (name.startsWith('INPUT_')) delete process.env[name]
}

describe('readSettings', () => {
  beforeEach(() => {
    clearInputs()
    setInputs(BASE_INPUTS)
  })
  afterEach(() => {
    clearInputs()
  })

  it('builds the Entra token endpoint from the default authority host and the tenant', () => {
    const settings = readSettings()
    expect(settings.tokenEndpoint).toBe(
      `https://login.microsoftonline.com/${TENANT}/oauth2/v2.0/token`
    )
    expect(settings.audience).toBe(settings.tokenEndpoint)
    expect(settings.entra).toBe(true)
    expect(settings.algorithm).toBe('PS256')
    expect(settings.sendX5c).toBe(false)
  })

  it('uses another cloud from authority-host, with or without a trailing slash', () => {
    setInputs({ 'authority-host': 'https://login.microsoftonline.us/' })
    expect(readSettings().tokenEndpoint).toBe(
      `https://login.microsoftonline.us/${TENANT}/oauth2/v2.0/token`
    )
  })

  it('refuses an authority-host with a path, and says where the tenant goes', () => {
    setInputs({ 'authority-host': `https://login.microsoftonline.com/${TENANT}` })
    expect(failure().message).toBe(
      "Input 'authority-host' must be the host only, such as https://login.microsoftonline.com (the tenant goes in 'tenant-id'); for a full token URL use 'token-endpoint'."
    )
  })

  it('accepts a verified domain as the tenant', () => {
    setInputs({ 'tenant-id': 'contoso.onmicrosoft.com' })
    expect(readSettings().tokenEndpoint).toBe(
      'https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token'
    )
  })

  it.each([
    '../x',
    'a/b',
    'x?y',
    'contoso',
    'a b.com',
    '%2e%2e.com',
    // A domain or a GUID matched to its end: what follows would reach the URL path.
    'contoso.onmicrosoft.com/../other',
    'contoso.com?x=1',
    '72f988bf-86f1-41af-91ab-2d7cd011db47/x'
  ])('refuses the tenant %p, which would reach the URL path', (tenant) => {
    setInputs({ 'tenant-id': tenant })
    const error = failure()
    expect(error.input).toBe('tenant-id')
    expect(error.message).toBe(
      `Input 'tenant-id' must be a directory (tenant) ID GUID such as 72f988bf-86f1-41af-91ab-2d7cd011db47 or a verified domain such as contoso.onmicrosoft.com; got '${tenant}'.`
    )
  })

  it('refuses common, which does not work for client credentials', () => {
    setInputs({ 'tenant-id': 'common' })
    expect(failure().message).toMatch(
      /^Input 'tenant-id' is 'common', which the client credentials flow does not accept/
    )
  })

  it('requires tenant-id for Entra and says the alternative', () => {
    delete process.env['INPUT_TENANT-ID']
    expect(failure().input).toBe('tenant-id')
    expect(failure().message).toBe(
      "Input 'tenant-id' is required for Microsoft Entra ID: set the directory (tenant) ID, or set 'token-endpoint' for another OAuth 2.0 server."
    )
  })

  it.each(['client-id', 'scope'])('requires %s', (name) => {
    delete process.env[`INPUT_${name.toUpperCase()}`]
    const error = failure()
    expect(error.input).toBe(name)
    expect(error.message).toBe(`Input '${name}' is required: set it in the step's 'with:' block.`)
  })

  it('shows the fix when the Entra scope lacks /.default', () => {
    setInputs({ scope: 'https://graph.microsoft.com/User.Read' })
    expect(failure().message).toBe(
      "Input 'scope' must be a resource followed by /.default for Microsoft Entra ID, e.g. 'https://graph.microsoft.com/.default' (app-only tokens carry the application permissions granted to the app); got 'https://graph.microsoft.com/User.Read'."
    )
  })

  it('refuses several Entra scopes in one request', () => {
    setInputs({ scope: 'https://graph.microsoft.com/.default https://vault.azure.net/.default' })
    expect(failure().message).toMatch(
      /^Input 'scope' must name exactly one resource for Microsoft Entra ID .*got 2 scopes/
    )
  })

  it('passes any scope and skips the tenant with token-endpoint', () => {
    delete process.env['INPUT_TENANT-ID']
    setInputs({
      'token-endpoint': 'https://idp.example.com/oauth/token',
      scope: 'profile-search read'
    })
    const settings = readSettings()
    expect(settings).toMatchObject({
      entra: false,
      tenantId: undefined,
      scope: 'profile-search read',
      tokenEndpoint: 'https://idp.example.com/oauth/token',
      audience: 'https://idp.example.com/oauth/token'
    })
  })

  it('takes the audience override', () => {
    setInputs({
      'token-endpoint': 'https://idp.example.com/oauth/token',
      audience: 'https://idp.example.com'
    })
    expect(readSettings().audience).toBe('https://idp.example.com')
  })

  it.each([
    ['token-endpoint', 'http://idp.example.com/token'],
    ['authority-host', 'http://login.microsoftonline.com'],
    ['exchange-url', 'http://api.partnercenter.microsoft.com/generatetoken']
  ])('refuses plain http for %s on a non-loopback host', (name, url) => {
    setInputs({ [name]: url })
    const error = failure()
    expect(error.input).toBe(name)
    expect(error.message).toBe(
      `Input '${name}' must use https:// (plain http:// is allowed only for loopback hosts such as 127.0.0.1); got '${url}'.`
    )
  })

  it.each(['http://127.0.0.1:8080/token', 'http://localhost:1/t', 'http://[::1]:9/t'])(
    'allows plain http on loopback: %s',
    (url) => {
      setInputs({ 'token-endpoint': url })
      expect(readSettings().tokenEndpoint).toBe(new URL(url).href)
    }
  )

  it('refuses a URL that is not one', () => {
    setInputs({ 'token-endpoint': 'idp.example.com/token' })
    expect(failure().message).toBe(
      "Input 'token-endpoint' must be an absolute https:// URL; got 'idp.example.com/token'."
    )
  })

  it('refuses an unknown algorithm and lists the supported ones', () => {
    setInputs({ algorithm: 'HS256' })
    expect(failure().input).toBe('algorithm')
    expect(failure().message).toBe(
      "Input 'algorithm' must be one of PS256, RS256, ES256, ES384; got 'HS256'."
    )
  })

  it('refuses EC algorithms against Entra', () => {
    setInputs({ algorithm: 'ES256' })
    expect(failure().message).toMatch(
      /^Input 'algorithm' is ES256, but Microsoft Entra ID accepts RSA certificates only/
    )
  })

  it('accepts ES384 for another server, in any case', () => {
    setInputs({ 'token-endpoint': 'https://idp.example.com/token', algorithm: 'es384' })
    expect(readSettings().algorithm).toBe('ES384')
  })

  it('reads send-x5c as a YAML boolean and names it when it is not one', () => {
    setInputs({ 'send-x5c': 'True' })
    expect(readSettings().sendX5c).toBe(true)
    setInputs({ 'send-x5c': 'yes' })
    expect(failure().message).toBe("Input 'send-x5c' must be true or false; got 'yes'.")
  })

  it('refuses certificate and certificate-file together', () => {
    setInputs({ 'certificate-file': 'cert.pem' })
    expect(failure().input).toBe('certificate-file')
    expect(failure().message).toBe(
      "Inputs 'certificate' and 'certificate-file' are both set: keep one of them."
    )
  })

  it('resolves a relative certificate-file against the workspace', () => {
    delete process.env.INPUT_CERTIFICATE
    setInputs({ 'certificate-file': 'secrets/cert.pfx' })
    const workspace = resolve('runner', 'work', 'repo')
    const settings = readSettings({ GITHUB_WORKSPACE: workspace })
    expect(settings.credential).toMatchObject({
      kind: 'certificate',
      certificateFile: join(workspace, 'secrets', 'cert.pfx')
    })
  })

  it('keeps an absolute certificate-file as it is', () => {
    delete process.env.INPUT_CERTIFICATE
    const absolute = resolve(tmpdir(), 'cert.pem')
    setInputs({ 'certificate-file': absolute })
    expect(readSettings({ GITHUB_WORKSPACE: resolve('w') }).credential).toMatchObject({
      certificateFile: absolute
    })
  })

  it('explains a private key given without a certificate', () => {
    delete process.env.INPUT_CERTIFICATE
    setInputs({ 'private-key': '-----BEGIN PRIVATE KEY-----' })
    expect(failure().message).toMatch(
      /^Input 'private-key' is set but 'certificate' and 'certificate-file' are empty\. If the certificate comes from a secret, .*the thumbprint the server matches comes from the certificate\.$/
    )
  })

  it('falls back to GitHub OIDC federation without any certificate input', () => {
    delete process.env.INPUT_CERTIFICATE
    expect(readSettings().credential).toEqual({
      kind: 'oidc',
      audience: 'api://AzureADTokenExchange'
    })
    setInputs({ 'oidc-audience': 'api://custom' })
    expect(readSettings().credential).toEqual({ kind: 'oidc', audience: 'api://custom' })
  })

  it('accepts a valid export-variable and refuses an invalid or reserved one', () => {
    setInputs({ 'export-variable': 'GRAPH_TOKEN' })
    expect(readSettings().exportVariable).toBe('GRAPH_TOKEN')
    setInputs({ 'export-variable': 'GRAPH-TOKEN' })
    expect(failure().message).toMatch(/^Input 'export-variable' must be a name in capitals/)
    setInputs({ 'export-variable': 'GITHUB_TOKEN' })
    expect(failure().message).toMatch(/^Input 'export-variable' is GITHUB_TOKEN, a name that/)
  })
})

describe('readSettings: every refusal names the input and the fix', () => {
  beforeEach(() => {
    clearInputs()
    setInputs(BASE_INPUTS)
  })
  afterEach(() => {
    clearInputs()
    jest.restoreAllMocks()
  })

  it.each([`${CLIENT} x`, `a\tb`])('refuses a client-id with whitespace: %j', (clientId) => {
    setInputs({ 'client-id': clientId })
    const error = failure()
    expect(error.name).toBe('InputError')
    expect(error.input).toBe('client-id')
    expect(error.message).toBe(
      "Input 'client-id' must be the application (client) ID, without spaces."
    )
  })

  it.each([
    'https://login.microsoftonline.com/?tenant=x',
    'https://login.microsoftonline.com/#x',
    'https://login.microsoftonline.com/x'
  ])('refuses the authority-host %s, which is more than a host', (host) => {
    setInputs({ 'authority-host': host })
    const error = failure()
    expect(error.input).toBe('authority-host')
    expect(error.message).toBe(
      "Input 'authority-host' must be the host only, such as https://login.microsoftonline.com (the tenant goes in 'tenant-id'); for a full token URL use 'token-endpoint'."
    )
  })

  it.each(['common', 'Organizations', 'CONSUMERS'])(
    'refuses the multi-tenant alias %s',
    (tenant) => {
      setInputs({ 'tenant-id': tenant })
      const error = failure()
      expect(error.input).toBe('tenant-id')
      expect(error.message).toBe(
        `Input 'tenant-id' is '${tenant}', which the client credentials flow does not accept: use the directory (tenant) ID GUID or a verified domain of the tenant that holds the app registration.`
      )
    }
  )

  it('quotes a value of 80 characters whole and clips a longer one to 77 and "..."', () => {
    const eighty = `${'a'.repeat(80)}`
    setInputs({ 'tenant-id': eighty })
    expect(failure().message).toBe(
      `Input 'tenant-id' must be a directory (tenant) ID GUID such as 72f988bf-86f1-41af-91ab-2d7cd011db47 or a verified domain such as contoso.onmicrosoft.com; got '${eighty}'.`
    )
    setInputs({ 'tenant-id': `${'b'.repeat(77)}cdef` })
    expect(failure().message).toBe(
      `Input 'tenant-id' must be a directory (tenant) ID GUID such as 72f988bf-86f1-41af-91ab-2d7cd011db47 or a verified domain such as contoso.onmicrosoft.com; got '${'b'.repeat(77)}...'.`
    )
  })

  it.each(['https://user@idp.example.com/token', 'https://:secret@idp.example.com/token'])(
    'refuses credentials in the URL %s without quoting them',
    (url) => {
      setInputs({ 'token-endpoint': url })
      const error = failure()
      expect(error.input).toBe('token-endpoint')
      expect(error.message).toBe(
        "Input 'token-endpoint' must not carry a user name or password in the URL."
      )
    }
  )

  it.each([
    'http://127.0.0.1.example.com/token',
    'http://127.example.com/token',
    'http://10.0.0.127/token',
    'ftp://127.0.0.1/token',
    'http://localhost.example.com/token'
  ])('refuses %s, which is not https nor http on loopback', (url) => {
    setInputs({ 'token-endpoint': url })
    expect(failure().message).toBe(
      `Input 'token-endpoint' must use https:// (plain http:// is allowed only for loopback hosts such as 127.0.0.1); got '${url}'.`
    )
  })

  it.each(['http://127.0.0.100:8080/token', 'http://127.1.22.3/token'])(
    'allows plain http on the loopback address %s',
    (url) => {
      setInputs({ 'token-endpoint': url })
      expect(readSettings().tokenEndpoint).toBe(url)
    }
  )

  it('counts scopes split by any run of whitespace', () => {
    setInputs({
      scope: 'https://graph.microsoft.com/.default  \t https://vault.azure.net/.default'
    })
    const error = failure()
    expect(error.input).toBe('scope')
    expect(error.message).toBe(
      "Input 'scope' must name exactly one resource for Microsoft Entra ID (one token per resource), e.g. 'https://graph.microsoft.com/.default'; got 2 scopes. Use one step per resource."
    )
  })

  it.each([
    ['https://vault.azure.net/user_impersonation', 'https://vault.azure.net'],
    ['HTTPS://Vault.Azure.net/x', 'HTTPS://Vault.Azure.net'],
    ['api+x.y-z://my-app', 'api+x.y-z://my-app'],
    ['User.Read', 'https://graph.microsoft.com'],
    ['/.default', 'https://graph.microsoft.com'],
    ['1https://vault.azure.net/x', 'https://graph.microsoft.com'],
    ['https:/vault.azure.net/x', 'https://graph.microsoft.com']
  ])('suggests the resource of the Entra scope %s with /.default', (scope, resource) => {
    setInputs({ scope })
    const error = failure()
    expect(error.input).toBe('scope')
    expect(error.message).toBe(
      `Input 'scope' must be a resource followed by /.default for Microsoft Entra ID, e.g. '${resource}/.default' (app-only tokens carry the application permissions granted to the app); got '${scope}'.`
    )
  })

  it('refuses EC algorithms against Entra, with the fix', () => {
    setInputs({ algorithm: 'es384' })
    const error = failure()
    expect(error.input).toBe('algorithm')
    expect(error.message).toBe(
      "Input 'algorithm' is ES384, but Microsoft Entra ID accepts RSA certificates only: use PS256 (the default) or RS256, or set 'token-endpoint' for a server that accepts EC keys."
    )
  })

  it('takes RS256 for Entra, upper-casing the input', () => {
    setInputs({ algorithm: 'rs256' })
    expect(readSettings().algorithm).toBe('RS256')
  })

  it.each([
    ['true', true],
    ['True', true],
    ['TRUE', true],
    ['false', false],
    ['False', false],
    ['FALSE', false]
  ])('reads %s as the boolean %p', (value, expected) => {
    setInputs({ 'send-x5c': value })
    expect(readSettings().sendX5c).toBe(expected)
  })

  it.each(['untrue', 'trueish', 'nofalse', 'falsey', 'tRUE', '1'])(
    'refuses %s as a boolean',
    (value) => {
      setInputs({ 'send-x5c': value })
      const error = failure()
      expect(error.input).toBe('send-x5c')
      expect(error.message).toBe(`Input 'send-x5c' must be true or false; got '${value}'.`)
    }
  )

  it('keeps the certificate inputs as given, and the password untrimmed and masked', () => {
    const printed: string[] = []
    jest.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
      printed.push(String(chunk))
      return true
    })
    setInputs({ 'private-key': 'key-pem', 'certificate-password': ' pass word ' })
    expect(readSettings().credential).toEqual({
      kind: 'certificate',
      certificate: 'x',
      certificateFile: undefined,
      privateKey: 'key-pem',
      password: ' pass word '
    })
    expect(printed).toEqual([`::add-mask:: pass word ${EOL}`])
  })

  it('masks nothing when there is no password', () => {
    const printed: string[] = []
    jest.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
      printed.push(String(chunk))
      return true
    })
    expect(readSettings().credential).toEqual({
      kind: 'certificate',
      certificate: 'x',
      certificateFile: undefined,
      privateKey: undefined,
      password: undefined
    })
    expect(printed).toEqual([])
  })

  it('resolves a relative certificate-file against the working directory without a workspace', () => {
    delete process.env.INPUT_CERTIFICATE
    setInputs({ 'certificate-file': 'cert.pem' })
    expect(readSettings({}).credential).toEqual({
      kind: 'certificate',
      certificate: undefined,
      certificateFile: resolve(process.cwd(), 'cert.pem'),
      privateKey: undefined,
      password: undefined
    })
  })

  it('explains a private key given without a certificate, naming certificate as the fix', () => {
    delete process.env.INPUT_CERTIFICATE
    setInputs({ 'private-key': 'key-pem' })
    const error = failure()
    expect(error.input).toBe('certificate')
    expect(error.message).toBe(
      "Input 'private-key' is set but 'certificate' and 'certificate-file' are empty. If the certificate comes from a secret, that secret is empty in this run: pull requests from forks and Dependabot get no secrets, the secret's name may be misspelt, or it is an environment secret and the job has no 'environment:' naming that environment. Set 'certificate' (or 'certificate-file') to the certificate PEM too; the thumbprint the server matches comes from the certificate."
    )
  })

  it('takes a certificate-password without a certificate for an empty certificate secret', () => {
    delete process.env.INPUT_CERTIFICATE
    setInputs({ 'certificate-password': 'pfx-password' })
    const error = failure()
    expect(error.input).toBe('certificate')
    expect(error.message).toBe(
      "Input 'certificate-password' is set but 'certificate' and 'certificate-file' are empty. If the certificate comes from a secret, that secret is empty in this run: pull requests from forks and Dependabot get no secrets, the secret's name may be misspelt, or it is an environment secret and the job has no 'environment:' naming that environment. Set 'certificate' (or 'certificate-file') to the certificate PEM too; the thumbprint the server matches comes from the certificate."
    )
  })

  it("refuses 'audience' with federation, pointing to 'oidc-audience'", () => {
    delete process.env.INPUT_CERTIFICATE
    setInputs({ audience: 'api://AzureADTokenExchange' })
    const error = failure()
    expect(error.input).toBe('audience')
    expect(error.message).toBe(
      "Input 'audience' is the 'aud' of an assertion signed with a certificate, and no certificate is given: with GitHub OIDC federation the assertion is the GitHub OIDC token, whose audience is 'oidc-audience' (default api://AzureADTokenExchange). Use 'oidc-audience' instead, or set 'certificate'."
    )
  })

  it("keeps 'audience' as the assertion's aud with a certificate", () => {
    setInputs({ audience: 'https://issuer.example' })
    expect(readSettings({}).audience).toBe('https://issuer.example')
  })

  it('says why a lifetime without a certificate is refused', () => {
    delete process.env.INPUT_CERTIFICATE
    setInputs({ 'assertion-lifetime': '300' })
    const error = failure()
    expect(error.input).toBe('assertion-lifetime')
    expect(error.message).toBe(
      "Input 'assertion-lifetime' applies to assertions signed with a certificate; without one the assertion is the GitHub OIDC token, whose lifetime GitHub sets. Remove it, or set 'certificate'."
    )
  })

  it.each(['+600', '60e1', '0000060', '59', '601', 'x'])(
    'refuses the lifetime %s with the bounds',
    (value) => {
      setInputs({ 'assertion-lifetime': value })
      const error = failure()
      expect(error.input).toBe('assertion-lifetime')
      expect(error.message).toBe(
        `Input 'assertion-lifetime' must be a whole number of seconds from 60 to 600 (Microsoft Entra ID: an assertion valid "5-10 minutes after nbf at most"); got '${value}'.`
      )
    }
  )

  it.each(['000060', '61', '599'])('takes the lifetime %s', (value) => {
    setInputs({ 'assertion-lifetime': value })
    expect(readSettings().assertionLifetime).toBe(Number(value))
  })

  it('normalises exchange-url and leaves it unset without the input', () => {
    expect(readSettings().exchangeUrl).toBeUndefined()
    setInputs({ 'exchange-url': 'https://API.example.com' })
    expect(readSettings().exchangeUrl).toBe('https://api.example.com/')
  })

  // Names that later tools run, load or trust as settings, accepted by the old list of refusals.
  it.each([
    'GRAPH-TOKEN',
    '1_TOKEN',
    'TOKEN',
    'graph_token',
    'PATH',
    'LD_PRELOAD',
    'https_proxy',
    'CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUNNER',
    'RUSTC_WORKSPACE_WRAPPER',
    'ERL_AFLAGS',
    'MAVEN_ARGS',
    'TF_CLI_ARGS',
    'PHPRC',
    'WGETRC',
    'CURL_HOME',
    'PERLLIB',
    'SSLKEYLOGFILE',
    'GOSUMDB',
    'GLIBC_TUNABLES',
    'GRAPH_TOKEN_FILE'
  ])('refuses the export-variable %s, which does not say it holds a token', (name) => {
    setInputs({ 'export-variable': name })
    const error = failure()
    expect(error.input).toBe('export-variable')
    expect(error.message).toBe(
      `Input 'export-variable' must be a name in capitals that ends in _TOKEN, e.g. GRAPH_TOKEN or ARM_ACCESS_TOKEN: a name that says it holds a token is one that no tool reads as a program, a path or its settings; got '${name}'.`
    )
  })

  it.each([
    'GITHUB_TOKEN',
    'ACTIONS_RUNTIME_TOKEN',
    'RUNNER_TOKEN',
    'GH_TOKEN',
    'NPM_TOKEN',
    'AWS_SESSION_TOKEN'
  ])('refuses %s, a token name the runner or another service reads', (name) => {
    setInputs({ 'export-variable': name })
    const error = failure()
    expect(error.input).toBe('export-variable')
    expect(error.message).toBe(
      `Input 'export-variable' is ${name}, a name that the runner or the tools of another service read as their credential, so the token would be sent there: use a name of your own, e.g. GRAPH_TOKEN.`
    )
  })

  it.each(['GRAPH_TOKEN', 'ARM_ACCESS_TOKEN', 'PARTNER_CENTER_TOKEN', 'API2_TOKEN', 'A__TOKEN'])(
    'exports to %s',
    (name) => {
      setInputs({ 'export-variable': name })
      expect(readSettings().exportVariable).toBe(name)
    }
  )
})

describe('isReservedVariable', () => {
  it.each([
    ['GITHUB_TOKEN', true],
    ['STATE_TOKEN', true],
    ['VAULT_TOKEN', true],
    ['GRAPH_TOKEN', false],
    ['MY_GITHUB_TOKEN', false]
  ])('%s: %p', (name, reserved) => {
    expect(isReservedVariable(name)).toBe(reserved)
  })
})
