import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { renderCrds } from '../../src/api/render.ts';
import { renderApiReference } from '../../src/api/reference.ts';

const root = join(import.meta.dirname, '..', '..');

test('crds/ matches the schema in src/api (run `npm run gen:crds` if this fails)', () => {
  for (const { file, text } of renderCrds()) {
    const onDisk = readFileSync(join(root, 'crds', file), 'utf8');
    assert.equal(onDisk, text, `crds/${file} is stale`);
  }
  assert.equal(
    readFileSync(join(root, 'docs', 'api.md'), 'utf8'),
    renderApiReference(),
    'docs/api.md is stale',
  );
});

test('the Canary CRD has a status subresource, printer columns and CEL rules', () => {
  const crd = parse(readFileSync(join(root, 'crds', 'canaries.weir.dev.yaml'), 'utf8'));
  const version = crd.spec.versions[0];
  assert.deepEqual(version.subresources, { status: {} });
  const cols = version.additionalPrinterColumns.map((c: { name: string }) => c.name);
  for (const c of ['Status', 'Weight', 'Failed', 'Step', 'Last Transition']) assert.ok(cols.includes(c), c);
  const analysis = version.schema.openAPIV3Schema.properties.spec.properties.analysis;
  assert.ok(analysis['x-kubernetes-validations'].length >= 5);
  assert.equal(JSON.stringify(crd).includes('additionalProperties":false'), false);
});
