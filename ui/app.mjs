// app.mjs: registryd's web interface. One page, views chosen by
// location.hash (lib.mjs parseRoute): the repositories (#/), one
// repository's tags (#/repo/NAME), one manifest (#/manifest/NAME@REF)
// and the login form (#/login). Everything the registry says is put in
// the page as text (textContent, attributes), never parsed as HTML.

import { Api, HttpError } from './api.mjs';
import {
  countNote, descriptionOf, formatDate, formatDuration, formatSize, groupByNamespace,
  imageSize, isAttestation, isIndex, manifestHref, mediaTypeLabel,
  parseRoute, platformLabel, pullCommand, repoHref, shortDigest, sortTags,
} from './lib.mjs';

const PAGE = 100;        // repositories per page
const TAG_PAGE = 50;     // tags shown before "Show more"
const PARALLEL = 4;      // registry requests in flight per view

const api = new Api(sessionStorage);
const main = document.getElementById('main');
const live = document.getElementById('live');
const state = {
  status: null,          // last /ui/api/status answer
  token: 0,              // the view being built; older work stops
  first: true,           // the first view keeps focus at the top
  tagDigests: new Map(), // repository -> Map(tag -> digest), as seen
};

// ------------------------------------------------------------ DOM helpers

// h('a', {href: '#/', class: 'x', onclick: f}, 'text', child...)
function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function announce(msg) {
  // Cleared first, so the same message twice is read twice.
  live.textContent = '';
  setTimeout(() => { live.textContent = msg; }, 50);
}

function errorBox(err) {
  return h('p', { class: 'error', role: 'alert' },
    err instanceof HttpError ? err.message : `Error: ${err.message}`);
}

// Run tasks (functions returning promises) PARALLEL at a time.
async function runLimited(tasks, n = PARALLEL) {
  let i = 0;
  const worker = async () => {
    while (i < tasks.length) {
      const t = tasks[i++];
      try {
        await t();
      } catch {
        // each task shows its own failure
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, tasks.length) }, worker));
}

function timeEl(iso) {
  const text = formatDate(iso);
  return text ? h('time', { datetime: iso }, text) : '–';
}

function digestLink(name, digest, label) {
  return h('a', { href: manifestHref(name, digest), class: 'digest',
    title: digest }, label || shortDigest(digest));
}

// ------------------------------------------------------------ routing

async function render() {
  const token = ++state.token;
  const route = parseRoute(location.hash);
  const view = { token, live: () => token === state.token };
  main.replaceChildren();
  main.setAttribute('aria-busy', 'true');
  try {
    if (route.view === 'login') {
      renderLogin(view, route.params.get('next') || '#/');
    } else if (route.view === 'repo') {
      await renderRepo(view, route.name);
    } else if (route.view === 'manifest') {
      await renderManifest(view, route.name, route.ref);
    } else {
      await renderHome(view, route.params);
    }
  } catch (err) {
    if (!view.live()) return;
    if (err instanceof HttpError && err.status === 401) {
      // Stored credentials no longer work, or there are none: log in,
      // then come back here.
      if (api.auth) api.logout();
      updateHeader();
      main.replaceChildren();
      renderLogin(view, location.hash || '#/',
        'This registry needs you to log in.');
    } else {
      main.append(errorBox(err));
    }
  } finally {
    if (view.live()) {
      main.removeAttribute('aria-busy');
      state.first = false;
    }
  }
}

// Move focus to the new view's heading, so that a screen reader reads it
// and Tab goes on from there; not on the first view (the skip link comes
// first).
function focusHeading() {
  const h1 = main.querySelector('h1');
  if (!h1) return;
  h1.setAttribute('tabindex', '-1');
  if (!state.first) h1.focus();
}

function setTitle(...parts) {
  document.title = [...parts, 'registryd'].filter(Boolean).join(' – ');
}

// ------------------------------------------------------------ header

function updateHeader() {
  const who = document.getElementById('who');
  const login = document.getElementById('login-link');
  const logout = document.getElementById('logout-btn');
  const auth = state.status ? state.status.auth : true;
  const user = api.user;
  who.textContent = user ? `Logged in as ${user}` : '';
  who.hidden = !user;
  logout.hidden = !user;
  login.hidden = !!user || !auth;
  login.setAttribute('href',
    `#/login?next=${encodeURIComponent(location.hash || '#/')}`);
}

