// node-forge's own modules, imported one by one so the bundle carries only its PKCS#12 part.
declare module 'node-forge/lib/forge.js' {
  import forge from 'node-forge'
  export default forge
}
declare module 'node-forge/lib/pkcs12.js'
