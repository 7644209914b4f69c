// Build-time wrapper for `tunnel`, which @actions/http-client imports at start-up but calls only
// when HTTPS_PROXY/HTTP_PROXY applies to the request: the real module (and the node:assert it
// loads) is evaluated on the first proxied request instead of on every run. The require() inside
// a function is what makes the bundler evaluate it lazily.
/** @returns {Record<string, (options: object) => unknown>} */
// @ts-expect-error -- tunnel ships no types
const load = () => require('../../node_modules/tunnel/lib/tunnel.js')

/** @param {object} options */
exports.httpOverHttp = (options) => load().httpOverHttp(options)
/** @param {object} options */
exports.httpsOverHttp = (options) => load().httpsOverHttp(options)
/** @param {object} options */
exports.httpOverHttps = (options) => load().httpOverHttps(options)
/** @param {object} options */
exports.httpsOverHttps = (options) => load().httpsOverHttps(options)