document.getElementById('logout-btn').addEventListener('click', () => {
  api.logout();
  state.status = null;
  updateHeader();
  announce('Logged out');
  location.hash = '#/';
  render();
});

async function loadStatus() {
  state.status = await api.status();
  updateHeader();
  return state.status;
}

function canDelete() {
  return !!(state.status && state.status.can_delete);
}

// ------------------------------------------------------------ login

function renderLogin(view, next, why) {
  setTitle('Log in');
  const user = h('input', { id: 'login-user', name: 'username',
    autocomplete: 'username', required: true, autocapitalize: 'none',
    spellcheck: 'false' });
  const pass = h('input', { id: 'login-password', name: 'password',
    type: 'password', autocomplete: 'current-password', required: true });
  const msg = h('p', { id: 'login-error', class: 'error', role: 'alert',
    hidden: true });
  const button = h('button', { type: 'submit', class: 'primary' }, 'Log in');
  const form = h('form', { class: 'login', novalidate: true },
    h('div', { class: 'field' },
      h('label', { for: 'login-user' }, 'User name'), user),
    h('div', { class: 'field' },
      h('label', { for: 'login-password' }, 'Password'), pass),
    msg, button);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (!user.value || !pass.value) {
      msg.textContent = 'Enter your user name and password.';
      msg.hidden = false;
      (user.value ? pass : user).focus();
      return;
    }
    button.disabled = true;
    msg.hidden = true;
    try {
      await api.login(user.value, pass.value);
      pass.value = '';
      await loadStatus();
      announce(`Logged in as ${api.user}`);
      if (location.hash === next) render();
      else location.hash = next;
    } catch (err) {
      msg.textContent = err.status === 401
        ? 'Wrong user name or password.'
        : err.status === 429
          ? `Too many failed logins: try again in ${err.retryAfter || 60} s.`
          : err.message;
      msg.hidden = false;
      pass.select();
      pass.focus();
    } finally {
      button.disabled = false;
    }
  });
  main.append(h('h1', {}, 'Log in'),
    why ? h('p', {}, why) : null,
    h('p', { class: 'hint' },
      'The same user name and password as for docker login. They are ',
      'kept in this tab only, until you close it or log out.'),
    form);
  // The first view leaves focus at the top (skip link, then the form);
  // coming here from elsewhere, the user name is what to type.
  document.getElementById('login-link').hidden = true;
  focusHeading();
  if (!state.first) user.focus();
}

// ------------------------------------------------------------ home

