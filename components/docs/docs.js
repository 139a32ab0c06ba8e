// Renders /docs/openapi.json and runs the Hosted UI sign-in (authorization code + PKCE, no client secret).
// Tokens are kept in this tab's memory/sessionStorage and only sent to the Cognito token endpoint and our API.
'use strict';

const state = { config: null, document: null, tokens: null };

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key === 'class') node.className = value; else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child);  // text is inserted as text, never parsed as HTML
  return node;
}

function base64Url(bytes) {
  let text = '';
  for (const b of new Uint8Array(bytes)) text += String.fromCharCode(b);
  return btoa(text).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

// RFC 7636 S256: BASE64URL(SHA256(ASCII(code_verifier))); the verifier is 32 random bytes (43 characters).
async function challengeFor(verifier) {
  return base64Url(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier)));
}

async function pkcePair() {
  const verifier = base64Url(crypto.getRandomValues(new Uint8Array(32)));
  return { verifier, challenge: await challengeFor(verifier) };
}

async function signIn(event) {
  event.preventDefault();
  const ui = state.config.hostedUi;
  const { verifier, challenge } = await pkcePair();
  const nonce = base64Url(crypto.getRandomValues(new Uint8Array(16)));
  sessionStorage.setItem('pkce', JSON.stringify({ verifier, state: nonce }));
  const query = new URLSearchParams({
    response_type: 'code', client_id: ui.clientId, redirect_uri: ui.redirectUri, scope: ui.scopes.join(' '),
    state: nonce, code_challenge: challenge, code_challenge_method: 'S256',
  });
  window.location.assign(`${ui.domain}/oauth2/authorize?${query}`);
}

function signOut(event) {
  event.preventDefault();
  const ui = state.config.hostedUi;
  sessionStorage.removeItem('tokens');
  const query = new URLSearchParams({ client_id: ui.clientId, logout_uri: ui.logoutUri });
  window.location.assign(`${ui.domain}/logout?${query}`);
}

async function completeSignIn() {
  const params = new URLSearchParams(window.location.search);
  const saved = JSON.parse(sessionStorage.getItem('pkce') || 'null');
  if (!params.get('code') || !saved) return JSON.parse(sessionStorage.getItem('tokens') || 'null');
  sessionStorage.removeItem('pkce');
  // Drop ?code=&state= from the address bar (and from history) before anything else happens.
  window.history.replaceState(null, '', window.location.pathname);
  if (params.get('state') !== saved.state) throw new Error('sign-in state does not match; start again');
  const ui = state.config.hostedUi;
  const response = await fetch(`${ui.domain}/oauth2/token`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code', client_id: ui.clientId, code: params.get('code'),
      redirect_uri: ui.redirectUri, code_verifier: saved.verifier,
    }),
  });
  if (!response.ok) throw new Error(`token exchange failed: ${response.status}`);
  const tokens = await response.json();
  sessionStorage.setItem('tokens', JSON.stringify(tokens));
  return tokens;
}

function showSession() {
  const ui = state.config.hostedUi;
  const signInLink = document.getElementById('sign-in');
  const signOutLink = document.getElementById('sign-out');
  if (!ui) return;
  signInLink.hidden = Boolean(state.tokens);
  signOutLink.hidden = !state.tokens;
  signInLink.addEventListener('click', signIn);
  signOutLink.addEventListener('click', signOut);
  if (!state.tokens) return;
  document.getElementById('signed-in').hidden = false;
  const api = state.config.apiUrl;
  // A Cognito authorizer without scopes accepts the ID token; with scopes, only an access token carrying one.
  document.getElementById('curl-hello').textContent =
    `curl -H "Authorization: Bearer ${state.tokens.id_token}" ${api}/hello`;
  const scoped = firstScopedOperation();
  document.getElementById('curl-scoped').textContent = scoped
    ? `curl -X ${scoped.method.toUpperCase()} -H "Authorization: Bearer ${state.tokens.access_token}" ${api}${scoped.path}`
    : 'No route of this API requires a scope.';
  document.getElementById('call-hello').addEventListener('click', async () => {
    const out = document.getElementById('hello-result');
    const response = await fetch(`${api}/hello`, { headers: { Authorization: `Bearer ${state.tokens.id_token}` } });
    out.textContent = `${response.status} ${await response.text()}`;
  });
}

