// Loads the docs page script in a context shaped like a browser's (Web Crypto, TextEncoder, btoa, URL helpers,
// sessionStorage, window.location/history, fetch) with a DOM stub that never fires DOMContentLoaded, then runs
// the expressions given on stdin as a JSON array, printing their awaited values. `browser` in the context holds
// what the page did: the URL it navigated to, its fetch calls, what it stored.
'use strict';
const fs = require('fs');
const vm = require('vm');
const { webcrypto } = require('crypto');

const store = new Map();
const browser = { navigatedTo: null, fetches: [], replacedUrl: null, tokenResponse: { status: 200, body: {} } };
const context = vm.createContext({
  crypto: webcrypto, TextEncoder, btoa, URLSearchParams, Uint8Array, Object, JSON, String, Promise, Error,
  document: { addEventListener: () => {} },
  sessionStorage: {
    getItem: (k) => (store.has(k) ? store.get(k) : null),
    setItem: (k, v) => store.set(k, String(v)),
    removeItem: (k) => store.delete(k),
  },
  window: {
    location: { search: '', pathname: '/docs/', assign: (url) => { browser.navigatedTo = url; } },
    history: { replaceState: (_s, _t, url) => { browser.replacedUrl = url; } },
  },
  fetch: async (url, init) => {
    browser.fetches.push({ url, method: (init || {}).method || 'GET', body: String((init || {}).body || '') });
    const r = browser.tokenResponse;
    return { ok: r.status < 400, status: r.status, json: async () => r.body, text: async () => JSON.stringify(r.body) };
  },
  browser,
});
vm.runInContext(fs.readFileSync(process.argv[2], 'utf8'), context, { filename: process.argv[2] });
const expressions = JSON.parse(fs.readFileSync(0, 'utf8'));
(async () => {
  const values = [];
  for (const e of expressions) {
    try {
      values.push(await vm.runInContext(e, context));
    } catch (err) {
      values.push({ thrown: String(err.message || err) });
    }
  }
  process.stdout.write(JSON.stringify(values));
})();
