/**
 * deploy/: the Kubernetes manifests are valid against the Kubernetes schemas
 * (kubernetes-models), kustomize lists exactly the files that exist, and the Deployment
 * matches what the daemon really serves: the daemon is started with the ConfigMap's own
 * config.json and the probe paths named in the Deployment are requested from it.
 *
 * There is no cluster or Docker engine here, so this is the check that stands in for
 * `kubectl apply --dry-run=server`.
 *
 * Overlays (deploy/k8s/overlays/*) and components (deploy/k8s/components/*) are built here
 * the way kustomize builds them (resources, components, strategic merge patches, images;
 * anything else fails loudly), and the built objects are validated and checked. When
 * kubectl is installed, each build is also compared with `kubectl kustomize`, and the
 * checks run on kubectl's output too.
 *
 * The base runs as applied: it references no Secret and no placeholder. Each opt-in (the
 * SQL list, NATS credentials, JetStream capture, the overlay ha) is rendered alone and in
 * every combination with the others, and the configuration each rendering gives the daemon
 * (ConfigMap plus the container's environment) is loaded with the daemon's own loader.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, posix, relative, resolve } from 'node:path';
import { ConfigMap, Secret, Service } from 'kubernetes-models/v1';
import { Deployment } from 'kubernetes-models/apps/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { parseAllDocuments } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import type { BridgeConfig } from '../../src/config/schema.js';
import { resolveSecrets } from '../../src/config/secrets.js';
import { freePort, startNats, type NatsServer } from '../support/processes.js';

const REPO = resolve(import.meta.dirname, '../..');
const K8S = join(REPO, 'deploy/k8s');
const BASE = join(K8S, 'base');
const MAIN = join(REPO, 'dist/main.js');
/** The opt-in components, deploy/k8s/components/<name>. */
const COMPONENTS = ['sql-list', 'nats-credentials', 'jetstream-capture', 'nats-cluster'] as const;
type ComponentName = (typeof COMPONENTS)[number];
const HAS_KUBECTL = spawnSync('kubectl', ['version', '--client'], { stdio: 'ignore', timeout: 30_000 }).status === 0;

type Obj = Record<string, any>;

interface Manifest {
  file: string; // relative to deploy/k8s
  index: number; // document in the file
  object: Obj;
}

function yamlFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return yamlFiles(path);
    return /\.ya?ml$/.test(entry.name) ? [path] : [];
  });
}

/**
 * YAML 1.1, as Kubernetes reads it (sigs.k8s.io/yaml): `0440` is octal, `yes` a boolean.
 * Any parse error or warning fails.
 */
function parseFile(path: string): Obj[] {
  const docs = parseAllDocuments(readFileSync(path, 'utf8'), { version: '1.1', uniqueKeys: true });
  const problems = docs.flatMap((d) => [...d.errors, ...d.warnings]).map((e) => e.message);
  if (problems.length) throw new Error(`${relative(REPO, path)}: ${problems.join('; ')}`);
  return docs.map((d) => d.toJS() as Obj).filter((o) => o !== null && o !== undefined);
}

const MODELS: Record<string, new (data: Obj) => { validate(): void }> = {
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'apps/v1/Deployment': Deployment,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
};

function validate(object: Obj): void {
  const Model = MODELS[`${object.apiVersion}/${object.kind}`];
  if (!Model)
    throw new Error(`no kubernetes-models class mapped for ${object.apiVersion} ${object.kind}: add it to MODELS`);
  new Model(object).validate();
}

const allFiles = yamlFiles(K8S);
const manifests: Manifest[] = allFiles.flatMap((path) =>
  parseFile(path).map((object, index) => ({ file: relative(K8S, path), index, object })),
);
/** Kustomizations and components (kind: Component): both list resources and patches. */
const KUSTOMIZE_KINDS = new Set(['Kustomization', 'Component']);
const kustomizations = manifests.filter((m) => KUSTOMIZE_KINDS.has(m.object.kind));

/** The files a kustomization lists as patches (relative to dir). */
function patchPaths(kustomization: Obj): string[] {
  return [
    ...(kustomization.patches ?? []).map((p: Obj) => p.path).filter(Boolean),
    ...(kustomization.patchesStrategicMerge ?? []),
  ];
}

/**
 * Patch files hold partial objects, merged into the base's: they are checked through the
 * objects they patch (the overlay tests below), not validated on their own.
 */
const patchFiles = new Set(
  kustomizations.flatMap((k) => patchPaths(k.object).map((p) => relative(K8S, resolve(K8S, dirname(k.file), p)))),
);
const resources = manifests.filter((m) => !KUSTOMIZE_KINDS.has(m.object.kind) && !patchFiles.has(m.file));

function one(kind: string, dir = 'base'): Obj {
  const found = resources.filter((m) => m.object.kind === kind && dirname(m.file) === dir);
  expect(
    found.map((m) => m.file),
    `exactly one ${kind} in deploy/k8s/${dir}`,
  ).toHaveLength(1);
  return found[0]!.object;
}

interface Reference {
  name: string;
  where: string;
  optional: boolean;
}

/**
 * Every Secret (or ConfigMap) a pod spec refers to, with whether the kubelet may start the
 * pod without it (optional: true). imagePullSecrets cannot be optional.
 */
function references(pod: Obj, kind: 'Secret' | 'ConfigMap'): Reference[] {
  const keyRef = kind === 'Secret' ? 'secretKeyRef' : 'configMapKeyRef';
  const fromRef = kind === 'Secret' ? 'secretRef' : 'configMapRef';
  const volumeOf = (v: Obj): Obj | undefined =>
    kind === 'Secret' ? v.secret && { name: v.secret.secretName, optional: v.secret.optional } : v.configMap;
  const refs: Reference[] = [];
  for (const c of [
    ...(pod.containers ?? []),
    ...(pod.initContainers ?? []),
    ...(pod.ephemeralContainers ?? []),
  ] as Obj[]) {
    for (const e of (c.env ?? []) as Obj[]) {
      const ref = e.valueFrom?.[keyRef];
      if (ref)
        refs.push({ name: ref.name, where: `container ${c.name} env ${e.name}`, optional: ref.optional === true });
    }
    for (const e of (c.envFrom ?? []) as Obj[]) {
      if (e[fromRef])
        refs.push({
          name: e[fromRef].name,
          where: `container ${c.name} envFrom`,
          optional: e[fromRef].optional === true,
        });
    }
  }
  for (const v of (pod.volumes ?? []) as Obj[]) {
    const ref = volumeOf(v);
    if (ref) refs.push({ name: ref.name, where: `volume ${v.name}`, optional: ref.optional === true });
    for (const source of (v.projected?.sources ?? []) as Obj[]) {
      const projected = source[kind === 'Secret' ? 'secret' : 'configMap'];
      if (projected)
        refs.push({
          name: projected.name,
          where: `volume ${v.name} (projected)`,
          optional: projected.optional === true,
        });
    }
  }
  if (kind === 'Secret')
    for (const s of (pod.imagePullSecrets ?? []) as Obj[])
      refs.push({ name: s.name, where: 'imagePullSecrets', optional: false });
  return refs;
}