async function renderHome(view, params) {
  setTitle('Repositories');
  const term = params.get('q') || '';
  const statusBox = h('section', { class: 'status', 'aria-labelledby':
    'status-h' }, h('h2', { id: 'status-h' }, 'Registry'),
  h('p', { class: 'muted' }, 'Loading…'));
  const filter = h('input', { id: 'filter', type: 'search',
    value: term, autocomplete: 'off', spellcheck: 'false',
    'aria-describedby': 'filter-hint', placeholder: 'e.g. team/app' });
  const info = h('p', { id: 'list-info', class: 'muted',
    'aria-live': 'polite' });
  const groups = h('div', { id: 'repos' });
  const prev = h('button', { type: 'button', id: 'page-prev' },
    'Previous page');
  const next = h('button', { type: 'button', id: 'page-next' }, 'Next page');
  const pager = h('nav', { class: 'pager', 'aria-label': 'Pages' },
    prev, next);
  main.append(h('h1', {}, 'Repositories'), statusBox,
    h('div', { class: 'field filter' },
      h('label', { for: 'filter' }, 'Filter repositories'), filter,
      h('span', { id: 'filter-hint', class: 'hint' },
        'Part of a name; matches every repository, not just this page.')),
    info, groups, pager);
  focusHeading();

  const status = await loadStatus();
  if (!view.live()) return;
  fillStatus(statusBox, status);

  // The list: _catalog pages without a term (a stack of last= for going
  // back), /v1/search pages with one.
  const list = { term, page: Number(params.get('page')) || 1,
    lasts: [null] };
  const observer = new IntersectionObserver(countTags, { rootMargin: '200px' });

  async function show() {
    const token = view.token;
    groups.replaceChildren(h('p', { class: 'muted' }, 'Loading…'));
    let names = [];
    let descs = new Map();
    let hasNext = false;
    if (list.term) {
      const r = await api.search(list.term, PAGE, list.page);
      names = r.results.map((x) => x.name);
      descs = new Map(r.results.map((x) => [x.name, x.description]));
      hasNext = list.page < r.num_pages;
      info.textContent = r.num_results === 0
        ? `No repository matches “${list.term}”.`
        : `${r.num_results} ${r.num_results === 1 ? 'repository matches'
          : 'repositories match'} “${list.term}”` +
          (r.num_pages > 1 ? ` (page ${list.page} of ${r.num_pages})` : '') +
          '.';
    } else {
      const r = await api.catalog(PAGE, list.lasts[list.page - 1] || null);
      names = r.repositories;
      hasNext = !!r.next;
      if (r.next) list.lasts[list.page] = r.next;
      info.textContent = names.length === 0 && list.page === 1
        ? 'No repositories yet: push an image to create one.'
        : `Page ${list.page}: ${names.length} ${names.length === 1
          ? 'repository' : 'repositories'}.`;
    }
    if (token !== state.token) return;
    observer.disconnect();
    groups.replaceChildren(...groupByNamespace(names).map((g) => {
      const id = `ns-${g.namespace || 'top'}`.replace(/[^a-z0-9-]/g, '-');
      return h('section', { class: 'ns', 'aria-labelledby': id },
        h('h2', { id }, g.namespace ? `${g.namespace}/` : 'Top level'),
        h('ul', { class: 'repos' }, g.repos.map((name) => {
          const count = h('span', { class: 'count', 'data-name': name });
          const li = h('li', {},
            h('a', { href: repoHref(name) }, name), count,
            descs.get(name) ? h('span', { class: 'desc' },
              descs.get(name)) : null);
          observer.observe(count);
          return li;
        })));
    }));
    prev.disabled = list.page <= 1;
    next.disabled = !hasNext;
    pager.hidden = list.page <= 1 && !hasNext;
  }

  // The URL keeps the filter and page, so Back returns to them.
  function remember() {
    const q = new URLSearchParams();
    if (list.term) q.set('q', list.term);
    if (list.page > 1) q.set('page', String(list.page));
    const s = q.toString();
    history.replaceState(null, '', s ? `#/?${s}` : '#/');
  }

  let timer = null;
  filter.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      list.term = filter.value.trim();
      list.page = 1;
      list.lasts = [null];
      remember();
      try {
        await show();
      } catch (err) {
        groups.replaceChildren(errorBox(err));
      }
    }, 250);
  });
  const turn = async (by) => {
    list.page += by;
    remember();
    try {
      await show();
    } catch (err) {
      groups.replaceChildren(errorBox(err));
    }
    const want = by < 0 ? prev : next;
    (want.disabled ? (by < 0 ? next : prev) : want).focus();
  };
  prev.addEventListener('click', () => turn(-1));
  next.addEventListener('click', () => turn(1));

  if (!list.term && list.page > 1) {
    // A catalog page is found by walking from the first.
    const wanted = list.page;
    list.page = 1;
    for (let p = 1; p < wanted; p++) {
      const r = await api.catalog(PAGE, list.lasts[p - 1] || null);
      if (!r.next) break;
      list.lasts[p] = r.next;
      list.page = p + 1;
    }
  }
  await show();
}

const tagCounts = new Map();

// IntersectionObserver callback: count a repository's tags once its
// line is near the screen.
function countTags(entries, observer) {
  for (const e of entries) {
    if (!e.isIntersecting) continue;
    const el = e.target;
    observer.unobserve(el);
    const name = el.dataset.name;
    const show = (n) => {
      el.textContent = n === 1 ? '1 tag' : `${n} tags`;
    };
    if (tagCounts.has(name)) {
      show(tagCounts.get(name));
      continue;
    }
    el.textContent = '…';
    api.tags(name).then((t) => {
      tagCounts.set(name, t.length);
      show(t.length);
    }, () => {
      el.textContent = '';
    });
  }
}

