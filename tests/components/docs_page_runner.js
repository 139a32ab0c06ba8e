// Loads the docs page script in a context shaped like a browser's (Web Crypto, TextEncoder, btoa, URL
// helpers; a DOM stub that never fires DOMContentLoaded) and runs the expressions given on stdin as a JSON
// array, printing their awaited values.
'use strict';
const fs = require('fs');
const vm = require('vm');
const { webcrypto } = require('crypto');

const context = vm.createContext({
  crypto: webcrypto, TextEncoder, btoa, URLSearchParams, Uint8Array, Object, JSON, String, Promise,
  document: { addEventListener: () => {} },
});
vm.runInContext(fs.readFileSync(process.argv[2], 'utf8'), context, { filename: process.argv[2] });
const expressions = JSON.parse(fs.readFileSync(0, 'utf8'));
Promise.all(expressions.map((e) => vm.runInContext(e, context))).then((values) => {
  process.stdout.write(JSON.stringify(values));
});
