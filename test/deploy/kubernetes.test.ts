// SPDX-License-Identifier: Apache-2.0
// The Kubernetes manifests: validated against the Kubernetes API schemas (kubernetes-models:
// its generated validators for types and required fields, and its TypeScript declarations,
// through the compiler's excess-property check, for unknown fields), and checked against the
// code and each other: host PID, the measured capabilities, mounts where the agent reads,
// downward API into OTEL_RESOURCE_ATTRIBUTES as the agent builds its resource, probes on the
// health endpoint's port and paths, a ConfigMap that loads, and the gateway it pushes to.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import t from 'tap';
import * as ts from 'typescript';
import * as YAML from 'yaml';
import { parseArgs } from '../../src/cli/main';
import { loadConfig, schemaLeaves } from '../../src/config';
import { buildResource } from '../../src/resource';
import { bare, FULL } from './capabilities';

const ROOT = path.join(__dirname, '..', '..');
const DIR = path.join(ROOT, 'deploy/kubernetes');
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;

interface Doc {
  file: string;
  index: number;
  obj: Any;
}

const files = readdirSync(DIR).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml').sort();
const docs: Doc[] = files.flatMap((file) =>
  YAML.parseAllDocuments(readFileSync(path.join(DIR, file), 'utf8')).map((d, index) => {
    if (d.errors.length) throw new Error(`${file}: ${d.errors[0]!.message}`);
    return { file, index, obj: d.toJS() as Any };
  }),
);
const find = (kind: string, name: string): Any => docs.find((d) => d.obj.kind === kind && d.obj.metadata.name === name)?.obj;

/** kubernetes-models module of an object: "apps/v1" + "DaemonSet" -> kubernetes-models/apps/v1/DaemonSet. */
function modelPath(obj: Any): string {
  const [group, version] = obj.apiVersion.includes('/') ? obj.apiVersion.split('/') : ['', obj.apiVersion];
  return `kubernetes-models/${group ? `${group}/` : ''}${version}/${obj.kind}`;
}