/** Every label of the selector is on the pod template. */
function selects(selector: Obj | undefined, labels: Obj): boolean {
  const entries = Object.entries(selector ?? {});
  return entries.length > 0 && entries.every(([k, v]) => labels[k] === v);
}

describe('deploy/k8s manifests', () => {
  it('exist and parse', () => {
    expect(existsSync(join(BASE, 'kustomization.yaml'))).toBe(true);
    // ConfigMap, Deployment, Service, PodDisruptionBudget: no Secret (components reference the users' own).
    expect(
      resources
        .filter((m) => dirname(m.file) === 'base')
        .map((m) => m.object.kind)
        .sort(),
    ).toEqual(['ConfigMap', 'Deployment', 'PodDisruptionBudget', 'Service']);
  });

  it.each(resources.map((m) => [`${m.file}#${m.index} ${m.object.kind ?? '?'}`, m] as const))(
    '%s is valid against the Kubernetes schema',
    (_name, m) => {
      expect(() => validate(m.object)).not.toThrow();
      // kubernetes-models checks neither name formats nor namespaces: the API server does.
      expect(m.object.metadata?.name).toMatch(/^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/);
      expect(m.object.metadata?.namespace, 'the base sets no namespace: an overlay does').toBeUndefined();
    },
  );

  it('the validator rejects a broken manifest (so the checks above can fail)', () => {
    const deployment = structuredClone(one('Deployment'));
    deployment.spec.template.spec.containers[0].ports[0].containerPort = 'http';
    expect(() => validate(deployment)).toThrow(/containerPort/);
    const pdb = structuredClone(one('PodDisruptionBudget'));
    pdb.spec.selector = 'app=janus-nats-bridge';
    expect(() => validate(pdb)).toThrow(/selector/);
    expect(() => validate({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'x' } })).toThrow(
      /no kubernetes-models class/,
    );
  });

  it('every kustomization lists exactly the files of its directory, and every listed file exists', () => {
    expect(kustomizations.map((m) => m.file)).toContain('base/kustomization.yaml');
    expect(kustomizations.map((m) => m.file)).toContain('overlays/ha/kustomization.yaml');
    for (const c of COMPONENTS) {
      const k = kustomizations.find((m) => m.file === `components/${c}/kustomization.yaml`);
      expect(k?.object.kind, `components/${c} is a kustomize Component`).toBe('Component');
      expect(k?.object.apiVersion).toBe('kustomize.config.k8s.io/v1alpha1');
    }
    // Every directory under components/ is one of the components rendered below.
    expect(readdirSync(join(K8S, 'components')).sort()).toEqual([...COMPONENTS].sort());
    for (const k of kustomizations) {
      const dir = join(K8S, dirname(k.file));
      // A file is a whole object or a patch, never both: kustomize would add the partial
      // object next to the one it was meant to patch.
      const asResource = new Set((k.object.resources ?? []).map((e: string) => resolve(dir, e)));
      for (const p of patchPaths(k.object))
        expect(asResource.has(resolve(dir, p)), `${k.file} lists ${p} as a resource and a patch`).toBe(false);
      const listed: string[] = [
        ...(k.object.resources ?? []),
        ...(k.object.components ?? []),
        ...patchPaths(k.object),
        ...[...(k.object.configMapGenerator ?? []), ...(k.object.secretGenerator ?? [])].flatMap((g: Obj) =>
          [...(g.files ?? []), ...(g.envs ?? [])].map((f: string) => f.split('=').pop()!),
        ),
      ];
      for (const entry of listed) {
        const path = join(dir, entry);
        expect(existsSync(path), `${k.file} lists ${entry}, which does not exist`).toBe(true);
        if (statSync(path).isDirectory())
          expect(existsSync(join(path, 'kustomization.yaml')), `${entry} is a kustomization`).toBe(true);
      }
      const listedFiles = new Set(listed.map((e) => resolve(dir, e)));
      const present = readdirSync(dir).filter((f) => /\.ya?ml$/.test(f) && f !== 'kustomization.yaml');
      for (const file of present)
        expect(listedFiles.has(join(dir, file)), `${k.file} does not list ${file}`).toBe(true);
    }
  });
});

/** The Deployment, its container and what they point to, resolved from the base manifests. */
function deploymentFacts() {
  const deployment = one('Deployment');
  const configMap = one('ConfigMap');
  const pod = deployment.spec.template.spec as Obj;
  expect(pod.containers).toHaveLength(1);
  const container = pod.containers[0] as Obj;

  // --config <path> (also --config=<path>, -c <path>): the only argument.
  const args: string[] = container.args ?? [];
  const at = args.findIndex((a) => a === '--config' || a === '-c');
  const configPath = at >= 0 ? args[at + 1] : args.find((a) => a.startsWith('--config='))?.slice('--config='.length);
  expect(configPath, `container args ${JSON.stringify(args)} name a config file`).toBeTruthy();

  // The ConfigMap volume, its mount and the key's file name inside the mount.
  const volume = (pod.volumes as Obj[]).find((v) => v.configMap?.name === configMap.metadata.name);
  expect(volume, `a volume of ConfigMap ${configMap.metadata.name}`).toBeDefined();
  const mount = (container.volumeMounts as Obj[]).find((m) => m.name === volume!.name);
  expect(mount, `a volumeMount of volume ${volume!.name}`).toBeDefined();
  const keys = Object.keys(configMap.data ?? {});
  /** Where the kubelet puts a key of the ConfigMap in the container ('' when nowhere). */
  const fileOf = (key: string): string => {
    const items = volume!.configMap.items as Obj[] | undefined;
    const path = items ? items.find((i) => i.key === key)?.path : key;
    if (path === undefined) return '';
    if (mount!.subPath !== undefined) return mount!.subPath === path ? mount!.mountPath : '';
    return posix.join(mount!.mountPath, path);
  };
  const key = keys.find((k) => fileOf(k) === configPath);
  return {
    deployment,
    configMap,
    pod,
    container,
    configPath: configPath!,
    mount: mount!,
    volume: volume!,
    key,
    fileOf,
  };
}