function fillStatus(box, s) {
  const row = (label, value, id) => [h('dt', {}, label),
    h('dd', { id }, value)];
  box.replaceChildren(h('h2', { id: 'status-h' }, 'Registry'),
    h('dl', {},
      row('Version', `registryd ${s.version}`, 'st-version'),
      row('Up for', formatDuration(s.uptime_seconds), 'st-uptime'),
      row('Repositories', String(s.repositories), 'st-repos'),
      // Null until the registry's first count after start: a dash.
      row('Blobs', s.blobs === null ? '–' : String(s.blobs), 'st-blobs'),
      row('Storage used', s.blob_bytes === null ? '–'
        : formatSize(s.blob_bytes), 'st-bytes')),
    h('p', { class: 'muted', id: 'st-counted' },
      ...countNote(s).map((p) => (typeof p === 'string' ? p
        : timeEl(p.time)))));
}

// ------------------------------------------------------------ repository

async function renderRepo(view, name) {
  setTitle(name);
  const heading = h('h1', {}, name);
  const summary = h('p', { class: 'muted' }, 'Loading tags…');
  main.append(
    h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' },
      h('a', { href: '#/' }, 'Repositories'), ' / ', name),
    heading, summary);
  focusHeading();
  if (!state.status) await loadStatus();
  const tags = sortTags(await api.tags(name));
  if (!view.live()) return;
  summary.textContent = tags.length === 1 ? '1 tag, in natural order.'
    : `${tags.length} tags, in natural order.`;
  if (tags.length === 0) return;
  const digests = new Map();
  state.tagDigests.set(name, digests);

  const table = h('table', { class: 'tags', id: 'tags' },
    h('caption', { class: 'visually-hidden' }, `Tags of ${name}`),
    h('thead', {}, h('tr', {},
      ['Tag', 'Platform', 'Digest', 'Media type', 'Size', 'Created']
        .map((c) => h('th', { scope: 'col',
          class: c === 'Size' ? 'num' : null }, c)))));
  const wrap = h('div', { class: 'table-wrap' }, table);
  main.append(wrap);

  let shown = 0;
  const more = h('button', { type: 'button', id: 'more-tags' },
    'Show more tags');
  const showMore = () => {
    const batch = tags.slice(shown, shown + TAG_PAGE);
    shown += batch.length;
    const bodies = batch.map((tag) => tagBody(view, name, tag, digests));
    table.append(...bodies.map((b) => b.el));
    more.hidden = shown >= tags.length;
    return runLimited(bodies.map((b) => b.load));
  };
  more.addEventListener('click', () => {
    const first = shown;
    showMore();
    const b = table.tBodies[first];
    if (b) b.querySelector('a, button').focus();
  });
  main.append(more);
  await showMore();
}

// One tag: a <tbody> whose first cell (the tag, its pull command and
// delete) spans the tag's rows, one per platform for an index.
function tagBody(view, name, tag, digests) {
  const el = h('tbody', { 'data-tag': tag });
  const tagCell = h('th', { scope: 'rowgroup', class: 'tag' },
    h('span', { class: 'tagname' }, tag));
  const copy = h('button', { type: 'button', class: 'small copy',
    'aria-label': `Copy pull command for ${tag}`,
    title: pullCommand(location.host, name, tag) }, 'Copy pull');
  copy.addEventListener('click', async () => {
    const cmd = pullCommand(location.host, name, tag);
    const ok = await copyText(cmd);
    copy.focus();
    announce(ok ? `Copied: ${cmd}` : `Copy failed; the command is ${cmd}`);
    copy.textContent = ok ? 'Copied' : 'Copy failed';
    setTimeout(() => { copy.textContent = 'Copy pull'; }, 2000);
  });
  const actions = h('div', { class: 'actions' }, copy);
  if (canDelete()) {
    const del = h('button', { type: 'button', class: 'small danger',
      'aria-label': `Delete tag ${tag}` }, 'Delete');
    del.addEventListener('click', () => deleteTag(name, tag, digests, el));
    actions.append(del);
  }
  tagCell.append(actions);
  el.append(h('tr', {}, tagCell,
    h('td', { colspan: 5, class: 'muted' }, 'Loading…')));

  const load = async () => {
    if (!view.live()) return;
    let rows;
    try {
      const m = await api.manifest(name, tag);
      digests.set(tag, m.digest);
      rows = isIndex(m.manifest, m.mediaType)
        ? await indexRows(name, m)
        : [await imageRow(name, m.digest, m.mediaType, m.manifest, null)];
    } catch (err) {
      rows = [[h('td', { colspan: 5, class: 'error' }, err.message)]];
    }
    if (!view.live()) return;
    tagCell.setAttribute('rowspan', String(rows.length));
    el.replaceChildren(...rows.map((cells, i) =>
      h('tr', {}, i === 0 ? tagCell : null, cells)));
    if (rows.index) {
      tagCell.insertBefore(h('span', { class: 'index muted' },
        `${mediaTypeLabel(rows.index.mediaType)} `,
        digestLink(name, rows.index.digest)), tagCell.lastChild);
    }
  };
  return { el, load };
}

