// Rollback write-back's file edit: which pod template fields differ between the rolled-back target and
// the primary, and the Deployment's YAML file with exactly those values set back — comments, quoting
// and every other line unchanged, the right document of a multi-document file, and a clear answer
// when the Deployment is not in the file or a field is not there to edit.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { editDeploymentFile, templateDifferences } from '../../src/gitsync/template-edit.ts';

const ref = { name: 'podinfo', namespace: 'team-a', defaultNamespace: 'team-a' };

const deployment = `# the app, deployed by GitSync
apiVersion: apps/v1
kind: Deployment
metadata:
  name: podinfo   # keep this name
spec:
  replicas: 2
  selector: {matchLabels: {app: podinfo}}
  template:
    metadata: {labels: {app: podinfo}}
    spec:
      containers:
          # main container
        - name: app
          image: "example.com/podinfo:3.0.0" # bumped by CI
          ports: [{containerPort: 8080}]
        - name: sidecar
          image: example.com/sidecar:1.1
      initContainers:
        - {name: init, image: 'example.com/init:2'}
`;

const live = (app: string, sidecar: string, init: string) => ({
  containers: [
    {
      name: 'app',
      image: app,
      imagePullPolicy: 'IfNotPresent',
      ports: [{ containerPort: 8080, protocol: 'TCP' }],
    },
    { name: 'sidecar', image: sidecar, imagePullPolicy: 'IfNotPresent' },
  ],
  initContainers: [{ name: 'init', image: init }],
  restartPolicy: 'Always',
});

test('differences: changed images, config references renamed for the primary ignored', () => {
  const failed = { ...live('example.com/podinfo:3.0.0', 'example.com/sidecar:1.1', 'example.com/init:3') };
  const kept = { ...live('example.com/podinfo:2.0.0', 'example.com/sidecar:1.1', 'example.com/init:2') };
  const withVolume = (spec: object, cm: string) => ({
    ...spec,
    volumes: [{ name: 'cfg', configMap: { name: cm } }],
  });
  const d = templateDifferences(withVolume(failed, 'settings'), withVolume(kept, 'settings-primary'));
  assert.deepEqual(d, {
    ok: true,
    edits: [
      { path: ['containers', 0, 'image'], value: 'example.com/podinfo:2.0.0' },
      { path: ['initContainers', 0, 'image'], value: 'example.com/init:2' },
    ],
  });
});

test('differences: a container added by the failed revision is refused with its path', () => {
  const failed = live('a:2', 'b:1', 'c:1');
  const kept = { ...live('a:1', 'b:1', 'c:1'), containers: [live('a:1', 'b:1', 'c:1').containers[0]] };
  const d = templateDifferences(failed, kept);
  assert.equal(d.ok, false);
  assert.match(!d.ok ? d.reason : '', /structure of the pod template \(containers\)/);
});

test('file edit: only the image lines change; comments, quotes and layout are kept', () => {
  const out = editDeploymentFile(deployment, ref, [
    { path: ['containers', 0, 'image'], value: 'example.com/podinfo:2.0.0' },
    { path: ['containers', 1, 'image'], value: 'example.com/sidecar:1.1' }, // unchanged: no edit
    { path: ['initContainers', 0, 'image'], value: 'example.com/init:1' },
  ]);
  assert.ok(out.ok && out.found);
  const before = deployment.split('\n');
  const after = out.text.split('\n');
  assert.equal(after.length, before.length);
  const changedLines = before.flatMap((l, i) => (l === after[i] ? [] : [[l, after[i]]]));
  assert.deepEqual(changedLines, [
    [
      '          image: "example.com/podinfo:3.0.0" # bumped by CI',
      '          image: "example.com/podinfo:2.0.0" # bumped by CI',
    ],
    [
      "        - {name: init, image: 'example.com/init:2'}",
      "        - {name: init, image: 'example.com/init:1'}",
    ],
  ]);
  assert.deepEqual(out.changed, [
    'spec.template.spec.containers[0].image: example.com/podinfo:3.0.0 -> example.com/podinfo:2.0.0',
    'spec.template.spec.initContainers[0].image: example.com/init:2 -> example.com/init:1',
  ]);
});

test('file edit: the right document of a multi-document file, by kind, name and namespace', () => {
  const other = deployment.replace('name: podinfo   # keep this name', 'name: other');
  const elsewhere = deployment.replace(
    'name: podinfo   # keep this name',
    'name: podinfo\n  namespace: team-b',
  );
  const service = 'apiVersion: v1\nkind: Service\nmetadata: {name: podinfo}\nspec: {ports: [{port: 80}]}\n';
  const text = [service, other, elsewhere, deployment].join('---\n');
  const out = editDeploymentFile(text, ref, [{ path: ['containers', 0, 'image'], value: 'x:1' }]);
  assert.ok(out.ok && out.found);
  const docs = out.text.split('---\n');
  assert.deepEqual(docs.slice(0, 3), [service, other, elsewhere], 'the other documents are untouched');
  assert.match(docs[3]!, /image: "x:1" # bumped by CI/);
});

test('file edit: a file without the Deployment, and a field the file does not set', () => {
  const svc = 'apiVersion: v1\nkind: Service\nmetadata: {name: podinfo}\n';
  assert.deepEqual(editDeploymentFile(svc, ref, []), { ok: true, found: false });
  assert.deepEqual(editDeploymentFile('', ref, []), { ok: true, found: false });
  const notHere = editDeploymentFile(deployment, { ...ref, namespace: 'team-b' }, []);
  assert.deepEqual(notHere, { ok: true, found: false });
  const missing = editDeploymentFile(deployment, ref, [
    { path: ['containers', 0, 'imagePullPolicy'], value: 'Always' },
  ]);
  assert.equal(missing.ok, false);
  assert.match(!missing.ok ? missing.reason : '', /containers\[0\]\.imagePullPolicy is not set in the file/);
});

test('file edit: a plain scalar that needs quoting gets quoted', () => {
  const out = editDeploymentFile(deployment, ref, [{ path: ['containers', 1, 'image'], value: 'yes' }]);
  assert.ok(out.ok && out.found);
  assert.match(out.text, /image: "yes"\n/);
});
