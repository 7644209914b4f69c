// PEM repair on its own: what normalize() undoes, each block rebuilt in canonical form (headers,
// 64-character lines), which blocks count as encrypted, which pieces are handed on as secrets,
// and the one message for a block that is not whole.
import { describe, expect, it } from '@jest/globals'
import { InputError } from '../src/errors.js'
import {
  isKeyLabel,
  MIN_KEY_PIECE_LENGTH,
  normalize,
  parsePem,
  type PemBlock
} from '../src/keys/pem.js'

const TRUNCATED =
  "Input 'certificate' holds a PEM block without its matching -----END ...----- line: the text is truncated. Paste the whole file."

/** The blocks and the secrets handed on while reading them. */
function read(text: string): { blocks: PemBlock[]; secrets: string[] } {
  const secrets: string[] = []
  const blocks = parsePem(text, 'certificate', (s) => secrets.push(s))
  return { blocks, secrets }
}

function refusal(text: string): { message: string; secrets: string[] } {
  const secrets: string[] = []
  try {
    parsePem(text, 'certificate', (s) => secrets.push(s))
  } catch (error) {
    expect(error).toBeInstanceOf(InputError)
    return { message: (error as Error).message, secrets }
  }
  return { message: 'parsed', secrets }
}

const B64 =
  'QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0NTY3ODkrLw=='

describe('normalize', () => {
  it('turns literal \\r\\n, \\n and \\r sequences into line breaks', () => {
    expect(normalize('a\\r\\nb\\nc\\rd')).toBe('a\nb\nc\nd')
  })

  it('turns CRLF and lone CR into LF', () => {
    expect(normalize('a\r\nb\rc\nd')).toBe('a\nb\nc\nd')
    expect(normalize('a\r\r\nb')).toBe('a\n\nb')
  })

  it('drops the blank lines and spaces around the text', () => {
    expect(normalize(' \n\t x \n y \r\n ')).toBe('x \n y')
  })
})