// The cells of one image: platform, digest, media type, size, created.
async function imageRow(name, digest, mediaType, manifest, platform) {
  let config = null;
  const c = manifest.config;
  if (c && c.digest && Number(c.size) < 1024 * 1024 &&
      /json/.test(c.mediaType || 'json')) {
    try {
      config = await api.blobJSON(name, c.digest);
    } catch {
      config = null;
    }
  }
  const size = imageSize(manifest);
  const plat = platformLabel(platform) || platformLabel(config) ||
    (manifest.artifactType || (c && c.mediaType) || '');
  return [
    h('td', { 'data-label': 'Platform', class: 'platform' }, plat || '–'),
    h('td', { 'data-label': 'Digest' }, digestLink(name, digest)),
    h('td', { 'data-label': 'Media type', title: mediaType },
      mediaTypeLabel(mediaType || manifest.mediaType)),
    h('td', { 'data-label': 'Size', class: 'num size',
      'data-bytes': String(size) }, formatSize(size)),
    h('td', { 'data-label': 'Created' }, timeEl(config && config.created)),
  ];
}

// One row per platform of an index (attestations left out).
async function indexRows(name, m) {
  const children = (m.manifest.manifests || [])
    .filter((d) => !isAttestation(d));
  const rows = new Array(children.length);
  await runLimited(children.map((d, i) => async () => {
    try {
      const cm = await api.manifest(name, d.digest);
      rows[i] = await imageRow(name, d.digest, cm.mediaType, cm.manifest,
        d.platform);
    } catch (err) {
      rows[i] = [h('td', { 'data-label': 'Platform', class: 'platform' },
        platformLabel(d.platform) || '–'),
      h('td', { colspan: 4, class: 'error' }, err.message)];
    }
  }));
  if (rows.length === 0) {
    rows.push([h('td', { colspan: 5, class: 'muted' },
      'An index without platform images.')]);
  }
  rows.index = { digest: m.digest, mediaType: m.mediaType };
  return rows;
}

async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    // Not a secure context (plain HTTP on another host): the old way.
  }
  const ta = h('textarea', { class: 'offscreen', readonly: true }, text);
  document.body.append(ta);
  ta.select();
  let ok = false;
  try {
    ok = document.execCommand('copy');
  } catch {
    ok = false;
  }
  ta.remove();
  return ok;
}

// ------------------------------------------------------------ deleting

const dialog = document.getElementById('confirm');

// Ask; resolves true when the user chose Delete. Escape and Cancel say no.
function confirmDelete(title, lines, okLabel) {
  document.getElementById('confirm-title').textContent = title;
  const list = document.getElementById('confirm-text');
  list.replaceChildren(...lines.map((l) => h('p', {}, l)));
  const ok = document.getElementById('confirm-ok');
  ok.textContent = okLabel;
  return new Promise((resolve) => {
    const done = () => {
      dialog.removeEventListener('close', done);
      resolve(dialog.returnValue === 'delete');
    };
    dialog.returnValue = '';
    dialog.addEventListener('close', done);
    dialog.showModal();
    document.getElementById('confirm-cancel').focus();
  });
}

document.getElementById('confirm-cancel').addEventListener('click',
  () => dialog.close('cancel'));
document.getElementById('confirm-ok').addEventListener('click',
  () => dialog.close('delete'));

