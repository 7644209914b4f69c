// RC4 (the stream cipher of pbeWithSHAAnd128BitRC4 and pbeWithSHAAnd40BitRC4, RFC 7292 appendix C),
// which NSS and GnuTLS still write on request. Written by hand because Node's OpenSSL has RC4 only
// in its legacy provider, which Node does not load. The same function encrypts and decrypts.

/** RC4 keystream XORed over `data` with `key`. */
export function rc4(key: Buffer, data: Buffer): Buffer {
  const s = new Uint8Array(256)
  for (let i = 0; i < 256; i++) s[i] = i
  for (let i = 0, j = 0; i < 256; i++) {
    j = (j + s[i] + key[i % key.length]) & 0xff
    ;[s[i], s[j]] = [s[j], s[i]]
  }
  const out = Buffer.alloc(data.length)
  for (let n = 0, i = 0, j = 0; n < data.length; n++) {
    i = (i + 1) & 0xff
    j = (j + s[i]) & 0xff
    ;[s[i], s[j]] = [s[j], s[i]]
    out[n] = data[n] ^ s[(s[i] + s[j]) & 0xff]
  }
  return out
}
