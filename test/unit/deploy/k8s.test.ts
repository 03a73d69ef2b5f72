/**
 * deploy/k8s/ cannot be applied here: every object is validated offline against the Kubernetes
 * OpenAPI schemas bundled by `kubernetes-models` (types, required fields, enums), and the
 * relations a schema cannot see are checked against the server itself: probe paths, the drain
 * bound vs the grace period, the HPA's metric name vs /metrics, option names vs config.ts.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { Deployment } from 'kubernetes-models/apps/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ConfigMap, PersistentVolumeClaim, Service } from 'kubernetes-models/v1';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { CONFIG_OPTIONS } from '../../../src/config.ts';

const DIR = new URL('../../../deploy/k8s/', import.meta.url).pathname;

const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  'apps/v1/Deployment': Deployment,
  'v1/Service': Service,
  'v1/ConfigMap': ConfigMap,
  'v1/PersistentVolumeClaim': PersistentVolumeClaim,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
};

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  spec?: any;
  data?: Record<string, string>;
}

function load(): Array<{ file: string; obj: K8sObject }> {
  const out: Array<{ file: string; obj: K8sObject }> = [];
  for (const file of readdirSync(DIR).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')) {
    for (const doc of parseAllDocuments(readFileSync(join(DIR, file), 'utf8'))) {
      if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors.map((e) => e.message).join('; ')}`);
      out.push({ file, obj: doc.toJS() as K8sObject });
    }
  }
  return out;
}

function validate(obj: K8sObject): void {
  const Model = MODELS[`${obj.apiVersion}/${obj.kind}`];
  if (!Model) throw new Error(`no schema for ${obj.apiVersion} ${obj.kind}`);
  new Model(obj as never).validate();
}

const objects = load();
const find = (kind: string, name = 'xalma-serve') => objects.find((o) => o.obj.kind === kind && o.obj.metadata.name === name)!.obj;
const deployment = find('Deployment');
const container = deployment.spec.template.spec.containers[0];
const configMap = find('ConfigMap');

describe('deploy/k8s manifests', () => {
  it.each(objects.map((o) => [`${o.file}: ${o.obj.kind} ${o.obj.metadata.name}`, o.obj] as const))('%s is valid against the Kubernetes schema', (_name, obj) => {
    expect(() => validate(obj)).not.toThrow();
  });

  it('the validator rejects a broken object (the check can fail)', () => {
    const broken = structuredClone(deployment);
    broken.spec.replicas = 'three';
    expect(() => validate(broken)).toThrow(/replicas/);
    const noSelector = structuredClone(deployment);
    delete noSelector.spec.selector;
    expect(() => validate(noSelector)).toThrow(/selector/);
  });

  it('kustomization.yaml lists every manifest file', () => {
    const kustomization = parseAllDocuments(readFileSync(join(DIR, 'kustomization.yaml'), 'utf8'))[0].toJS() as { resources: string[] };
    expect([...kustomization.resources].sort()).toEqual([...new Set(objects.map((o) => o.file))].sort());
  });

  it('readiness and the startup probe use /ready, liveness /health, on the container port', () => {
    expect(container.readinessProbe.httpGet.path).toBe('/ready');
    expect(container.startupProbe.httpGet.path).toBe('/ready');
    expect(container.livenessProbe.httpGet.path).toBe('/health');
    for (const probe of [container.readinessProbe, container.startupProbe, container.livenessProbe]) expect(probe.httpGet.port).toBe(container.ports[0].name);
    expect(container.ports[0].containerPort).toBe(Number(configMap.data!.XALMA_PORT));
    // The startup budget covers a slow model load (minutes), not the 10-35 s of the demo model only.
    expect(container.startupProbe.periodSeconds * container.startupProbe.failureThreshold).toBeGreaterThanOrEqual(300);
  });

  it('the grace period is longer than preStop plus the drain bound', () => {
    const drainMs = Number(configMap.data!.XALMA_SHUTDOWN_TIMEOUT_MS);
    const preStopS = container.lifecycle?.preStop?.sleep?.seconds ?? 0;
    expect(deployment.spec.template.spec.terminationGracePeriodSeconds * 1000).toBeGreaterThan(preStopS * 1000 + drainMs);
  });

  it('the HPA scales the Deployment on a metric the server exports', () => {
    const hpa = find('HorizontalPodAutoscaler');
    expect(hpa.spec.scaleTargetRef).toMatchObject({ kind: 'Deployment', name: deployment.metadata.name });
    const metricsSource = readFileSync(new URL('../../../src/http/metrics.ts', import.meta.url), 'utf8');
    for (const m of hpa.spec.metrics) expect(metricsSource).toContain(`name: '${m.pods.metric.name}'`);
  });

  it('the PDB and the Service select the Deployment pods', () => {
    const labels = deployment.spec.template.metadata.labels;
    expect(labels).toMatchObject(find('PodDisruptionBudget').spec.selector.matchLabels);
    expect(labels).toMatchObject(find('Service').spec.selector);
    expect(labels).toMatchObject(deployment.spec.selector.matchLabels);
  });

  it('the ConfigMap sets only options the server knows, and the model lives on the model volume', () => {
    const known = new Set(CONFIG_OPTIONS.flatMap((o) => o.env));
    expect(Object.keys(configMap.data!).filter((k) => !known.has(k))).toEqual([]);
    const mount = container.volumeMounts.find((m: { name: string }) => m.name === 'models');
    expect(configMap.data!.XALMA_MODEL.startsWith(`${mount.mountPath}/`)).toBe(true);
    const volume = deployment.spec.template.spec.volumes.find((v: { name: string }) => v.name === 'models');
    expect(volume.persistentVolumeClaim.claimName).toBe(find('PersistentVolumeClaim', 'xalma-models').metadata.name);
    expect(container.envFrom[0].configMapRef.name).toBe(configMap.metadata.name);
    // ORT threads match the CPU the pod is given.
    expect(configMap.data!.XALMA_INTRA_OP_THREADS).toBe(String(container.resources.requests.cpu));
  });

  it('memory requests cover the measured engine and detector RSS (bench/results)', () => {
    const mib = (q: string) => (q.endsWith('Gi') ? Number(q.slice(0, -2)) * 1024 : Number(q.replace(/Mi$/, '')));
    // merged fp32 batch 32 (engine.md) + lingua preloaded (detect.md), in MB.
    expect(mib(container.resources.requests.memory) * 1.048576).toBeGreaterThanOrEqual(1082 + 1073);
    expect(mib(container.resources.limits.memory)).toBeGreaterThanOrEqual(mib(container.resources.requests.memory));
  });
});