function portOf(container: Obj, port: number | string): number | undefined {
  if (typeof port === 'number') return port;
  return (container.ports as Obj[] | undefined)?.find((p) => p.name === port)?.containerPort;
}

describe('the Deployment matches what the daemon serves', () => {
  it('--config points at the ConfigMap key (mountPath + key), and the key holds valid JSON', () => {
    const { configMap, configPath, mount, key, fileOf } = deploymentFacts();
    expect(key, `no key of ConfigMap ${configMap.metadata.name} is mounted at ${configPath}`).toBeDefined();
    expect(configPath).toBe(fileOf(key!));
    expect(configPath.startsWith(mount.mountPath)).toBe(true);
    expect(mount.readOnly).toBe(true);
    // A subPath mount would never see ConfigMap edits, and SIGHUP reloads read the file again.
    expect(mount.subPath).toBeUndefined();
    expect(() => JSON.parse(configMap.data[key!])).not.toThrow();
  });

  it("the container port is the config's http.port, probes and Service use it, the kubelet reaches http.host", () => {
    const { configMap, container, key } = deploymentFacts();
    const config = JSON.parse(configMap.data[key!]) as Obj;
    const http = container.ports.find((p: Obj) => p.name === 'http');
    expect(http, 'a container port named http').toBeDefined();
    expect(http.containerPort).toBe(config.http?.port ?? 8080);
    // Probes come from the pod IP: a loopback http.host would fail them.
    expect(['0.0.0.0', '::']).toContain(config.http?.host ?? '0.0.0.0');
    for (const probe of [container.livenessProbe, container.readinessProbe]) {
      expect(probe?.httpGet, 'an httpGet probe').toBeDefined();
      expect(portOf(container, probe.httpGet.port)).toBe(http.containerPort);
      expect(probe.httpGet.scheme ?? 'HTTP').toBe('HTTP');
    }
    expect(container.livenessProbe.httpGet.path).toBe('/healthz');
    expect(container.readinessProbe.httpGet.path).toBe('/readyz');

    const service = one('Service');
    const servicePort = (service.spec.ports as Obj[]).find((p) => p.name === 'http');
    expect(servicePort, 'a Service port named http').toBeDefined();
    expect(portOf(container, servicePort!.targetPort ?? servicePort!.port)).toBe(http.containerPort);
    expect(service.metadata.annotations?.['prometheus.io/scrape']).toBe('true');
    expect(Number(service.metadata.annotations?.['prometheus.io/port'])).toBe(http.containerPort);
    expect(service.metadata.annotations?.['prometheus.io/path']).toBe('/metrics');
  });

  it('one replica, never two at once, and selectors that match the pods', () => {
    const { deployment } = deploymentFacts();
    expect(deployment.spec.replicas).toBe(1);
    // RollingUpdate would run the new pod next to the old one: two sessions on every Janus.
    const strategy = deployment.spec.strategy ?? { type: 'RollingUpdate' };
    expect(
      strategy.type === 'Recreate' || (strategy.type === 'RollingUpdate' && strategy.rollingUpdate?.maxSurge === 0),
      `strategy ${JSON.stringify(strategy)} must be Recreate or RollingUpdate with maxSurge 0`,
    ).toBe(true);
    const labels = deployment.spec.template.metadata.labels as Obj;
    expect(selects(deployment.spec.selector.matchLabels, labels), 'Deployment selector matches the pod labels').toBe(
      true,
    );
    expect(selects(one('Service').spec.selector, labels), 'Service selector matches the pod labels').toBe(true);
    const pdb = one('PodDisruptionBudget');
    expect(selects(pdb.spec.selector.matchLabels, labels), 'PDB selector matches the pod labels').toBe(true);
    // With one replica, minAvailable >= 1 would block every node drain.
    expect(pdb.spec.minAvailable ?? 0, 'PDB minAvailable with one replica').toBe(0);
  });

  it('locked down: non-root, read-only root fs, no privilege escalation, no capabilities, seccomp, resources', () => {
    const { pod, container } = deploymentFacts();
    const sc = container.securityContext as Obj;
    expect(sc.runAsNonRoot ?? pod.securityContext?.runAsNonRoot).toBe(true);
    expect(sc.runAsUser ?? pod.securityContext?.runAsUser).toBeGreaterThan(0);
    expect(sc.readOnlyRootFilesystem).toBe(true);
    expect(sc.allowPrivilegeEscalation).toBe(false);
    expect(sc.capabilities?.drop).toEqual(['ALL']);
    expect(sc.capabilities?.add ?? []).toEqual([]);
    expect((sc.seccompProfile ?? pod.securityContext?.seccompProfile)?.type).toBe('RuntimeDefault');
    for (const kind of ['requests', 'limits']) {
      expect(container.resources?.[kind]?.cpu, `resources.${kind}.cpu`).toBeDefined();
      expect(container.resources?.[kind]?.memory, `resources.${kind}.memory`).toBeDefined();
    }
    expect(container.command, 'the image ENTRYPOINT (node dist/main.js) runs').toBeUndefined();
  });

  it('the grace period covers a shutdown: requests and session destroys (janus.cmdTimeout each) plus a margin', () => {
    const { pod, configMap, key } = deploymentFacts();
    const cmdTimeout = (JSON.parse(configMap.data[key!]) as Obj).janus?.cmdTimeout ?? 5000;
    expect(pod.terminationGracePeriodSeconds * 1000).toBeGreaterThanOrEqual(2 * cmdTimeout + 5000);
  });

  it('runs as applied: no Secret, no reference to one, no JNB_DB_URL; NATS at the Service `nats`', () => {
    const { pod, container, configMap, key } = deploymentFacts();
    expect(
      resources.filter((m) => dirname(m.file) === 'base' && m.object.kind === 'Secret').map((m) => m.file),
      'a Secret in the base',
    ).toEqual([]);
    expect(references(pod, 'Secret'), 'Secret references in the base Deployment').toEqual([]);
    expect(((container.env ?? []) as Obj[]).map((e) => e.name)).not.toContain('JNB_DB_URL');
    expect(container.envFrom, 'envFrom in the base').toBeUndefined();
    const config = JSON.parse(configMap.data[key!]) as Obj;
    // The NATS Helm chart's Service for a release named `nats`, in the bridge's namespace.
    expect(config.nats.servers).toEqual(['nats://nats:4222']);
    expect(config.db?.url ?? '', "the ConfigMap's list is the one served").toBe('');
    expect(config.connections.length).toBeGreaterThan(0);
  });

  it('the Dockerfile runs what the Deployment expects: node dist/main.js, numeric non-root user, http port', () => {
    const { pod, container } = deploymentFacts();
    const dockerfile = readFileSync(join(REPO, 'deploy/Dockerfile'), 'utf8');
    const stages = dockerfile.split(/^FROM /m);
    const runtime = stages[stages.length - 1]!;
    expect(runtime).toMatch(/^ENTRYPOINT \["node", "dist\/main\.js"\]$/m);
    const user = /^USER (\d+)(?::(\d+))?$/m.exec(runtime);
    expect(user, 'a numeric USER, which runAsNonRoot can verify').not.toBeNull();
    expect(Number(user![1])).toBeGreaterThan(0);
    expect(Number(user![1])).toBe(container.securityContext?.runAsUser ?? pod.securityContext?.runAsUser);
    const exposed = /^EXPOSE (.+)$/m
      .exec(runtime)?.[1]
      ?.split(/\s+/)
      .map((p) => Number(p.split('/')[0]));
    expect(exposed).toContain(container.ports.find((p: Obj) => p.name === 'http').containerPort);
  });
});

