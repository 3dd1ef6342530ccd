// api.mjs: the registry as the page sees it: /v2/, /v1/search and
// /ui/api/status on the page's own origin, with the credentials the user
// typed (kept in sessionStorage: this tab only, gone when it closes).
//
// Every request is made with credentials: 'omit' and its own
// Authorization header: the browser neither adds credentials it cached
// nor asks for any (its Basic dialog is for requests that include
// credentials), so a 401 comes back to the page, which shows its login
// form instead.

import { MANIFEST_ACCEPT, basicAuth, parseNextLink } from './lib.mjs';

const KEY = 'registryd.auth';
const USER_KEY = 'registryd.user';

export class HttpError extends Error {
  constructor(status, message, detail) {
    super(message);
    this.status = status;
    this.detail = detail || '';
  }
}

// The OCI error body's first message, or the status text.
async function errorOf(res) {
  let msg = `${res.status} ${res.statusText}`.trim();
  try {
    const body = await res.json();
    const e = body && body.errors && body.errors[0];
    if (e) msg = [e.message, typeof e.detail === 'string' ? e.detail : '']
      .filter(Boolean).join(': ');
  } catch {
    // not JSON: keep the status
  }
  const err = new HttpError(res.status, msg);
  if (res.status === 429) {
    err.retryAfter = Number(res.headers.get('Retry-After')) || 0;
  }
  return err;
}

function enc(name) {
  // Names hold only [a-z0-9._/-]: the path takes them as they are.
  return name.split('/').map(encodeURIComponent).join('/');
}

export class Api {
  constructor(storage) {
    this.storage = storage;
  }

  get user() {
    return this.storage.getItem(USER_KEY) || '';
  }

  get auth() {
    return this.storage.getItem(KEY) || '';
  }

  logout() {
    this.storage.removeItem(KEY);
    this.storage.removeItem(USER_KEY);
  }

  async fetch(path, opts = {}) {
    const headers = new Headers(opts.headers || {});
    const auth = opts.auth !== undefined ? opts.auth : this.auth;
    if (auth) headers.set('Authorization', auth);
    let res;
    try {
      res = await fetch(path, {
        method: opts.method || 'GET',
        headers,
        credentials: 'omit',
        cache: 'no-store',
        redirect: 'error',
      });
    } catch (e) {
      throw new HttpError(0, `the registry did not answer (${e.message})`);
    }
    if (!res.ok && !(opts.okStatus || []).includes(res.status)) {
      throw await errorOf(res);
    }
    return res;
  }

  // Check user and password against GET /v2/ and keep them for the tab.
  async login(user, password) {
    const auth = basicAuth(user, password);
    await this.fetch('/v2/', { auth });
    this.storage.setItem(KEY, auth);
    this.storage.setItem(USER_KEY, user);
  }

  async status() {
    return (await this.fetch('/ui/api/status')).json();
  }

  // One page of _catalog: { repositories, next } (next: the last= of
  // the following page, or null).
  async catalog(n, last) {
    const q = new URLSearchParams({ n: String(n) });
    if (last) q.set('last', last);
    const res = await this.fetch(`/v2/_catalog?${q}`);
    const body = await res.json();
    const link = parseNextLink(res.headers.get('Link'));
    let next = null;
    if (link) {
      next = new URL(link, location.href).searchParams.get('last');
    }
    return { repositories: body.repositories || [], next };
  }

  // /v1/search: { results: [{name, description}], num_pages, ... }
  async search(term, n, page) {
    const q = new URLSearchParams({ q: term, n: String(n),
      page: String(page) });
    return (await this.fetch(`/v1/search?${q}`)).json();
  }

  // Every tag of name (following Link pages up to max).
  async tags(name, max = 10000) {
    let url = `/v2/${enc(name)}/tags/list`;
    const tags = [];
    while (url && tags.length < max) {
      const res = await this.fetch(url);
      const body = await res.json();
      tags.push(...(body.tags || []));
      const link = parseNextLink(res.headers.get('Link'));
      url = link ? new URL(link, location.href).pathname +
        new URL(link, location.href).search : null;
    }
    return tags;
  }

  // A manifest: { digest, mediaType, size, manifest (parsed) }.
  async manifest(name, ref) {
    const res = await this.fetch(`/v2/${enc(name)}/manifests/${ref}`,
      { headers: { Accept: MANIFEST_ACCEPT } });
    const text = await res.text();
    return {
      digest: res.headers.get('Docker-Content-Digest') || '',
      mediaType: (res.headers.get('Content-Type') || '').split(';')[0],
      size: new TextEncoder().encode(text).length,
      manifest: JSON.parse(text),
    };
  }

  // The digest a tag points to, without its body.
  async resolve(name, ref) {
    const res = await this.fetch(`/v2/${enc(name)}/manifests/${ref}`,
      { method: 'HEAD', headers: { Accept: MANIFEST_ACCEPT } });
    return res.headers.get('Docker-Content-Digest') || '';
  }

  // A small JSON blob (an image config).
  async blobJSON(name, digest) {
    return (await this.fetch(`/v2/${enc(name)}/blobs/${digest}`)).json();
  }

  // The referrers of digest: the index's manifests (following pages).
  async referrers(name, digest) {
    let url = `/v2/${enc(name)}/referrers/${digest}`;
    const out = [];
    for (let i = 0; url && i < 20; i++) {
      const res = await this.fetch(url);
      const body = await res.json();
      out.push(...(body.manifests || []));
      const link = parseNextLink(res.headers.get('Link'));
      url = link ? new URL(link, location.href).pathname +
        new URL(link, location.href).search : null;
    }
    return out;
  }

  // DELETE a tag or a manifest (by digest).
  async deleteManifest(name, ref) {
    await this.fetch(`/v2/${enc(name)}/manifests/${ref}`,
      { method: 'DELETE' });
  }
}
