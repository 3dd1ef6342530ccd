// lib.mjs: the web interface's logic that needs no browser: ordering,
// grouping, formatting, and reading manifests. Pure functions, tested
// with node:test (test/ui/lib.test.mjs).

export const MT = {
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
};

// Every manifest type the registry serves, for Accept.
export const MANIFEST_ACCEPT = [MT.ociIndex, MT.ociManifest, MT.dockerList,
  MT.dockerManifest].join(', ');

export const DESCRIPTION_KEY = 'org.opencontainers.image.description';

// Natural order: runs of digits compare as numbers, so 1.10 comes after
// 1.9 and v2 before v10; other runs compare as text (code point order,
// as registries sort). Equal by number but not by text ("01" and "1"):
// the shorter run first, then text order, so the order is total.
export function naturalCompare(a, b) {
  const ra = a.match(/\d+|\D+/g) || [];
  const rb = b.match(/\d+|\D+/g) || [];
  const n = Math.min(ra.length, rb.length);
  for (let i = 0; i < n; i++) {
    const x = ra[i];
    const y = rb[i];
    if (x === y) continue;
    const dx = /^\d/.test(x);
    const dy = /^\d/.test(y);
    if (dx && dy) {
      const c = compareDigits(x, y);
      if (c !== 0) return c;
    }
    return x < y ? -1 : 1;
  }
  if (ra.length !== rb.length) return ra.length < rb.length ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

// Two digit strings by value, whatever their length (no Number overflow).
function compareDigits(x, y) {
  const sx = x.replace(/^0+(?=\d)/, '');
  const sy = y.replace(/^0+(?=\d)/, '');
  if (sx.length !== sy.length) return sx.length < sy.length ? -1 : 1;
  if (sx !== sy) return sx < sy ? -1 : 1;
  return x.length - y.length; // "1" before "01"
}

export function sortTags(tags) {
  return [...tags].sort(naturalCompare);
}

// The namespace of a repository: everything before its last '/'; ''
// for a top-level name.
export function namespaceOf(name) {
  const i = name.lastIndexOf('/');
  return i < 0 ? '' : name.slice(0, i);
}

// Repositories grouped by namespace, in the order the names come (the
// catalog's), top-level names in a group of their own ('').
export function groupByNamespace(names) {
  const groups = new Map();
  for (const name of names) {
    const ns = namespaceOf(name);
    if (!groups.has(ns)) groups.set(ns, []);
    groups.get(ns).push(name);
  }
  return [...groups].map(([namespace, repos]) => ({ namespace, repos }));
}

// Case-insensitive substring match, as /v1/search matches.
export function filterNames(names, term) {
  const t = term.trim().toLowerCase();
  return t === '' ? [...names] : names.filter((n) => n.includes(t));
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

// Bytes for people: "0 B", "999 B", "1.5 KiB", "20.0 MiB", "123 MiB".
// Powers of 1024, IEC names, three significant digits from 1 KiB on.
export function formatSize(bytes) {
  if (typeof bytes !== 'number' || !Number.isFinite(bytes) || bytes < 0) {
    return '–';
  }
  if (bytes < 1024) return `${Math.round(bytes)} B`;
  let v = bytes;
  let u = 0;
  while (v >= 1024 && u < UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  // 1023.95 KiB would print as "1024 KiB": carry to the next unit.
  if (v >= 999.5 && u < UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  const digits = v < 9.995 ? 2 : v < 99.95 ? 1 : 0;
  return `${v.toFixed(digits)} ${UNITS[u]}`;
}

// An RFC 3339 time as "2024-05-01 12:34 UTC"; '' when it does not parse.
export function formatDate(iso) {
  if (typeof iso !== 'string' || iso === '') return '';
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return '';
  const d = new Date(t);
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getUTCFullYear()}-${p(d.getUTCMonth() + 1)}-` +
    `${p(d.getUTCDate())} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())} UTC`;
}

// What the status's blob figures are, as parts: strings and { time: iso }
// (shown as a date). Counted when, and whether counting failed since
// (the store cannot be listed, say): a count that fails every time is
// said, never shown as one still to come.
export function countNote(s) {
  const failed = s.count_failed
    ? [`Counting blobs failed (${s.count_error || 'error'}) `,
      { time: s.count_failed }, '; see the server log.']
    : [];
  if (s.counted) {
    return ['Blobs counted ', { time: s.counted }, '.',
      ...(failed.length ? [' ', ...failed] : [])];
  }
  return failed.length ? failed : ['Blobs not counted yet.'];
}

// Seconds as the two largest units: "45 s", "5 min 3 s", "2 h 5 min",
// "3 d 4 h".
export function formatDuration(seconds) {
  let s = Math.max(0, Math.floor(seconds));
  const parts = [[86400, 'd'], [3600, 'h'], [60, 'min'], [1, 's']];
  const out = [];
  for (const [n, unit] of parts) {
    if (s >= n || (n === 1 && out.length === 0)) {
      out.push(`${Math.floor(s / n)} ${unit}`);
      s %= n;
    } else if (out.length > 0) {
      break;
    }
    if (out.length === 2) break;
  }
  return out.join(' ');
}

// The target of rel="next" in a Link header, or null.
export function parseNextLink(header) {
  if (!header) return null;
  for (const part of header.split(',')) {
    const m = part.match(/^\s*<([^>]*)>\s*;(.*)$/);
    if (m && /(^|;)\s*rel="?next"?\s*(;|$)/.test(m[2])) return m[1];
  }
  return null;
}

// "linux/amd64", "linux/arm/v7", "windows/amd64 10.0.17763.1"; '' when
// nothing is known. Takes an OCI platform object or an image config.
export function platformLabel(p) {
  if (!p) return '';
  const os = p.os || '';
  const arch = p.architecture || '';
  if (!os && !arch) return '';
  let s = `${os}/${arch}`;
  if (p.variant) s += `/${p.variant}`;
  if (p['os.version']) s += ` ${p['os.version']}`;
  return s;
}

export function isIndex(manifest, mediaType) {
  const mt = (manifest && manifest.mediaType) || mediaType || '';
  if (mt === MT.ociIndex || mt === MT.dockerList) return true;
  return !!manifest && Array.isArray(manifest.manifests) && !manifest.config;
}

// An index entry that is no platform's image: a buildx attestation or
// provenance manifest ("unknown/unknown").
export function isAttestation(desc) {
  const a = (desc && desc.annotations) || {};
  if (a['vnd.docker.reference.type'] === 'attestation-manifest') return true;
  const p = (desc && desc.platform) || {};
  return p.os === 'unknown' || p.architecture === 'unknown';
}

// What a pull of an image downloads, compressed: its config and layers.
export function imageSize(manifest) {
  if (!manifest) return 0;
  let n = manifest.config && Number(manifest.config.size) || 0;
  for (const l of manifest.layers || []) n += Number(l.size) || 0;
  return n;
}

// The short form people recognise: "sha256:" and the first 12 hex digits.
export function shortDigest(digest) {
  if (typeof digest !== 'string') return '';
  const i = digest.indexOf(':');
  return i < 0 ? digest.slice(0, 12) : digest.slice(0, i + 13);
}

// A media type by what it is: "OCI index", "Docker image", ...
export function mediaTypeLabel(mt) {
  switch (mt) {
    case MT.ociIndex: return 'OCI index';
    case MT.ociManifest: return 'OCI image';
    case MT.dockerList: return 'Docker manifest list';
    case MT.dockerManifest: return 'Docker image';
    default: return mt || '';
  }
}

// The Authorization value for user and password (UTF-8, as browsers and
// Docker send it).
export function basicAuth(user, password) {
  const bytes = new TextEncoder().encode(`${user}:${password}`);
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return `Basic ${btoa(bin)}`;
}

// The pull command for a tag, by the address the browser used.
export function pullCommand(host, name, tag) {
  return `docker pull ${host}/${name}:${tag}`;
}

// The description of an image from its manifest annotations, else its
// config labels, as /v1/search gives it.
export function descriptionOf(manifest, config) {
  const a = manifest && manifest.annotations;
  if (a && typeof a[DESCRIPTION_KEY] === 'string' && a[DESCRIPTION_KEY]) {
    return a[DESCRIPTION_KEY];
  }
  const l = config && config.config && config.config.Labels;
  if (l && typeof l[DESCRIPTION_KEY] === 'string') return l[DESCRIPTION_KEY];
  return '';
}

// The UI's own addresses (location.hash): "#/", "#/repo/<name>",
// "#/manifest/<name>@<ref>", "#/login". Names and references never
// hold '@' or '?', so they split unambiguously; the query is for the
// list's filter and page.
export function parseRoute(hash) {
  let h = (hash || '').replace(/^#/, '');
  let query = '';
  const q = h.indexOf('?');
  if (q >= 0) {
    query = h.slice(q + 1);
    h = h.slice(0, q);
  }
  const params = new URLSearchParams(query);
  let m;
  if ((m = h.match(/^\/repo\/(.+)$/))) {
    return { view: 'repo', name: safeDecode(m[1]), params };
  }
  if ((m = h.match(/^\/manifest\/(.+)@([^@]+)$/))) {
    return { view: 'manifest', name: safeDecode(m[1]),
      ref: safeDecode(m[2]), params };
  }
  if (h === '/login') return { view: 'login', params };
  return { view: 'home', params };
}

function safeDecode(s) {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

export function repoHref(name) {
  return `#/repo/${name}`;
}

export function manifestHref(name, ref) {
  return `#/manifest/${name}@${ref}`;
}
