// The peer: what a user would otherwise write and ship as an action (bundled with ncc at bench
// time): @actions/core for the inputs, the mask and the output, as every JavaScript action does,
// and @azure/msal-node's ConfidentialClientApplication with a certificate for the token. No
// checks and no explanations beyond what msal-node does itself.
//
// For login.microsoftonline.com msal-node has its cloud discovery and endpoint metadata built in
// and sends only the token POST. The bench's authority is https://127.0.0.1:PORT/<tenant>, so the
// same metadata is given in the configuration: msal-node then sends that one POST and never
// looks anything up (no instance discovery, no OpenID configuration; the bench checks this).
import * as core from '@actions/core'
import { ConfidentialClientApplication } from '@azure/msal-node'
import { createHash, createPrivateKey, X509Certificate } from 'node:crypto'

/** @param {string} name */
const input = (name) => core.getInput(name)

const pem = input('certificate')
const authority = `${input('authority-host')}/${input('tenant-id')}`
const host = new URL(authority).host

const app = new ConfidentialClientApplication({
  auth: {
    clientId: input('client-id'),
    authority,
    clientCertificate: {
      thumbprintSha256: createHash('sha256').update(new X509Certificate(pem).raw).digest('hex'),
      privateKey: createPrivateKey(pem).export({ type: 'pkcs8', format: 'pem' }).toString()
    },
    cloudDiscoveryMetadata: JSON.stringify({
      tenant_discovery_endpoint: `${authority}/v2.0/.well-known/openid-configuration`,
      metadata: [{ preferred_network: host, preferred_cache: host, aliases: [host] }]
    }),
    authorityMetadata: JSON.stringify({
      issuer: `${authority}/v2.0`,
      token_endpoint: `${authority}/oauth2/v2.0/token`,
      authorization_endpoint: `${authority}/oauth2/v2.0/authorize`,
      end_session_endpoint: `${authority}/oauth2/v2.0/logout`,
      jwks_uri: `${authority}/discovery/v2.0/keys`
    })
  }
})

const result = await app.acquireTokenByClientCredential({ scopes: [input('scope')] })
if (!result?.accessToken) throw new Error('no access token')
core.setSecret(result.accessToken)
core.setOutput('access-token', result.accessToken)