async function deleteTag(name, tag, digests, body) {
  const digest = digests.get(tag) || '';
  const others = [...digests].filter(([t, d]) => d === digest && t !== tag)
    .map(([t]) => t);
  const lines = [`The tag ${tag} is removed from ${name}.`,
    digest ? `The manifest ${shortDigest(digest)} stays, pullable by ` +
      `digest${others.length ? ` and by tag ${others.join(', ')}` : ''}.`
      : ''].filter(Boolean);
  const trigger = document.activeElement;
  if (!await confirmDelete(`Delete tag ${tag}?`, lines, 'Delete tag')) {
    trigger.focus();
    return;
  }
  try {
    await api.deleteManifest(name, tag);
  } catch (err) {
    announce(`Delete failed: ${err.message}`);
    body.before(h('tbody', {}, h('tr', {}, h('td', { colspan: 6 },
      errorBox(err)))));
    trigger.focus();
    return;
  }
  digests.delete(tag);
  tagCounts.delete(name);
  // Focus goes to the next tag's first control, else the previous one's,
  // else the heading.
  const next = body.nextElementSibling || body.previousElementSibling;
  body.remove();
  const target = next && next.tagName === 'TBODY'
    ? next.querySelector('button, a') : null;
  (target || main.querySelector('h1')).focus();
  announce(`Deleted tag ${tag}`);
}

async function deleteManifest(name, digest) {
  let tags = [];
  const known = state.tagDigests.get(name);
  if (known) {
    tags = [...known].filter(([, d]) => d === digest).map(([t]) => t);
  } else {
    // Which tags point at it: ask for each (bounded).
    const all = (await api.tags(name)).slice(0, 500);
    const found = [];
    await runLimited(all.map((t) => async () => {
      if (await api.resolve(name, t) === digest) found.push(t);
    }));
    tags = sortTags(found);
  }
  const lines = [`The manifest ${digest} is removed from ${name}.`,
    tags.length ? `With it go the tags that point to it: ${tags.join(', ')}.`
      : 'No tag points to it.',
    'Layers and configs stay until garbage collection.'];
  const trigger = document.activeElement;
  if (!await confirmDelete(`Delete manifest ${shortDigest(digest)}?`, lines,
    'Delete manifest')) {
    trigger.focus();
    return;
  }
  try {
    await api.deleteManifest(name, digest);
  } catch (err) {
    announce(`Delete failed: ${err.message}`);
    trigger.after(errorBox(err));
    trigger.focus();
    return;
  }
  tagCounts.delete(name);
  announce(`Deleted manifest ${shortDigest(digest)}`);
  location.hash = repoHref(name);
}

// ------------------------------------------------------------ manifest

async function renderManifest(view, name, ref) {
  setTitle(`${name}@${shortDigest(ref) || ref}`);
  main.append(
    h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' },
      h('a', { href: '#/' }, 'Repositories'), ' / ',
      h('a', { href: repoHref(name) }, name), ' / ', shortDigest(ref) || ref),
    h('h1', { class: 'manifest-h' }, `${name}@${ref}`));
  focusHeading();
  if (!state.status) await loadStatus();
  const m = await api.manifest(name, ref);
  if (!view.live()) return;
  const mf = m.manifest;
  const facts = [
    ['Digest', h('code', { id: 'm-digest' }, m.digest)],
    ['Media type', h('span', { title: m.mediaType },
      `${mediaTypeLabel(m.mediaType)} (${m.mediaType})`)],
    ['Manifest size', formatSize(m.size)],
  ];
  if (!isIndex(mf, m.mediaType)) {
    const total = imageSize(mf);
    facts.push(['Compressed size', h('span', { id: 'm-size',
      'data-bytes': String(total) }, formatSize(total))]);
  }
  if (mf.artifactType) facts.push(['Artifact type', mf.artifactType]);
  if (mf.subject) {
    facts.push(['Subject', digestLink(name, mf.subject.digest,
      mf.subject.digest)]);
  }
  main.append(dl(facts, 'facts'));
  if (canDelete()) {
    const del = h('button', { type: 'button', class: 'danger',
      id: 'delete-manifest' }, 'Delete manifest');
    del.addEventListener('click', () => deleteManifest(name, m.digest));
    main.append(h('p', {}, del));
  }

  if (isIndex(mf, m.mediaType)) {
    main.append(section('Platforms', table(['Platform', 'Digest',
      'Media type', 'Size'], (mf.manifests || []).map((d) => [
      isAttestation(d) ? 'attestation' : platformLabel(d.platform) || '–',
      digestLink(name, d.digest), mediaTypeLabel(d.mediaType),
      h('span', { class: 'num' }, formatSize(d.size))]), 'platforms')));
  } else {
    main.append(section('Layers', table(['#', 'Media type', 'Size',
      'Digest'], (mf.layers || []).map((l, i) => [String(i + 1),
      mediaTypeLabel(l.mediaType), h('span', { class: 'num',
        'data-bytes': String(l.size) }, formatSize(l.size)),
      h('code', { title: l.digest }, shortDigest(l.digest))]), 'layers')));
    if (mf.config) {
      main.append(await configSection(name, mf.config));
    }
  }
  const ann = Object.entries(mf.annotations || {});
  if (ann.length) main.append(section('Annotations', dl(ann, 'annotations')));
  const refs = h('div', {}, h('p', { class: 'muted' }, 'Loading…'));
  main.append(section('Referrers', refs, 'Signatures, SBOMs and other ' +
    'artifacts that name this manifest as their subject.'));
  try {
    const list = await api.referrers(name, m.digest);
    if (!view.live()) return;
    refs.replaceChildren(list.length === 0
      ? h('p', { class: 'muted' }, 'None.')
      : table(['Artifact type', 'Digest', 'Size', 'Annotations'],
        list.map((d) => [d.artifactType || d.mediaType || '',
          digestLink(name, d.digest), formatSize(d.size),
          Object.entries(d.annotations || {}).map(([k, v]) => `${k}=${v}`)
            .join(', ')]), 'referrers'));
  } catch (err) {
    refs.replaceChildren(errorBox(err));
  }
}

