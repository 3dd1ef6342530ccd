// Unit tests of the web interface's logic (ui/lib.mjs), with node:test:
//   node --test test/ui/
import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  MT, basicAuth, countNote, descriptionOf, filterNames, formatDate, formatDuration,
  formatSize, groupByNamespace, imageSize, isAttestation, isIndex,
  mediaTypeLabel, namespaceOf, naturalCompare, parseNextLink, parseRoute,
  platformLabel, pullCommand, shortDigest, sortTags,
} from '../../ui/lib.mjs';

test('natural order: numbers by value', () => {
  assert.deepEqual(sortTags(['1.10', '1.9', '1.2', '1.0']),
    ['1.0', '1.2', '1.9', '1.10']);
  assert.deepEqual(sortTags(['v10', 'v2', 'v1']), ['v1', 'v2', 'v10']);
  assert.deepEqual(sortTags(['2.0.0', '10.0.0', '2.10.0', '2.9.1']),
    ['2.0.0', '2.9.1', '2.10.0', '10.0.0']);
});

test('natural order: text, prefixes, leading zeros, huge numbers', () => {
  assert.deepEqual(sortTags(['latest', 'beta', 'alpha']),
    ['alpha', 'beta', 'latest']);
  assert.deepEqual(sortTags(['1.2-rc1', '1.2']), ['1.2', '1.2-rc1']);
  assert.ok(naturalCompare('1', '01') < 0 && naturalCompare('01', '1') > 0);
  assert.equal(naturalCompare('a', 'a'), 0);
  assert.ok(naturalCompare('99999999999999999999', '100000000000000000000')
    < 0, 'no Number overflow');
  assert.ok(naturalCompare('1', 'a') < 0, 'digits before letters (ASCII)');
  assert.ok(naturalCompare('Z', 'a') < 0, 'code point order, as registries');
  assert.ok(naturalCompare('', 'a') < 0);
});

test('natural order is a total order (sort is stable and consistent)', () => {
  const tags = ['1.10', '1.9', 'v1', 'v01', 'v1a', 'latest', '1.9.0', '',
    'a10b2', 'a10b10', 'a9b99', '007', '7'];
  for (const a of tags) {
    for (const b of tags) {
      assert.ok(Math.sign(naturalCompare(a, b)) ===
        -Math.sign(naturalCompare(b, a)), `${a} vs ${b}: antisymmetric`);
      if (a !== b) assert.notEqual(naturalCompare(a, b), 0, `${a} vs ${b}`);
      for (const c of tags) {
        if (naturalCompare(a, b) < 0 && naturalCompare(b, c) < 0) {
          assert.ok(naturalCompare(a, c) < 0, `${a} < ${b} < ${c}`);
        }
      }
    }
  }
  const once = sortTags(tags);
  assert.deepEqual(sortTags([...tags].reverse()), once);
});

test('namespaces and grouping keep the catalog order', () => {
  assert.equal(namespaceOf('team/app'), 'team');
  assert.equal(namespaceOf('a/b/c'), 'a/b');
  assert.equal(namespaceOf('solo'), '');
  assert.deepEqual(groupByNamespace(['solo', 'team/api', 'team/app',
    'tools/lint', 'zeta']), [
    { namespace: '', repos: ['solo', 'zeta'] },
    { namespace: 'team', repos: ['team/api', 'team/app'] },
    { namespace: 'tools', repos: ['tools/lint'] },
  ]);
  assert.deepEqual(groupByNamespace([]), []);
});

test('filter: case-insensitive substring', () => {
  assert.deepEqual(filterNames(['team/app', 'tools/lint', 'app'], ' APP '),
    ['team/app', 'app']);
  assert.deepEqual(filterNames(['a', 'b'], ''), ['a', 'b']);
});

test('sizes: IEC units, three significant digits', () => {
  assert.equal(formatSize(0), '0 B');
  assert.equal(formatSize(1023), '1023 B');
  assert.equal(formatSize(1024), '1.00 KiB');
  assert.equal(formatSize(1536), '1.50 KiB');
  assert.equal(formatSize(307964), '301 KiB');
  assert.equal(formatSize(1576413), '1.50 MiB');
  assert.equal(formatSize(20 * 1024 * 1024), '20.0 MiB');
  assert.equal(formatSize(1024 * 1024 - 1), '1.00 MiB', 'carries, never 1024 KiB');
  assert.equal(formatSize(5 * 1024 ** 4), '5.00 TiB');
  assert.equal(formatSize(-1), '–');
  assert.equal(formatSize(undefined), '–');
});

test('dates and durations', () => {
  assert.equal(formatDate('2024-03-01T10:00:00Z'), '2024-03-01 10:00 UTC');
  assert.equal(formatDate('2024-06-02T10:31:00+02:00'),
    '2024-06-02 08:31 UTC');
  assert.equal(formatDate('not a date'), '');
  assert.equal(formatDate(undefined), '');
  assert.equal(formatDuration(0), '0 s');
  assert.equal(formatDuration(45), '45 s');
  assert.equal(formatDuration(303), '5 min 3 s');
  assert.equal(formatDuration(7500), '2 h 5 min');
  assert.equal(formatDuration(7200), '2 h');
  assert.equal(formatDuration(3 * 86400 + 4 * 3600 + 59), '3 d 4 h');
});

