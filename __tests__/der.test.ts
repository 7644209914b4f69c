// The BER reader on its own: each length form, the exact bytes and content it keeps, the bounds it
// enforces (depth, length octets, end of input) and the error for each way an input is refused.
import { describe, expect, it } from '@jest/globals'
import {
  DerError,
  integer,
  items,
  octets,
  oid,
  parse,
  parseFirst,
  type Node
} from '../src/keys/pkcs12/der.js'

const hex = (text: string): Buffer => Buffer.from(text.replace(/\s/g, ''), 'hex')

/** The message parse() refuses this input with, or 'parsed'. */
function refusal(input: string): string {
  try {
    parse(hex(input))
  } catch (error) {
    expect(error).toBeInstanceOf(DerError)
    return (error as Error).message
  }
  return 'parsed'
}

function thrown(call: () => unknown): string {
  try {
    call()
  } catch (error) {
    expect(error).toBeInstanceOf(DerError)
    return (error as Error).message
  }
  return 'returned'
}

/** A node as plain hex, for exact comparison. */
function shape(node: Node): unknown {
  return {
    tag: node.tag,
    bytes: node.bytes.toString('hex'),
    content: node.content.toString('hex'),
    children: node.children.map(shape)
  }
}

describe('parse', () => {
  it('reads a primitive of length zero and of two octets', () => {
    expect(shape(parse(hex('0500')))).toEqual({ tag: 5, bytes: '0500', content: '', children: [] })
    expect(shape(parse(hex('0400')))).toEqual({ tag: 4, bytes: '0400', content: '', children: [] })
  })

  it('reads the long length forms, one to four length octets', () => {
    expect(shape(parse(hex('04 81 00')))).toEqual({
      tag: 4,
      bytes: '048100',
      content: '',
      children: []
    })
    expect(parse(hex('04 81 02 aa bb')).content.toString('hex')).toBe('aabb')
    expect(parse(hex('04 84 00 00 00 01 cc')).content.toString('hex')).toBe('cc')
    const long = Buffer.concat([hex('04 82 01 02'), Buffer.alloc(258, 0x5a)])
    expect(parse(long).content).toEqual(Buffer.alloc(258, 0x5a))
    const longer = Buffer.concat([hex('04 83 01 00 01'), Buffer.alloc(65537, 1)])
    expect(parse(longer).content.length).toBe(65537)
  })

  it('reads a definite-length SEQUENCE into its children, keeping each one’s bytes', () => {
    expect(shape(parse(hex('30 06 02 01 05 04 01 aa')))).toEqual({
      tag: 0x30,
      bytes: '3006020105' + '0401aa',
      content: '020105' + '0401aa',
      children: [
        { tag: 2, bytes: '020105', content: '05', children: [] },
        { tag: 4, bytes: '0401aa', content: 'aa', children: [] }
      ]
    })
    expect(shape(parse(hex('30 00')))).toEqual({
      tag: 0x30,
      bytes: '3000',
      content: '',
      children: []
    })
  })

  it('reads an indefinite length up to its end-of-contents octets, a NULL child included', () => {
    expect(shape(parse(hex('30 80 05 00 02 01 07 00 00')))).toEqual({
      tag: 0x30,
      bytes: '3080050002010700' + '00',
      content: '0500020107',
      children: [
        { tag: 5, bytes: '0500', content: '', children: [] },
        { tag: 2, bytes: '020107', content: '07', children: [] }
      ]
    })
    expect(shape(parse(hex('a0 80 00 00')))).toEqual({
      tag: 0xa0,
      bytes: 'a0800000',
      content: '',
      children: []
    })
  })

  it('takes only 00 00 as the end of contents', () => {
    const node = parse(hex('30 80 00 01 aa 00 00'))
    expect(node.children.map((c) => c.bytes.toString('hex'))).toEqual(['0001aa'])
  })

  it('reads nested indefinite lengths inside a definite one', () => {
    expect(refusal('30 08 30 80 02 01 01 00 00')).toBe('truncated')
    expect(shape(parse(hex('30 07 30 80 02 01 01 00 00')))).toEqual({
      tag: 0x30,
      bytes: '3007308002010100' + '00',
      content: '308002010100' + '00',
      children: [
        {
          tag: 0x30,
          bytes: '30800201010000',
          content: '020101',
          children: [{ tag: 2, bytes: '020101', content: '01', children: [] }]
        }
      ]
    })
  })

  it('takes 41 levels of nesting and refuses 42', () => {
    const nested = (levels: number): string =>
      '3080'.repeat(levels - 1) + '3000' + '0000'.repeat(levels - 1)
    expect(parse(hex(nested(41))).children).toHaveLength(1)
    expect(refusal(nested(42))).toBe('nested too deeply')
  })

  it('counts the depth of definite lengths too', () => {
    const nested = (levels: number): string => {
      let der = '3000'
      for (let i = 1; i < levels; i++)
        der = `30${(der.length / 2).toString(16).padStart(2, '0')}${der}`
      return der
    }
    expect(parse(hex(nested(41))).children).toHaveLength(1)
    expect(refusal(nested(42))).toBe('nested too deeply')
  })

  it.each([
    ['an empty input', '', 'truncated'],
    ['a lone identifier octet', '04', 'truncated'],
    ['a length past the end', '30 05 02 01 05', 'truncated'],
    ['a child past its parent’s end', '30 03 04 05 aa bb cc dd ee', 'truncated'],
    ['a missing end-of-contents', '30 80 02 01 05', 'truncated'],
    ['one octet of end-of-contents', '30 80 02 01 05 00', 'truncated'],
    ['end-of-contents past a definite parent’s end', '30 03 30 80 00 00 00', 'truncated'],
    ['trailing bytes', '30 03 02 01 05 00', 'trailing bytes'],
    ['trailing bytes after an indefinite length', '30 80 00 00 00', 'trailing bytes'],
    ['an indefinite length on a primitive', '04 80 00 00', 'indefinite length on a primitive'],
    ['a high tag number', '1f 81 00 00', 'high tag number'],
    ['five length octets', '04 85 00 00 00 00 01 aa', 'bad length'],
    ['length octets past the end', '04 82 00', 'bad length'],
    ['a four-octet length past the end', '04 84 00 00 01 00 aa', 'truncated']
  ])('refuses %s', (_, input, message) => {
    expect(refusal(input)).toBe(message)
  })
})