function schemaErrors(obj: Any): string | null {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const Model = (require(modelPath(obj)) as Record<string, new (o: Any) => { validate(): void }>)[obj.kind]!;
  try {
    new Model(obj).validate();
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}

/** TypeScript diagnostics of `const x: I<Kind> = <object>` for each object: unknown fields are errors. */
function typeErrors(objs: Any[], dir: string): string[] {
  const file = path.join(dir, 'manifests.ts');
  const lines = objs.map((o, i) => `import type { I${o.kind} as T${i} } from '${modelPath(o)}';\nexport const m${i}: T${i} = ${JSON.stringify(o, null, 2)};`);
  writeFileSync(file, lines.join('\n'));
  const program = ts.createProgram([file], {
    strict: true,
    noEmit: true,
    module: ts.ModuleKind.Node16,
    moduleResolution: ts.ModuleResolutionKind.Node16,
    target: ts.ScriptTarget.ES2022,
    skipLibCheck: true,
    typeRoots: [],
    types: [],
    baseUrl: ROOT,
    paths: { '*': [path.join(ROOT, 'node_modules/*')] },
  });
  return ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
}

t.test('kustomization lists every manifest', async (t) => {
  const k = YAML.parse(readFileSync(path.join(DIR, 'kustomization.yaml'), 'utf8'));
  t.same([...k.resources].sort(), files);
});

t.test('every object passes the Kubernetes API schema', async (t) => {
  t.ok(docs.length >= 7, `${docs.length} objects`);
  for (const d of docs) t.equal(schemaErrors(d.obj), null, `${d.file}#${d.index} ${d.obj.kind}/${d.obj.metadata.name}`);
  // The check can fail: a wrong type is caught.
  const broken = structuredClone(find('DaemonSet', 'ebpf-map-pressure'));
  broken.spec.template.spec.containers[0].securityContext.capabilities.add = 'SYS_ADMIN';
  t.match(schemaErrors(broken), /capabilities\/add must be array/, 'control: a string where a list belongs is refused');
});

t.test('no object has a field the API does not know (TypeScript excess-property check)', async (t) => {
  const dir = t.testdir();
  const errors = typeErrors(docs.map((d) => d.obj), dir);
  t.same(errors, [], 'no unknown or mistyped field');
  const typo = structuredClone(find('DaemonSet', 'ebpf-map-pressure'));
  typo.spec.template.spec.hostPid = true;
  const caught = typeErrors([typo], dir);
  t.ok(caught.some((e) => e.includes('hostPid')), `control: a misspelt field is caught (${caught[0]?.split('\n')[0]})`);
});

const ds = find('DaemonSet', 'ebpf-map-pressure');
const pod = ds.spec.template.spec;
const agent = pod.containers[0];

t.test('namespace, service account, labels', async (t) => {
  const ns = docs.find((d) => d.obj.kind === 'Namespace')!.obj;
  t.equal(ns.metadata.labels['pod-security.kubernetes.io/enforce'], 'privileged', 'host PID and CAP_SYS_ADMIN need the privileged Pod Security level');
  for (const d of docs) if (d.obj.kind !== 'Namespace') t.equal(d.obj.metadata.namespace, ns.metadata.name, `${d.obj.kind}/${d.obj.metadata.name} in ${ns.metadata.name}`);
  const sa = find('ServiceAccount', pod.serviceAccountName);
  t.ok(sa, 'the service account exists');
  t.equal(sa.automountServiceAccountToken, false, 'no API token: the agent talks to no API');
  t.same(ds.spec.selector.matchLabels, Object.fromEntries(Object.keys(ds.spec.selector.matchLabels).map((k) => [k, ds.spec.template.metadata.labels[k]])), 'the selector matches the pods');
});

t.test("DaemonSet: host PID (owner resolution's iter/task_file sees only its own pid namespace), every node, the measured capabilities, the host's files read-only", async (t) => {
  t.equal(pod.hostPID, true);
  t.ok(pod.tolerations.some((x: Any) => x.operator === 'Exists' && !x.key && !x.effect), 'tolerates every taint');
  const sc = agent.securityContext;
  t.not(sc.privileged, true, 'not privileged');
  t.same(sc.capabilities.drop, ['ALL']);
  t.same([...sc.capabilities.add].sort(), FULL.map(bare).sort(), 'adds exactly the measured set');
  t.not(sc.allowPrivilegeEscalation, false, 'allowPrivilegeEscalation: false with CAP_SYS_ADMIN is refused by the API server');
  t.equal(sc.readOnlyRootFilesystem, true);
  t.equal(sc.runAsUser, 0, 'root in the container: no ambient capabilities for other users');
  const { paths } = loadConfig({ env: {} }).config;
  const mountOf = (p: string) => agent.volumeMounts.find((m: Any) => m.mountPath === p);
  const volume = (name: string) => pod.volumes.find((v: Any) => v.name === name);
  for (const [p, type] of [
    [path.dirname(paths.btf), 'Directory'],
    [paths.machineId, 'File'],
    [paths.bpffs, 'Directory'],
    [paths.podLogs, 'Directory'],
    [paths.containerLogs, 'Directory'],
  ] as const) {
    const m = mountOf(p);
    t.ok(m?.readOnly, `${p} mounted read-only where the agent reads it`);
    t.same(volume(m?.name)?.hostPath, { path: p, type }, `from the node's ${p}`);
  }
});

t.test('DaemonSet: the export queue on a writable hostPath of the node', async (t) => {
  const dir = agent.env.find((e: Any) => e.name === 'EMP_EXPORT_QUEUE_DIR')?.value as string | undefined;
  t.ok(dir, 'EMP_EXPORT_QUEUE_DIR is set');
  t.equal(loadConfig({ env: { EMP_EXPORT_QUEUE_DIR: dir! } }).config.export.queue.dir, dir, 'the agent reads it');
  const m = agent.volumeMounts.find((x: Any) => dir!.startsWith(`${x.mountPath}/`));
  t.ok(m, 'the queue directory is under a mount');
  t.notOk(m?.readOnly, 'a writable one (the root file system is read-only)');
  t.same(pod.volumes.find((v: Any) => v.name === m?.name)?.hostPath, { path: m?.mountPath, type: 'DirectoryOrCreate' }, "the node's own directory: the queue outlives the pod");
});

t.test('DaemonSet: downward API feeds OTEL_RESOURCE_ATTRIBUTES as the agent reads it', async (t) => {
  const env: Any[] = agent.env;
  const byName = Object.fromEntries(env.map((e) => [e.name, e]));
  t.equal(byName.NODE_NAME.valueFrom.fieldRef.fieldPath, 'spec.nodeName');
  const schemaEnv = new Set(schemaLeaves().flatMap((l) => (l.env ? [l.env] : [])));
  const helpers = new Set(env.filter((e) => e.valueFrom).map((e) => e.name));
  for (const e of env) t.ok(schemaEnv.has(e.name) || e.name === 'OTEL_RESOURCE_ATTRIBUTES' || helpers.has(e.name), `${e.name}: read by the agent, or a downward-API value used below`);
  // $(VAR) refers only to variables defined before it (the kubelet's rule).
  const ra = byName.OTEL_RESOURCE_ATTRIBUTES.value as string;
  for (const ref of ra.matchAll(/\$\((\w+)\)/g)) t.ok(env.findIndex((e) => e.name === ref[1]) < env.indexOf(byName.OTEL_RESOURCE_ATTRIBUTES), `$(${ref[1]}) is defined before use`);
  const values: Record<string, string> = { NODE_NAME: 'node-7' };
  const expanded = ra.replace(/\$\((\w+)\)/g, (_, v: string) => values[v]!);
  const saved = process.env.OTEL_RESOURCE_ATTRIBUTES;
  process.env.OTEL_RESOURCE_ATTRIBUTES = expanded;
  try {
    const attrs = buildResource({ machineIdFile: '/etc/machine-id' }).attributes;
    t.equal(attrs['k8s.node.name'], 'node-7', 'k8s.node.name from spec.nodeName');
    // The owner's pod is on each map's series under these keys (owners.copy_attributes,
    // ebpf.map.owner); a resource attribute of the same key would overwrite it in a collector.
    for (const k of ['k8s.pod.name', 'k8s.namespace.name', 'k8s.pod.uid', 'k8s.container.name', 'process.pid', 'container.id']) t.equal(attrs[k], undefined, `no ${k} in the resource`);
    t.equal(attrs['host.name'], 'node-7', "host.name is the node's, not the pod's hostname");
  } finally {
    if (saved === undefined) delete process.env.OTEL_RESOURCE_ATTRIBUTES;
    else process.env.OTEL_RESOURCE_ATTRIBUTES = saved;
  }
});

t.test('DaemonSet: configuration from the ConfigMap; probes on the health endpoint', async (t) => {
  const args = parseArgs(agent.args);
  t.equal(args.command, 'run');
  const cfgMount = agent.volumeMounts.find((m: Any) => args.configFile!.startsWith(`${m.mountPath}/`));
  const cfgVolume = pod.volumes.find((v: Any) => v.name === cfgMount.name);
  const cm = find('ConfigMap', cfgVolume.configMap.name);
  const key = path.posix.basename(args.configFile!);
  const text = cm.data[key];
  t.equal(text, readFileSync(path.join(ROOT, 'config/kubernetes.yaml'), 'utf8'), 'the ConfigMap holds config/kubernetes.yaml, unchanged');
  const { config } = loadConfig({ file: path.join(ROOT, 'config/kubernetes.yaml'), env: { NODE_NAME: 'n', POD_NAME: 'p' }, args: args.configArgs });
  t.equal(config.health.enabled, true);
  t.equal(config.health.host, '0.0.0.0', 'the kubelet probes the pod address');
  const port = agent.ports.find((p: Any) => p.name === 'health');
  t.equal(port.containerPort, config.health.port, 'the container port is health.port');
  t.same(agent.readinessProbe.httpGet, { path: '/readyz', port: 'health' });
  t.same(agent.livenessProbe.httpGet, { path: '/healthz', port: 'health' });
  // Readiness fails after 2.5 intervals without a good collection; the probe period is shorter.
  t.ok(agent.readinessProbe.periodSeconds * 1000 < config.intervalMs * 2.5, 'probed more often than readiness can change');

  const r = agent.resources;
  for (const k of ['cpu', 'memory']) t.ok(r.requests[k] && r.limits[k], `${k}: request and limit set`);
  const mib = (q: string) => Number(/^(\d+)Mi$/.exec(q)![1]);
  t.ok(mib(r.requests.memory) <= mib(r.limits.memory), 'memory request within the limit');
  const version = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  t.equal(agent.image.split(':').pop(), version, "the image tag is the package's version");
});

t.test('the agent pushes to the example gateway, which runs otel-collector.yaml', async (t) => {
  const { config } = loadConfig({ file: path.join(ROOT, 'config/kubernetes.yaml'), env: {} });
  const url = new URL(config.otlp.endpoint);
  const [svcName, namespace, svcLabel] = url.hostname.split('.');
  t.equal(svcLabel, 'svc');
  const svc = find('Service', svcName!);
  t.ok(svc, `Service ${svcName} exists`);
  t.equal(svc.metadata.namespace, namespace);
  const svcPort = svc.spec.ports.find((p: Any) => p.port === Number(url.port));
  t.ok(svcPort, `the Service has port ${url.port}`);
  const deploy = find('Deployment', svcName!);
  const c = deploy.spec.template.spec.containers[0];
  t.same(svc.spec.selector, Object.fromEntries(Object.keys(svc.spec.selector).map((k) => [k, deploy.spec.template.metadata.labels[k]])), 'the Service selects the gateway pods');
  for (const p of svc.spec.ports) t.ok(c.ports.some((cp: Any) => cp.name === p.targetPort), `Service port ${p.name} targets a container port`);
  const cm = find('ConfigMap', deploy.spec.template.spec.volumes.find((v: Any) => v.configMap).configMap.name);
  t.equal(cm.data['config.yaml'], readFileSync(path.join(ROOT, 'otel-collector.yaml'), 'utf8'), 'the gateway runs otel-collector.yaml, unchanged');
  const collector = YAML.parse(cm.data['config.yaml']);
  const grpcPort = Number(collector.receivers.otlp.protocols.grpc.endpoint.split(':').pop());
  t.equal(c.ports.find((p: Any) => p.name === svcPort.targetPort).containerPort, grpcPort, "the Service port reaches the collector's OTLP gRPC receiver");
  t.equal(config.otlp.protocol, 'grpc');
  const mount = c.volumeMounts.find((m: Any) => m.name === 'config');
  t.ok(c.args.includes(`--config=${mount.mountPath}/config.yaml`), 'the collector is started with that file');
  const compose = YAML.parse(readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8'));
  t.equal(c.image, compose.services['otel-collector'].image, 'the same pinned collector as the compose stack');
  const health = Number(collector.extensions.health_check.endpoint.split(':').pop());
  t.equal(c.ports.find((p: Any) => p.name === c.readinessProbe.httpGet.port).containerPort, health, "probes hit the collector's health_check");
});