describe('parsePem', () => {
  it('rebuilds a block flattened to one line, wrapping the base64 at 64 characters', () => {
    const { blocks, secrets } = read(
      `-----BEGIN CERTIFICATE----- ${B64.slice(0, 30)} ${B64.slice(30)} -----END CERTIFICATE-----`
    )
    expect(blocks).toEqual([
      {
        label: 'CERTIFICATE',
        pem: `-----BEGIN CERTIFICATE-----\n${B64.slice(0, 64)}\n${B64.slice(64)}\n-----END CERTIFICATE-----\n`,
        encrypted: false,
        input: 'certificate'
      }
    ])
    expect(secrets).toEqual([])
  })

  it('reads each block in order, ignoring the text between them', () => {
    const { blocks } = read(
      `Bag Attributes\n-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\nsubject=x\n` +
        `-----BEGIN X509 CRL-----\n  BBBB\n  CCCC\n-----END X509 CRL-----\n`
    )
    expect(blocks.map((b) => b.pem)).toEqual([
      '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n',
      '-----BEGIN X509 CRL-----\nBBBBCCCC\n-----END X509 CRL-----\n'
    ])
  })

  it('answers no blocks for text without any', () => {
    expect(read('no PEM here -----END CERTIFICATE-----').blocks).toEqual([])
  })

  it('keeps the encapsulated headers of a legacy encrypted key, first, with a blank line', () => {
    const { blocks } = read(
      '-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00FF\n\nAAAA\nBBBB\n-----END RSA PRIVATE KEY-----'
    )
    expect(blocks).toEqual([
      {
        label: 'RSA PRIVATE KEY',
        pem: '-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00FF\n\nAAAABBBB\n-----END RSA PRIVATE KEY-----\n',
        encrypted: true,
        input: 'certificate'
      }
    ])
  })

  it('takes a last token ending in a colon as base64, not as a header', () => {
    expect(
      read('-----BEGIN CERTIFICATE-----\nAAAA\nBB:\n-----END CERTIFICATE-----').blocks[0].pem
    ).toBe('-----BEGIN CERTIFICATE-----\nAAAABB:\n-----END CERTIFICATE-----\n')
  })

  it.each([
    ['ENCRYPTED PRIVATE KEY', '', true],
    ['PRIVATE KEY', '', false],
    ['RSA PRIVATE KEY', 'Proc-Type: 4,ENCRYPTED\n', true],
    ['RSA PRIVATE KEY', 'proc-type: 4,encrypted\n', true],
    ['RSA PRIVATE KEY', 'Proc-Type: 4,MIC-ONLY\n', false],
    ['RSA PRIVATE KEY', 'X-Proc-Type: 4,ENCRYPTED\n', false],
    ['RSA PRIVATE KEY', 'Comment: ENCRYPTED\n', false]
  ])('counts %s with headers %j as encrypted: %s', (label, headers, encrypted) => {
    const { blocks } = read(`-----BEGIN ${label}-----\n${headers}\nAAAA\n-----END ${label}-----\n`)
    expect(blocks.map((b) => b.encrypted)).toEqual([encrypted])
  })

  it('hands on the pieces of a key body of at least 16 characters, and nothing of a certificate', () => {
    const long = 'A'.repeat(MIN_KEY_PIECE_LENGTH)
    const short = 'B'.repeat(MIN_KEY_PIECE_LENGTH - 1)
    const body = `\n${long}\n${short}\n${long}C\n`
    expect(
      read(`-----BEGIN RSA PRIVATE KEY-----${body}-----END RSA PRIVATE KEY-----`).secrets
    ).toEqual([long, `${long}C`])
    expect(read(`-----BEGIN PRIVATE KEY-----${body}-----END PRIVATE KEY-----`).secrets).toEqual([
      long,
      `${long}C`
    ])
    expect(read(`-----BEGIN CERTIFICATE-----${body}-----END CERTIFICATE-----`).secrets).toEqual([])
    expect(
      read(`-----BEGIN PRIVATE KEY BACKUP-----${body}-----END PRIVATE KEY BACKUP-----`).secrets
    ).toEqual([])
  })

  it('takes a label of 64 characters', () => {
    const label = 'A'.repeat(64)
    expect(read(`-----BEGIN ${label}-----\nAAAA\n-----END ${label}-----`).blocks[0].label).toBe(
      label
    )
  })

  it.each([
    ['a BEGIN line without its END line', '-----BEGIN CERTIFICATE-----\nAAAA\n'],
    [
      'an END line of another label',
      '-----BEGIN CERTIFICATE-----\nAAAA\n-----END PRIVATE KEY-----'
    ],
    ['a BEGIN line cut short', 'xx -----BEGIN CERTIFI'],
    [
      'a BEGIN line without its closing dashes',
      '-----BEGIN CERTIFICATE\nAAAA\n-----END CERTIFICATE-----'
    ],
    ['an empty label', '-----BEGIN -----\nAAAA\n-----END -----'],
    [
      'a label of 65 characters',
      `-----BEGIN ${'A'.repeat(65)}-----\nAAAA\n-----END ${'A'.repeat(65)}-----`
    ],
    ['a label with a lower-case letter first', '-----BEGIN xCERT-----\nAAAA\n-----END xCERT-----'],
    ['a label with a lower-case letter last', '-----BEGIN CERTx-----\nAAAA\n-----END CERTx-----'],
    [
      'a BEGIN without a label after a whole block',
      '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n-----BEGIN-----\n'
    ],
    [
      'a whole block after a BEGIN without a label',
      '-----BEGIN-----\n-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n'
    ],
    [
      'a block that lost its END line before the next one',
      '-----BEGIN CERTIFICATE-----\nAAAA\n-----BEGIN CERTIFICATE-----\nBBBB\n-----END CERTIFICATE-----\n'
    ]
  ])('refuses %s', (_, text) => {
    expect(refusal(text).message).toBe(TRUNCATED)
  })
})

describe('isKeyLabel', () => {
  it('takes the labels that end in PRIVATE KEY', () => {
    expect(
      ['PRIVATE KEY', 'RSA PRIVATE KEY', 'ENCRYPTED PRIVATE KEY', 'PUBLIC KEY', 'PRIVATE KEYS'].map(
        isKeyLabel
      )
    ).toEqual([true, true, true, false, false])
  })
})
