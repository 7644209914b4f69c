// How a refusal is explained, by what signed the request (readToken, in-process).
import { describe, expect, it } from '@jest/globals'
import { TokenError } from '../src/errors.js'
import { readToken, type Signer } from '../src/token.js'

const URL = 'https://login.test/tenant/oauth2/v2.0/token'
const REFUSAL = {
  error: 'invalid_client',
  error_description: 'AADSTS700027: Client assertion failed signature validation.',
  error_codes: [700027]
}

function explain(signer?: Signer): string {
  const answer = { status: 401, headers: {}, body: JSON.stringify(REFUSAL) }
  try {
    readToken(answer, 'Token request', URL, 0, [], signer)
  } catch (error) {
    if (error instanceof TokenError) return error.message
  }
  throw new Error('readToken accepted a refusal')
}

describe('readToken hints', () => {
  it('names the certificate by thumbprint when a certificate signed the assertion', () => {
    expect(explain({ thumbprint: 'A1B2' })).toBe(
      `Token request to ${URL} failed: HTTP 401 invalid_client. AADSTS700027: Client assertion failed signature validation. Hint: upload this certificate (thumbprint A1B2) to the app registration under Certificates & secrets, or use the certificate that is uploaded there; if it is uploaded, try algorithm: RS256.`
    )
  })

  it('points to the federated credential when the GitHub OIDC token was the assertion', () => {
    expect(explain('federation')).toContain(
      'Hint: the GitHub OIDC token was not accepted: add a federated credential'
    )
  })

  it('gives neither hint when nothing of the action signed the request (the exchange)', () => {
    expect(explain()).toBe(
      `Token request to ${URL} failed: HTTP 401 invalid_client. AADSTS700027: Client assertion failed signature validation. Hint: the server did not accept the client assertion: check 'client-id', that the certificate's public key is registered for the client, and 'audience'.`
    )
  })
})