test('Link header: rel="next" only', () => {
  assert.equal(parseNextLink('</v2/_catalog?n=2&last=b>; rel="next"'),
    '/v2/_catalog?n=2&last=b');
  assert.equal(parseNextLink('<a>; rel="prev", <b>; rel=next'), 'b');
  assert.equal(parseNextLink('<a>; rel="nextish"'), null);
  assert.equal(parseNextLink(null), null);
});

test('platforms, indexes, attestations', () => {
  assert.equal(platformLabel({ os: 'linux', architecture: 'arm64',
    variant: 'v8' }), 'linux/arm64/v8');
  assert.equal(platformLabel({ os: 'windows', architecture: 'amd64',
    'os.version': '10.0.17763.1' }), 'windows/amd64 10.0.17763.1');
  assert.equal(platformLabel({}), '');
  assert.equal(platformLabel(null), '');
  assert.ok(isIndex({ mediaType: MT.ociIndex }));
  assert.ok(isIndex({ manifests: [] }, ''));
  assert.ok(isIndex({}, MT.dockerList));
  assert.ok(!isIndex({ config: {}, layers: [] }, MT.ociManifest));
  assert.ok(isAttestation({ platform: { os: 'unknown',
    architecture: 'unknown' } }));
  assert.ok(isAttestation({ annotations: {
    'vnd.docker.reference.type': 'attestation-manifest' } }));
  assert.ok(!isAttestation({ platform: { os: 'linux',
    architecture: 'amd64' } }));
});

test('image size: config and layers, compressed', () => {
  assert.equal(imageSize({ config: { size: 100 }, layers: [{ size: 1000 },
    { size: 24 }] }), 1124);
  assert.equal(imageSize({ config: { size: 5 } }), 5);
  assert.equal(imageSize(null), 0);
});

test('digests, media types, pull commands, descriptions', () => {
  assert.equal(shortDigest('sha256:0123456789abcdef0123'),
    'sha256:0123456789ab');
  assert.equal(mediaTypeLabel(MT.ociIndex), 'OCI index');
  assert.equal(mediaTypeLabel(MT.dockerManifest), 'Docker image');
  assert.equal(mediaTypeLabel('application/x-other'), 'application/x-other');
  assert.equal(pullCommand('127.0.0.1:5000', 'team/app', '1.10'),
    'docker pull 127.0.0.1:5000/team/app:1.10');
  const key = 'org.opencontainers.image.description';
  assert.equal(descriptionOf({ annotations: { [key]: 'from annotation' } },
    { config: { Labels: { [key]: 'from label' } } }), 'from annotation');
  assert.equal(descriptionOf({}, { config: { Labels: { [key]: 'label' } } }),
    'label');
  assert.equal(descriptionOf(null, null), '');
});

test('Basic credentials are UTF-8 in base64', () => {
  assert.equal(basicAuth('alice', 'secret'),
    `Basic ${Buffer.from('alice:secret').toString('base64')}`);
  assert.equal(basicAuth('jürgen', 'pässwörd'),
    `Basic ${Buffer.from('jürgen:pässwörd', 'utf8').toString('base64')}`);
});

test('routes: names with slashes, digests, queries', () => {
  assert.deepEqual(pick(parseRoute('')), { view: 'home' });
  assert.deepEqual(pick(parseRoute('#/')), { view: 'home' });
  assert.equal(parseRoute('#/?q=team&page=2').params.get('q'), 'team');
  assert.deepEqual(pick(parseRoute('#/repo/team/app')),
    { view: 'repo', name: 'team/app' });
  assert.deepEqual(pick(parseRoute('#/manifest/a/b/m/c@sha256:00ff')),
    { view: 'manifest', name: 'a/b/m/c', ref: 'sha256:00ff' });
  assert.deepEqual(pick(parseRoute('#/manifest/team/app@1.10')),
    { view: 'manifest', name: 'team/app', ref: '1.10' });
  assert.deepEqual(pick(parseRoute('#/login?next=%23%2Frepo%2Fx')),
    { view: 'login' });
  assert.equal(parseRoute('#/login?next=%23%2Frepo%2Fx').params.get('next'),
    '#/repo/x');
  assert.deepEqual(pick(parseRoute('#main')), { view: 'home' });
});

function pick(r) {
  const o = { view: r.view };
  if (r.name !== undefined) o.name = r.name;
  if (r.ref !== undefined) o.ref = r.ref;
  return o;
}

test('the status note: counted, not yet, or counting failed (rev3 R3-8)', () => {
  const t = '2026-11-30T15:00:00Z';
  const f = '2026-11-30T16:00:00Z';
  assert.deepEqual(countNote({ counted: null, count_failed: null }),
    ['Blobs not counted yet.']);
  assert.deepEqual(countNote({ counted: t, count_failed: null }),
    ['Blobs counted ', { time: t }, '.']);
  assert.deepEqual(countNote({ counted: null, count_failed: f,
    count_error: 'Permission denied' }),
  ['Counting blobs failed (Permission denied) ', { time: f },
    '; see the server log.'], 'never counted: the failure, not "yet"');
  assert.deepEqual(countNote({ counted: t, count_failed: f,
    count_error: 'Permission denied' }),
  ['Blobs counted ', { time: t }, '.', ' ',
    'Counting blobs failed (Permission denied) ', { time: f },
    '; see the server log.'], 'counted once: the figures are older');
});
