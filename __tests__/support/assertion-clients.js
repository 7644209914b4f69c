// A later workflow step that signs in with the action's `client-assertion`, through a real client
// library not written here: `node assertion-clients.js identity|msal`. It reads the assertion from
// the environment (as a workflow passes it, through `env:`), asks for a token for each scope in
// SCOPES (comma-separated), in order, and prints one JSON line per scope: `{ scope, ok, token }`
// or `{ scope, ok: false, error }`. Run in its own process so NODE_EXTRA_CA_CERTS takes effect.
//
//   AUTHORITY_HOST  e.g. https://127.0.0.1:PORT   TENANT_ID, CLIENT_ID, CLIENT_ASSERTION, SCOPES
import { ClientAssertionCredential } from '@azure/identity'
import { ConfidentialClientApplication } from '@azure/msal-node'

const env = (/** @type {string} */ name) => {
  const value = process.env[name]
  if (!value) throw new Error(`${name} is not set`)
  return value
}
const authorityHost = env('AUTHORITY_HOST')
const tenantId = env('TENANT_ID')
const clientId = env('CLIENT_ID')
const assertion = env('CLIENT_ASSERTION')
const scopes = env('SCOPES').split(',')

/** @type {(scope: string) => Promise<string>} */
let getToken
if (process.argv[2] === 'identity') {
  // The Azure SDK for JavaScript: the assertion callback is called for every token it needs.
  const credential = new ClientAssertionCredential(tenantId, clientId, async () => assertion, {
    authorityHost,
    disableInstanceDiscovery: true
  })
  getToken = async (scope) => (await credential.getToken(scope)).token
} else if (process.argv[2] === 'msal') {
  // MSAL for Node: a confidential client whose credential is the assertion string itself.
  const app = new ConfidentialClientApplication({
    auth: {
      clientId,
      authority: `${authorityHost}/${tenantId}`,
      knownAuthorities: [new URL(authorityHost).host],
      clientAssertion: assertion
    }
  })
  getToken = async (scope) => {
    const result = await app.acquireTokenByClientCredential({ scopes: [scope] })
    if (!result?.accessToken) throw new Error('no access token')
    return result.accessToken
  }
} else {
  throw new Error('usage: assertion-clients.js identity|msal')
}

for (const scope of scopes) {
  try {
    console.log(JSON.stringify({ scope, ok: true, token: await getToken(scope) }))
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error)
    console.log(JSON.stringify({ scope, ok: false, error: message }))
  }
}