describe('octets', () => {
  it('answers a primitive OCTET STRING’s content and joins constructed segments', () => {
    expect(octets(parse(hex('04 02 aa bb'))).toString('hex')).toBe('aabb')
    expect(octets(parse(hex('80 01 cc'))).toString('hex')).toBe('cc')
    expect(octets(parse(hex('24 80 04 01 aa 24 03 04 01 bb 00 00'))).toString('hex')).toBe('aabb')
    expect(octets(parse(hex('a0 06 04 01 dd 04 01 ee'))).toString('hex')).toBe('ddee')
  })
})

describe('oid', () => {
  it.each([
    ['06 09 2a 86 48 86 f7 0d 01 07 01', '1.2.840.113549.1.7.1'],
    ['06 03 55 04 03', '2.5.4.3'],
    ['06 02 88 37', '2.999'],
    ['06 03 88 37 03', '2.999.3'],
    ['06 01 50', '2.0'],
    ['06 01 4f', '1.39'],
    ['06 01 27', '0.39'],
    ['06 03 00 81 00', '0.0.128'],
    ['06 05 2b 81 80 80 01', '1.3.2097153']
  ])('reads %s as %s', (input, dotted) => {
    expect(oid(parse(hex(input)))).toBe(dotted)
  })

  it.each([
    ['no node', undefined],
    ['an empty OID', '06 00'],
    ['an INTEGER', '02 01 2a']
  ])('refuses %s', (_, input) => {
    const node = input === undefined ? undefined : parse(hex(input))
    expect(thrown(() => oid(node))).toBe('not an OID')
  })
})

describe('integer', () => {
  it.each([
    ['02 01 00', 0],
    ['02 01 03', 3],
    ['02 01 7f', 127],
    ['02 02 00 80', 128],
    ['02 02 08 00', 2048],
    ['02 03 01 86 a0', 100000],
    ['02 04 7f ff ff ff', 2147483647]
  ])('reads %s as %i', (input, value) => {
    expect(integer(parse(hex(input)))).toBe(value)
  })

  it.each([
    ['no node', undefined, 'not an INTEGER'],
    ['an empty INTEGER', '02 00', 'not an INTEGER'],
    ['an OCTET STRING', '04 01 03', 'not an INTEGER'],
    ['a negative INTEGER', '02 01 80', 'negative INTEGER'],
    ['a negative INTEGER of two octets', '02 02 ff 00', 'negative INTEGER']
  ])('refuses %s', (_, input, message) => {
    const node = input === undefined ? undefined : parse(hex(input))
    expect(thrown(() => integer(node))).toBe(message)
  })
})

describe('items', () => {
  it('answers the children of a SEQUENCE, or of the node with the tag asked for', () => {
    const sequence = parse(hex('30 03 02 01 01'))
    expect(items(sequence).map((n) => n.bytes.toString('hex'))).toEqual(['020101'])
    const tagged = parse(hex('a0 03 04 01 aa'))
    expect(items(tagged, 0xa0).map((n) => n.bytes.toString('hex'))).toEqual(['0401aa'])
  })

  it('names the tag it expected', () => {
    expect(thrown(() => items(undefined))).toBe('expected tag 30')
    expect(thrown(() => items(parse(hex('31 00'))))).toBe('expected tag 30')
    expect(thrown(() => items(parse(hex('30 00')), 0xa0))).toBe('expected tag a0')
  })
})

describe('parseFirst', () => {
  it('reads the first structure and ignores what follows it, keeping its bytes as given', () => {
    const node = parseFirst(hex('3003 020105 0000000000000000'))
    expect(node.bytes.toString('hex')).toBe('3003020105')
    expect(integer(items(node)[0])).toBe(5)
  })

  it('refuses a length inside a structure that runs past its parent, even into the bytes that follow', () => {
    // The OCTET STRING claims 5 octets; its SEQUENCE holds only 3 of them, the 2 more follow it.
    expect(thrown(() => parseFirst(hex('3005 0405 010203 0405')))).toBe('truncated')
    expect(refusal('3005 0405 010203 0405')).toBe('truncated')
    // An indefinite-length child must end inside its parent too.
    expect(thrown(() => parseFirst(hex('3004 3080 0101 0000')))).toBe('truncated')
  })

  it('refuses a first structure cut short', () => {
    expect(thrown(() => parseFirst(hex('3005 0201')))).toBe('truncated')
  })
})