function firstScopedOperation() {
  const schemes = state.document.components.securitySchemes || {};
  for (const [path, item] of Object.entries(state.document.paths)) {
    for (const [method, operation] of Object.entries(item)) {
      const requirements = operation.security || [];
      const scoped = requirements.some((r) => Object.keys(r).some((name) => (schemes[name] || {}).type === 'oauth2'));
      if (scoped) return { method, path };
    }
  }
  return null;
}

function authText(operation, schemes) {
  if (!operation.security || operation.security.length === 0) return 'public: no token';
  // Entries are alternatives; the schemes within one entry are all required.
  return operation.security.map((requirement) => Object.entries(requirement).map(([name, scopes]) => {
    const scheme = schemes[name] || {};
    if (scheme.type === 'oauth2') return `access token with scope ${scopes.join(' and ')}`;
    if (scheme.type === 'apiKey') return `API key in ${scheme.name}`;
    return 'ID token (Authorization: Bearer)';
  }).join(' + ')).join(', or ');
}

function curlFor(method, path, operation) {
  const server = state.config.apiUrl || ((state.document.servers || [])[0] || {}).url || '';
  const parts = [`curl -X ${method.toUpperCase()} "${server}${path}"`];
  if (operation.security && operation.security.length) parts.push('-H "Authorization: Bearer $TOKEN"');
  const media = operation.requestBody && operation.requestBody.content['application/json'];
  if (media) {
    parts.push("-H 'Content-Type: application/json'");
    if (media.example) parts.push(`-d '${JSON.stringify(media.example)}'`);
  }
  return parts.join(' \\\n     ');
}

function resolve(ref) {
  return ref.replace(/^#\//, '').split('/').reduce((node, key) => node[key], state.document);
}

function renderOperations() {
  const doc = state.document;
  document.getElementById('title').textContent = doc.info.title;
  document.getElementById('summary').textContent = `version ${doc.info.version}`;
  const schemes = doc.components.securitySchemes || {};
  const main = document.getElementById('operations');
  main.replaceChildren();
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, operation] of Object.entries(item)) {
      const section = el('section', { class: 'operation', id: operation.operationId },
        el('h3', {}, el('span', { class: `verb verb-${method}` }, method.toUpperCase()), path),
        el('p', {}, operation.summary),
        el('p', { class: 'auth' }, authText(operation, schemes)));
      const media = operation.requestBody && operation.requestBody.content['application/json'];
      if (media) {
        section.append(el('h4', {}, 'Request body'),
          el('pre', {}, JSON.stringify(resolve(media.schema.$ref), null, 2)));
      }
      const responses = el('ul');
      for (const [status, response] of Object.entries(operation.responses)) {
        const body = response.$ref ? resolve(response.$ref) : response;
        responses.append(el('li', {}, `${status}: ${body.description}`));
      }
      section.append(el('h4', {}, 'Responses'), responses, el('pre', {}, curlFor(method, path, operation)));
      main.append(section);
    }
  }
}

async function main() {
  try {
    state.config = await (await fetch('/docs/config.json')).json();
    state.document = await (await fetch('/docs/openapi.json')).json();
    renderOperations();
    if (state.config.hostedUi) state.tokens = await completeSignIn();
    showSession();
  } catch (err) {
    document.getElementById('operations').replaceChildren(el('p', { class: 'error' }, String(err.message || err)));
  }
}

document.addEventListener('DOMContentLoaded', main);
