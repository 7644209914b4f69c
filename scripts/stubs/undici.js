// Build-time stand-in for `undici`. @actions/http-client imports undici only for
// getAgentDispatcher() (fetch-style callers); HttpClient.request, which this action uses, and its
// proxy support (tunnel) never touch it. Bundling the real undici would add ~500 KB to evaluate on
// every run (see README, "Startup and bundle size").
export class ProxyAgent {
  constructor() {
    throw new Error('undici is not bundled with this action')
  }
}