/**
 * Strategic merge as kustomize applies it, for the fields patched here: maps merge key by
 * key, null deletes, lists of the fields below merge item by item on their key (new items
 * first, as kustomize places them), `args`, `command` and `items` are replaced whole. Any other list
 * or a $directive fails: add its patch strategy (from the Kubernetes API types) first.
 */
const LIST_MERGE_KEY: Record<string, string> = {
  containers: 'name',
  initContainers: 'name',
  env: 'name',
  volumes: 'name',
  volumeMounts: 'mountPath',
  topologySpreadConstraints: 'topologyKey',
};
// Lists without a patch strategy in the API types are replaced whole (a volume's items).
const LIST_REPLACE = new Set(['args', 'command', 'items']);

function isMap(value: unknown): value is Obj {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function strategicMerge(target: unknown, patch: unknown, field = ''): unknown {
  if (Array.isArray(patch)) {
    const key = LIST_MERGE_KEY[field];
    if (key === undefined) {
      if (!LIST_REPLACE.has(field))
        throw new Error(`strategic merge of list "${field}": add its patch strategy to LIST_MERGE_KEY or LIST_REPLACE`);
      return structuredClone(patch);
    }
    const merged = structuredClone(Array.isArray(target) ? (target as Obj[]) : []);
    const added: Obj[] = [];
    for (const item of patch as Obj[]) {
      const at = merged.findIndex((o) => o[key] === item[key]);
      if (at >= 0) merged[at] = strategicMerge(merged[at], item) as Obj;
      else added.push(strategicMerge(undefined, item) as Obj);
    }
    return [...added, ...merged];
  }
  if (isMap(patch)) {
    const merged: Obj = isMap(target) ? structuredClone(target) : {};
    for (const [k, v] of Object.entries(patch)) {
      if (k.startsWith('$')) throw new Error(`strategic merge directive ${k} is not implemented in this test`);
      if (v === null) delete merged[k];
      else merged[k] = strategicMerge(merged[k], v, k);
    }
    return merged;
  }
  return patch;
}

/** kustomize's images transformer on pod templates: name[:tag][@digest]. */
function setImage(object: Obj, image: Obj): Obj {
  const unknown = Object.keys(image).filter((k) => !['name', 'newName', 'newTag', 'digest'].includes(k));
  if (unknown.length) throw new Error(`images: ${unknown.join(', ')} not implemented in this test`);
  const pod = object.spec?.template?.spec as Obj | undefined;
  if (!pod) return object;
  const out = structuredClone(object);
  for (const c of [
    ...(out.spec.template.spec.containers ?? []),
    ...(out.spec.template.spec.initContainers ?? []),
  ] as Obj[]) {
    const at = c.image.indexOf('@');
    const nameTag: string = at >= 0 ? c.image.slice(0, at) : c.image;
    const digest: string | undefined = at >= 0 ? c.image.slice(at + 1) : undefined;
    const colon = nameTag.lastIndexOf(':');
    const hasTag = colon > nameTag.lastIndexOf('/');
    const name = hasTag ? nameTag.slice(0, colon) : nameTag;
    const tag = hasTag ? nameTag.slice(colon + 1) : undefined;
    if (name !== image.name) continue;
    const newName: string = image.newName ?? name;
    if (image.digest) c.image = `${newName}@${image.digest}`;
    else if (image.newTag) c.image = `${newName}:${image.newTag}`;
    else c.image = `${newName}${tag ? `:${tag}` : ''}${digest ? `@${digest}` : ''}`;
  }
  return out;
}

/**
 * `kustomize build dir`, for what these kustomizations use: resources (files and
 * directories), components (kind: Component, applied in order to what the resources built),
 * patches given by path (strategic merge, the target named by the patch's apiVersion, kind
 * and metadata.name), images. Any other field fails.
 */
function kustomize(dir: string): Obj[] {
  return build(dir, 'Kustomization', []);
}

/**
 * One kustomization (or a component, on the objects built so far), in kustomize's order:
 * its resources, then its components, then its patches, then its images.
 */
function build(dir: string, kind: 'Kustomization' | 'Component', accumulated: Obj[]): Obj[] {
  const [k, ...more] = parseFile(join(dir, 'kustomization.yaml'));
  const name = relative(REPO, join(dir, 'kustomization.yaml'));
  if (!k || more.length) throw new Error(`${name}: one document expected`);
  if (k.kind !== kind) throw new Error(`${name}: kind ${k.kind} where a ${kind} is expected`);
  const unknown = Object.keys(k).filter(
    (key) => !['apiVersion', 'kind', 'resources', 'components', 'patches', 'images'].includes(key),
  );
  if (unknown.length) throw new Error(`${name}: ${unknown.join(', ')} not implemented by kustomize() in this test`);
  let objects: Obj[] = [
    ...accumulated,
    ...(k.resources ?? []).flatMap((entry: string) => {
      const path = resolve(dir, entry);
      return statSync(path).isDirectory() ? kustomize(path) : parseFile(path);
    }),
  ];
  for (const entry of (k.components ?? []) as string[]) objects = build(resolve(dir, entry), 'Component', objects);
  for (const p of (k.patches ?? []) as Obj[]) {
    const extra = Object.keys(p).filter((key) => key !== 'path');
    if (extra.length || !p.path)
      throw new Error(`${name}: patches with ${extra.join(', ') || 'no path'} not implemented in this test`);
    for (const patch of parseFile(resolve(dir, p.path))) {
      const matches = objects.filter(
        (o) => o.apiVersion === patch.apiVersion && o.kind === patch.kind && o.metadata?.name === patch.metadata?.name,
      );
      expect(
        matches.length,
        `${p.path}: ${patch.apiVersion} ${patch.kind} ${patch.metadata?.name} patches exactly one object`,
      ).toBe(1);
      objects = objects.map((o) => (o === matches[0] ? (strategicMerge(o, patch) as Obj) : o));
    }
  }
  for (const image of (k.images ?? []) as Obj[]) objects = objects.map((o) => setImage(o, image));
  return objects;
}

const HA = join(K8S, 'overlays/ha');

function builtOne(objects: Obj[], kind: string): Obj {
  const found = objects.filter((o) => o.kind === kind);
  expect(
    found.map((o) => o.metadata?.name),
    `exactly one ${kind} in the build`,
  ).toHaveLength(1);
  return found[0]!;
}

/** The HA overlay, built: its Deployment, pod spec, container, PDB, ConfigMap config. */
function haFacts() {
  const objects = kustomize(HA);
  const deployment = builtOne(objects, 'Deployment');
  const pod = deployment.spec.template.spec as Obj;
  expect(pod.containers).toHaveLength(1);
  const container = pod.containers[0] as Obj;
  const env = new Map<string, Obj>((container.env ?? []).map((e: Obj) => [e.name, e]));
  const configMap = builtOne(objects, 'ConfigMap');
  const config = JSON.parse(Object.values(configMap.data as Obj)[0] as string) as Obj;
  return { objects, deployment, pod, container, env, pdb: builtOne(objects, 'PodDisruptionBudget'), config };
}

describe('deploy/k8s/overlays/ha: several replicas', () => {
  it("the test's strategic merge: maps merge, null deletes, env merges by name, unknown lists fail", () => {
    const target = {
      a: 1,
      b: { c: 2, d: 3 },
      env: [
        { name: 'X', value: '1' },
        { name: 'Y', value: '2' },
      ],
    };
    expect(
      strategicMerge(target, {
        b: { d: null, e: 4 },
        env: [
          { name: 'Y', value: '3' },
          { name: 'Z', value: '4' },
        ],
      }),
    ).toEqual({
      a: 1,
      b: { c: 2, e: 4 },
      env: [
        { name: 'Z', value: '4' },
        { name: 'X', value: '1' },
        { name: 'Y', value: '3' },
      ],
    });
    expect(() => strategicMerge({}, { tolerations: [] })).toThrow(/tolerations/);
    expect(() => strategicMerge({}, { $patch: 'replace' })).toThrow(/\$patch/);
  });

  it('builds on the base with patches only: the same objects, each valid against the Kubernetes schema', () => {
    const k = parseFile(join(HA, 'kustomization.yaml'))[0]!;
    expect(k.resources).toEqual(['../../base']);
    expect(patchPaths(k).length).toBeGreaterThan(0);
    const { objects } = haFacts();
    const ids = (list: Obj[]) => list.map((o) => `${o.apiVersion} ${o.kind} ${o.metadata?.name}`).sort();
    // Patched, not added: a second PodDisruptionBudget over the same pods would block evictions.
    expect(ids(objects)).toEqual(ids(kustomize(BASE)));
    for (const o of objects) {
      expect(() => validate(o), `${o.kind} ${o.metadata?.name}`).not.toThrow();
      expect(o.metadata?.name).toMatch(/^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/);
    }
  });

  it('three replicas, RollingUpdate that starts the new pod (ready) before stopping an old one', () => {
    const { deployment, container } = haFacts();
    expect(deployment.spec.replicas).toBe(3);
    expect(deployment.spec.strategy?.type).toBe('RollingUpdate');
    expect(deployment.spec.strategy?.rollingUpdate?.maxUnavailable).toBe(0);
    expect(deployment.spec.strategy?.rollingUpdate?.maxSurge).toBe(1);
    // "Ready" is what the rollout waits for before it stops an old pod.
    expect(container.readinessProbe?.httpGet?.path).toBe('/readyz');
  });

  it('HA enabled through the environment: JNB_HA_ENABLED "true", JNB_HA_REPLICA_ID the pod name, nothing else', () => {
    const { deployment, env } = haFacts();
    expect(env.get('JNB_HA_ENABLED')).toEqual({ name: 'JNB_HA_ENABLED', value: 'true' });
    const replicaId = env.get('JNB_HA_REPLICA_ID');
    expect(replicaId?.value).toBeUndefined();
    expect(replicaId?.valueFrom?.fieldRef?.fieldPath).toBe('metadata.name');
    expect(replicaId?.valueFrom?.fieldRef?.apiVersion ?? 'v1').toBe('v1');
    // Pod names <deployment>-<hash>-<suffix> fit ha.replicaId (letters, digits, - and _)
    // only if the Deployment's name has no dots.
    expect(deployment.metadata.name).toMatch(/^[a-z0-9-]+$/);
    // The base has no env of its own: that the patches add to an env rather than replace it
    // is checked by the combinations with the components below (HA + SQL keeps both).
    expect([...env.keys()].sort()).toEqual(['JNB_HA_ENABLED', 'JNB_HA_REPLICA_ID']);
  });

  it("one PodDisruptionBudget: maxUnavailable 1, no minAvailable, selecting the Deployment's pods", () => {
    const { deployment, pdb } = haFacts();
    expect(pdb.spec.maxUnavailable).toBe(1);
    expect(pdb.spec.minAvailable).toBeUndefined();
    expect(pdb.spec.selector?.matchLabels).toEqual(deployment.spec.selector.matchLabels);
    expect(selects(pdb.spec.selector.matchLabels, deployment.spec.template.metadata.labels)).toBe(true);
  });

  it("spread across nodes: kubernetes.io/hostname, maxSkew 1, ScheduleAnyway, on the Deployment's pod labels", () => {
    const { deployment, pod } = haFacts();
    const spread = ((pod.topologySpreadConstraints ?? []) as Obj[]).filter(
      (c) => c.topologyKey === 'kubernetes.io/hostname',
    );
    expect(spread).toHaveLength(1);
    expect(spread[0]!.maxSkew).toBe(1);
    expect(spread[0]!.whenUnsatisfiable).toBe('ScheduleAnyway');
    expect(spread[0]!.labelSelector?.matchLabels).toEqual(deployment.spec.selector.matchLabels);
    expect(spread[0]!.labelSelector?.matchExpressions).toBeUndefined();
  });

  it('the grace period covers a hand-over, requests and sessions (janus.cmdTimeout each), a margin; >= 45 s', () => {
    const { pod, env, config } = haFacts();
    const handoverS = Number(env.get('JNB_HA_HANDOVER_TIMEOUT')?.value ?? config.ha?.handoverTimeout ?? 10);
    const cmdTimeoutMs = Number(env.get('JNB_JANUS_CMD_TIMEOUT')?.value ?? config.janus?.cmdTimeout ?? 5000);
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(45);
    expect(pod.terminationGracePeriodSeconds * 1000).toBeGreaterThanOrEqual(handoverS * 1000 + 2 * cmdTimeoutMs + 5000);
  });

  // Components are built as part of the combinations below (kustomize builds no Component alone).
  it
    .runIf(HAS_KUBECTL)
    .each(kustomizations.filter((k) => k.object.kind === 'Kustomization').map((k) => dirname(k.file)))(
    'the build of %s equals `kubectl kustomize`',
    (dir) => {
      const run = spawnSync('kubectl', ['kustomize', join(K8S, dir)], { encoding: 'utf8', timeout: 30_000 });
      expect(run.status, run.stderr).toBe(0);
      const docs = parseAllDocuments(run.stdout, { version: '1.1' })
        .map((d) => d.toJS() as Obj)
        .filter(Boolean);
      const key = (o: Obj) => `${o.kind}/${o.metadata?.name}`;
      const sorted = (list: Obj[]) => [...list].sort((a, b) => key(a).localeCompare(key(b)));
      expect(sorted(kustomize(join(K8S, dir)))).toEqual(sorted(docs));
    },
    60_000,
  );
});

/** Every subset of the components, in the order of COMPONENTS. */
function subsets<T>(items: readonly T[]): T[][] {
  return items.reduce<T[][]>((all, item) => [...all, ...all.map((s) => [...s, item])], [[]]);
}

interface Combination {
  label: string;
  overlay: 'base' | 'overlays/ha';
  components: ComponentName[];
}

const COMBINATIONS: Combination[] = (['base', 'overlays/ha'] as const).flatMap((overlay) =>
  subsets(COMPONENTS).map((components) => ({ overlay, components, label: [overlay, ...components].join(' + ') })),
);

/**
 * What a user's overlay holds to opt in: the base (or the overlay ha) as its resource and
 * the components, by relative path (kustomize refuses absolute ones).
 */
function userOverlay(root: string, combination: Combination): string {
  const dir = mkdtempSync(join(root, 'overlay-'));
  const path = (p: string) => relative(dir, join(K8S, p));
  const lines = [
    'apiVersion: kustomize.config.k8s.io/v1beta1',
    'kind: Kustomization',
    'resources:',
    `  - ${path(combination.overlay)}`,
    ...(combination.components.length
      ? ['components:', ...combination.components.map((c) => `  - ${path(`components/${c}`)}`)]
      : []),
  ];
  writeFileSync(join(dir, 'kustomization.yaml'), `${lines.join('\n')}\n`);
  return dir;
}

/** Stand-ins for what the kubelet fills in: the pod's name, the keys of the Secrets users create. */
const POD_NAME = 'janus-nats-bridge-5d8f7c9b4-x2x7q';
const SECRET_STAND_INS: Record<string, string> = {
  'janus-nats-bridge-db/db-url': 'postgres://bridge:stand-in@db:5432/opensips',
};

/**
 * The daemon's configuration in a rendered pod: the ConfigMap's config.json (the file
 * --config names) and the container's environment, loaded with the daemon's own loader.
 * withSecrets false: as the kubelet starts the pod before the user has created the
 * (optional) Secrets: those variables are left out.
 */
function effectiveConfig(objects: Obj[], dir: string, withSecrets: boolean): BridgeConfig {
  const configMap = builtOne(objects, 'ConfigMap');
  const container = builtOne(objects, 'Deployment').spec.template.spec.containers[0] as Obj;
  const env: NodeJS.ProcessEnv = {};
  for (const e of (container.env ?? []) as Obj[]) {
    if (e.value !== undefined) env[e.name] = String(e.value);
    else if (e.valueFrom?.fieldRef?.fieldPath === 'metadata.name') env[e.name] = POD_NAME;
    else if (e.valueFrom?.secretKeyRef) {
      const ref = e.valueFrom.secretKeyRef as Obj;
      const standIn = SECRET_STAND_INS[`${ref.name}/${ref.key}`];
      expect(standIn, `a stand-in for Secret ${ref.name} key ${ref.key} (SECRET_STAND_INS)`).toBeDefined();
      if (withSecrets) env[e.name] = standIn;
      else expect(ref.optional, `${e.name}: a Secret the user creates is optional`).toBe(true);
    } else throw new Error(`env ${e.name}: ${JSON.stringify(e.valueFrom)} has no stand-in in this test`);
  }
  const file = join(dir, `config-${withSecrets ? 'with' : 'without'}-secrets.json`);
  writeFileSync(file, configMap.data['config.json']);
  const result = loadConfig({ file, env });
  if (!result.ok) throw new Error(`the rendered configuration is refused: ${result.problem}`);
  return result.config;
}

/** An object without what the components may change: the container's env, mounts and the volumes. */
function withoutComponentFields(object: Obj): Obj {
  const out = structuredClone(object);
  const pod = out.spec?.template?.spec as Obj | undefined;
  if (!pod) return out;
  delete pod.volumes;
  for (const c of pod.containers as Obj[]) {
    delete c.env;
    delete c.volumeMounts;
  }
  return out;
}

const PLACEHOLDER = /\.invalid\b|CHANGE-ME|PLACEHOLDER|example\.(com|net|org)\b/i;

describe('the base, the overlay ha and every combination of the components render to objects that run', () => {
  let root: string;
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'jnb-kustomize-'));
  });
  afterAll(() => {
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('the combinations: base and overlay ha, each with every subset of the components', () => {
    expect(COMBINATIONS).toHaveLength(2 * 2 ** COMPONENTS.length);
  });

  it.each(COMBINATIONS.map((c) => [c.label, c] as const))(
    '%s',
    (_label, combination) => {
      const dir = userOverlay(root, combination);
      const ours = kustomize(dir);
      let objects = ours;
      let text = JSON.stringify(ours);
      if (HAS_KUBECTL) {
        const run = spawnSync('kubectl', ['kustomize', dir], { encoding: 'utf8', timeout: 30_000 });
        expect(run.status, run.stderr).toBe(0);
        objects = parseAllDocuments(run.stdout, { version: '1.1' })
          .map((d) => d.toJS() as Obj)
          .filter(Boolean);
        text = run.stdout;
        const key = (o: Obj) => `${o.kind}/${o.metadata?.name}`;
        const sorted = (list: Obj[]) => [...list].sort((a, b) => key(a).localeCompare(key(b)));
        expect(sorted(ours), "this test's build equals `kubectl kustomize`").toEqual(sorted(objects));
      }
      const { ha, sql, creds, capture, cluster } = {
        ha: combination.overlay === 'overlays/ha',
        sql: combination.components.includes('sql-list'),
        creds: combination.components.includes('nats-credentials'),
        capture: combination.components.includes('jetstream-capture'),
        cluster: combination.components.includes('nats-cluster'),
      };

      // Valid objects, no placeholders, the same objects as without the components, changed
      // only in the container's env, mounts and the pod's volumes.
      for (const o of objects) {
        expect(() => validate(o), `${o.kind} ${o.metadata?.name}`).not.toThrow();
        expect(o.metadata?.name).toMatch(/^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/);
      }
      expect(PLACEHOLDER.exec(text)?.[0], 'a placeholder in the rendering').toBeUndefined();
      const plain = kustomize(join(K8S, combination.overlay));
      const ids = (list: Obj[]) => list.map((o) => `${o.apiVersion} ${o.kind} ${o.metadata?.name}`).sort();
      expect(ids(objects)).toEqual(ids(plain));
      for (const o of objects) {
        const same = plain.find((p) => p.kind === o.kind && p.metadata?.name === o.metadata?.name)!;
        expect(withoutComponentFields(o), `${o.kind} ${o.metadata?.name} outside env, mounts and volumes`).toEqual(
          withoutComponentFields(same),
        );
      }

      // Nothing the pod needs is missing: a Secret or ConfigMap it names is in the rendering
      // or optional; every mount has its volume.
      const deployment = builtOne(objects, 'Deployment');
      const pod = deployment.spec.template.spec as Obj;
      const container = pod.containers[0] as Obj;
      for (const kind of ['Secret', 'ConfigMap'] as const) {
        const created = new Set(objects.filter((o) => o.kind === kind).map((o) => o.metadata.name));
        for (const ref of references(pod, kind)) {
          expect(
            created.has(ref.name) || ref.optional,
            `${ref.where}: ${kind} ${ref.name} is neither rendered nor optional`,
          ).toBe(true);
        }
      }
      const volumes = new Map<string, Obj>(((pod.volumes ?? []) as Obj[]).map((v) => [v.name, v]));
      for (const m of (container.volumeMounts ?? []) as Obj[])
        expect(volumes.has(m.name), `volume of the mount ${m.mountPath}`).toBe(true);
      const env = new Map<string, Obj>(((container.env ?? []) as Obj[]).map((e) => [e.name, e]));
      expect(env.size, 'no variable twice').toBe((container.env ?? []).length);

      const config = effectiveConfig(objects, dir, true);

      // The overlay ha: several replicas with leases; otherwise one, never two at once.
      if (ha) {
        expect(deployment.spec.replicas).toBeGreaterThanOrEqual(2);
        expect(config.ha.enabled).toBe(true);
        expect(config.ha.replicaId).toBe(POD_NAME);
      } else {
        expect(deployment.spec.replicas).toBe(1);
        expect(deployment.spec.strategy.type).toBe('Recreate');
        expect(config.ha.enabled).toBe(false);
      }

      // The SQL list: db.url from the Secret's key, and the ConfigMap's example list never served.
      if (sql) {
        expect(env.get('JNB_DB_URL')?.valueFrom?.secretKeyRef).toEqual({
          name: 'janus-nats-bridge-db',
          key: 'db-url',
          optional: true,
        });
        expect(config.db.url).toBe(SECRET_STAND_INS['janus-nats-bridge-db/db-url']);
        expect(config.connections).toEqual([]);
        const withoutSecret = effectiveConfig(objects, dir, false);
        expect(withoutSecret.db.url, 'without the Secret').toBe('');
        expect(withoutSecret.connections, "without the Secret: no Janus rather than the ConfigMap's example").toEqual(
          [],
        );
      } else {
        expect(env.has('JNB_DB_URL')).toBe(false);
        expect(config.db.url).toBe('');
        expect(config.connections.length, "the ConfigMap's list").toBeGreaterThan(0);
      }

      // NATS credentials: the file JNB_NATS_CREDS_FILE names is a key of a mounted Secret.
      const secretVolumes = [...volumes.values()].filter((v) => v.secret);
      if (creds) {
        const path = env.get('JNB_NATS_CREDS_FILE')?.value as string;
        expect(config.nats.credsFile).toBe(path);
        const mount = ((container.volumeMounts ?? []) as Obj[]).find((m) => path.startsWith(`${m.mountPath}/`));
        expect(mount, `a mount holding ${path}`).toBeDefined();
        expect(mount!.readOnly).toBe(true);
        expect(mount!.subPath).toBeUndefined();
        const volume = volumes.get(mount!.name)!;
        expect(volume.secret?.secretName).toBe('janus-nats-bridge-nats');
        expect((volume.secret.items as Obj[]).find((i) => i.key === 'nats.creds')?.path).toBe(
          path.slice(mount!.mountPath.length + 1),
        );
        // Owner and group only, and the group is the pod's fsGroup, so uid 1000 can read it.
        expect(volume.secret.defaultMode & 0o007).toBe(0);
        expect(pod.securityContext?.fsGroup).toBe(
          pod.securityContext?.runAsGroup ?? container.securityContext?.runAsGroup,
        );
        // Without the Secret the mount is empty: the daemon stops at start-up, naming the key.
        const withoutSecret = effectiveConfig(objects, dir, false);
        const secrets = resolveSecrets(withoutSecret);
        expect(secrets.ok).toBe(false);
        expect(secrets.ok ? '' : secrets.problem).toContain(`nats.credsFile: cannot read ${path}`);
      } else {
        expect(env.has('JNB_NATS_CREDS_FILE')).toBe(false);
        expect(config.nats.credsFile).toBe('');
        expect(secretVolumes).toEqual([]);
      }

      // JetStream capture.
      expect(config.events.stream.enabled).toBe(capture);
      if (capture) expect(env.get('JNB_EVENTS_STREAM')?.value).toBe('true');

      // A NATS cluster: every server, the bucket and the stream with three replicas, a TTL that rides out an election.
      if (cluster) {
        expect(config.nats.servers).toEqual([0, 1, 2].map((i) => `nats://nats-${i}.nats-headless:4222`));
        expect([config.ha.bucketReplicas, config.events.stream.replicas, config.ha.leaseTtl]).toEqual([3, 3, 20]);
      } else {
        expect(config.nats.servers).toEqual(['nats://nats:4222']);
        expect(config.ha.bucketReplicas).toBe(1);
        expect(config.events.stream.replicas).toBe(1);
      }

      // The grace period covers the shutdown this configuration makes: hand-overs (twice
      // ha.handoverTimeout), in-flight requests, session closes and, with capture, the
      // JetStream buffer (janus.cmdTimeout each), plus 5 s for the NATS drain and a margin.
      const cmd = config.janus.cmdTimeout;
      const shutdownMs = (ha ? 2 * config.ha.handoverTimeout * 1000 + 3 * cmd + 1000 : (capture ? 3 : 2) * cmd) + 5000;
      expect(pod.terminationGracePeriodSeconds * 1000).toBeGreaterThanOrEqual(shutdownMs);
    },
    60_000,
  );
});