async function configSection(name, desc) {
  const body = h('div', {});
  const sec = section('Configuration', body);
  if (!/json/.test(desc.mediaType || 'json') || Number(desc.size) > 4 << 20) {
    body.append(h('p', {}, `${desc.mediaType}, ${formatSize(desc.size)}`));
    return sec;
  }
  let cfg;
  try {
    cfg = await api.blobJSON(name, desc.digest);
  } catch (err) {
    body.append(errorBox(err));
    return sec;
  }
  const c = cfg.config || {};
  const facts = [
    ['Created', timeEl(cfg.created)],
    ['Platform', platformLabel(cfg) || '–'],
  ];
  const list = (a) => (Array.isArray(a) && a.length
    ? h('code', {}, JSON.stringify(a)) : '–');
  facts.push(['Entrypoint', list(c.Entrypoint)], ['Cmd', list(c.Cmd)]);
  if (c.WorkingDir) facts.push(['Working directory', c.WorkingDir]);
  if (c.User) facts.push(['User', c.User]);
  const description = descriptionOf(null, cfg);
  if (description) facts.push(['Description', description]);
  body.append(dl(facts, 'config'));
  if (Array.isArray(c.Env) && c.Env.length) {
    body.append(h('h3', {}, 'Environment'),
      h('ul', { class: 'env', id: 'env' },
        c.Env.map((e) => h('li', {}, h('code', {}, e)))));
  }
  const labels = Object.entries(c.Labels || {});
  if (labels.length) body.append(h('h3', {}, 'Labels'), dl(labels, 'labels'));
  if (Array.isArray(cfg.history) && cfg.history.length) {
    body.append(h('h3', {}, 'History'),
      h('ol', { class: 'history', id: 'history' }, cfg.history.map((x) =>
        h('li', {}, h('code', {}, x.created_by || x.comment || '–'),
          x.empty_layer ? h('span', { class: 'muted' }, ' (no layer)') : null,
          x.created ? h('span', { class: 'muted' }, ' · ',
            timeEl(x.created)) : null))));
  }
  return sec;
}

function section(title, content, intro) {
  const id = `sec-${title.toLowerCase().replace(/[^a-z]+/g, '-')}`;
  return h('section', { 'aria-labelledby': id },
    h('h2', { id }, title), intro ? h('p', { class: 'muted' }, intro) : null,
    content);
}

function dl(pairs, id) {
  return h('dl', { class: 'facts', id },
    pairs.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
}

function table(head, rows, id) {
  return h('div', { class: 'table-wrap' }, h('table', { id },
    h('thead', {}, h('tr', {}, head.map((c) => h('th', { scope: 'col' }, c)))),
    h('tbody', {}, rows.map((r) => h('tr', {}, r.map((c, i) =>
      h('td', { 'data-label': head[i] }, c)))))));
}

// ------------------------------------------------------------ start

// The skip link must not change the hash: that is the page's address.
document.getElementById('skip').addEventListener('click', (ev) => {
  ev.preventDefault();
  main.focus();
});
window.addEventListener('hashchange', render);
updateHeader();
render();
