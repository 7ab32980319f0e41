// What the bundle gives node-fetch (client-node's HTTP client) for `whatwg-url`: Node's own URL.
// node-fetch takes Node's `url.URL` whenever it exists (Node ≥ 10) and only falls back to
// whatwg-url's, but loading that package parses tr46's Unicode mapping table: 2.5 MiB of heap and
// about 2 MiB of RSS in every controller, for code never run (docs/performance.md).
module.exports = { URL: globalThis.URL, URLSearchParams: globalThis.URLSearchParams };