async function get(url: string): Promise<{ status: number; body: string } | undefined> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
    return { status: res.status, body: await res.text() };
  } catch {
    return undefined;
  }
}

/** GETs url until `until` holds, the time is up, or the daemon has exited. */
async function poll(
  url: string,
  until: (r: { status: number; body: string } | undefined) => boolean,
  timeoutMs: number,
  child: ChildProcess,
) {
  const deadline = Date.now() + timeoutMs;
  let last = await get(url);
  while (!until(last) && Date.now() < deadline && child.exitCode === null && child.signalCode === null) {
    await new Promise((r) => setTimeout(r, 100));
    last = await get(url);
  }
  return last;
}

describe("the daemon started with the ConfigMap's config answers the Deployment's probes", () => {
  let nats: NatsServer;
  let dir: string;
  let daemon: ChildProcess | undefined;
  let exited: Promise<number | null>;
  let output = '';
  let port: number;

  beforeAll(async () => {
    nats = await startNats();
    port = await freePort();
    dir = mkdtempSync(join(tmpdir(), 'jnb-deploy-'));
  });

  afterAll(async () => {
    if (daemon && daemon.exitCode === null && daemon.signalCode === null) {
      daemon.kill('SIGKILL');
      await exited;
    }
    await nats?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('GET liveness and readiness paths: 200; SIGTERM: exit 0 within the grace period', async () => {
    const { configMap, key, container, pod } = deploymentFacts();
    const config = JSON.parse(configMap.data[key!]) as Obj;
    // Only what must change to run here; everything else (janus, connections, log…) as shipped.
    config.nats = { ...config.nats, servers: [nats.url] };
    config.http = { ...config.http, host: '127.0.0.1', port };
    const file = join(dir, 'config.json');
    writeFileSync(file, JSON.stringify(config));

    // No JNB_* variables: the base Deployment sets none (what the components add needs
    // Secrets and files that exist only in a cluster; their effect is checked above).
    expect(container.env ?? [], "the base Deployment's env").toEqual([]);
    daemon = spawn(process.execPath, [MAIN, '--config', file], {
      env: { PATH: process.env.PATH },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    daemon.stdout!.on('data', (d: Buffer) => {
      output = (output + d.toString()).slice(-20_000);
    });
    daemon.stderr!.on('data', (d: Buffer) => {
      output = (output + d.toString()).slice(-20_000);
    });
    exited = new Promise((done) => daemon!.once('exit', (code) => done(code)));

    const base = `http://127.0.0.1:${port}`;
    const liveness = `${base}${container.livenessProbe.httpGet.path}`;
    const readiness = `${base}${container.readinessProbe.httpGet.path}`;
    const live = await poll(liveness, (r) => r !== undefined, 10_000, daemon);
    expect(live?.status, `GET ${liveness}\n${output}`).toBe(200);
    const ready = await poll(readiness, (r) => r?.status === 200, 10_000, daemon);
    expect(ready?.status, `GET ${readiness}: ${ready?.body}\n${output}`).toBe(200);
    // The server answering is the daemon, not something else on the port: other paths are 404.
    expect((await get(`${base}/no-such-probe-path`))?.status).toBe(404);

    // What the kubelet does on pod deletion: SIGTERM, SIGKILL after the grace period.
    const graceMs = pod.terminationGracePeriodSeconds * 1000;
    daemon.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const code = await Promise.race([
      exited,
      new Promise<string>((r) => {
        timer = setTimeout(() => r(`still running after ${graceMs} ms`), graceMs);
      }),
    ]);
    clearTimeout(timer);
    expect(code, output).toBe(0);
  }, 60_000);
});
