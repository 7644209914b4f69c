// A later step's program that signs in through the managed-identity endpoint with a real client
// library, as a user's step would: it reads IDENTITY_ENDPOINT and IDENTITY_HEADER from its
// environment and asks for a token for each resource given. It prints, per token, the SHA-256 of
// the token (never the token) and its expiry, one JSON line; or `error: <message>` on failure.
//
//   node mi-clients.mjs <managed-identity-credential|default-azure-credential|msal-node> <resource>...
import { DefaultAzureCredential, ManagedIdentityCredential } from '@azure/identity'
import { ManagedIdentityApplication } from '@azure/msal-node'
import { createHash } from 'node:crypto'

const [client, ...resources] = process.argv.slice(2)
const hash = (/** @type {string} */ token) => createHash('sha256').update(token).digest('hex')

/** @type {(resource: string) => Promise<{ token: string, expiresOn: number }>} */
let get
if (client === 'msal-node') {
  const app = new ManagedIdentityApplication({})
  get = async (resource) => {
    const result = await app.acquireToken({ resource })
    return { token: result.accessToken, expiresOn: result.expiresOn?.getTime() ?? 0 }
  }
} else {
  const credential =
    client === 'default-azure-credential'
      ? new DefaultAzureCredential()
      : new ManagedIdentityCredential()
  get = async (resource) => {
    const result = await credential.getToken(`${resource.replace(/\/$/, '')}/.default`)
    return { token: result.token, expiresOn: result.expiresOnTimestamp }
  }
}

try {
  for (const resource of resources) {
    const { token, expiresOn } = await get(resource)
    console.log(JSON.stringify({ resource, sha256: hash(token), expiresOn }))
  }
} catch (error) {
  console.log(`error: ${String(error instanceof Error ? error.message : error).split('\n')[0]}`)
  process.exitCode = 1
}
