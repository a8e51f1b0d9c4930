import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postJson, startTestServer, type TestServer } from './helpers/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

describe('health, readiness, metrics and docs', () => {
  it('shows the execution provider in use on /healthz', async () => {
    const body = await (await fetch(`${server.url}/healthz`)).json();
    expect(body).toMatchObject({ status: 'ok', default_model: 'lookbook-fixture' });
    expect(body.models).toEqual([{ id: 'lookbook-fixture', version: '0.0.1', dimension: 512, providers: { image: 'cpu', text: 'cpu' } }]);
    expect(body.detector).toBeNull();
  });

  it('is ready once models are loaded', async () => {
    const response = await fetch(`${server.url}/readyz`);
    expect(response.status).toBe(200);
    expect((await response.json()).models).toEqual(['lookbook-fixture']);
  });

  it('exposes request counts, latencies and encoder timings to Prometheus', async () => {
    await postJson(`${server.url}/v1/embeddings`, { input: 'metrics please' });
    const text = await (await fetch(`${server.url}/metrics`)).text();
    expect(text).toMatch(/lookbook_http_requests_total\{method="POST",route="\/v1\/embeddings",status="200"\} [1-9]/);
    expect(text).toContain('lookbook_http_request_duration_seconds_bucket');
    expect(text).toMatch(/lookbook_encoder_run_seconds_count\{model="lookbook-fixture",tower="text"\} [1-9]/);
    expect(text).toContain('lookbook_encoder_queue_depth 0');
  });

  it('documents exactly the routes the app serves in /openapi.json', async () => {
    const document = await (await fetch(`${server.url}/openapi.json`)).json();
    const documented = Object.entries(document.paths as Record<string, Record<string, unknown>>)
      .flatMap(([path, methods]) => Object.keys(methods).map((method) => `${method.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`))
      .sort();
    const app = server.server.listeners('request')[0] as any;
    const served = (app.router.stack as any[])
      .flatMap((layer) => (layer.route ? [layer] : layer.handle?.stack ?? []))
      .filter((layer: any) => layer.route)
      .flatMap((layer: any) => Object.keys(layer.route.methods).map((method) => `${method.toUpperCase()} ${layer.route.path}`))
      .filter((route: string) => route !== 'GET /')
      .concat(['GET /docs'])
      .sort();
    expect(documented).toEqual(served);
  });

  it('serves an HTML docs page', async () => {
    const response = await fetch(`${server.url}/docs/`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/html');
    expect(await response.text()).toContain('swagger');
  });

  it('echoes a request id', async () => {
    const response = await fetch(`${server.url}/healthz`, { headers: { 'x-request-id': 'abc-123' } });
    expect(response.headers.get('x-request-id')).toBe('abc-123');
  });
});

describe('execution providers', () => {
  it('falls back to the next provider with a logged reason', async () => {
    const fallback = await startTestServer({ LOOKBOOK_PROVIDERS: 'cuda,cpu' });
    try {
      const body = await (await fetch(`${fallback.url}/healthz`)).json();
      // This host has no CUDA libraries (npm installs skip them offline), so the CPU provider serves.
      expect(body.models[0].providers).toEqual({ image: 'cpu', text: 'cpu' });
      const warning = fallback.logs.find((line) => line.msg === 'execution provider unavailable, trying the next one');
      expect(warning).toMatchObject({ provider: 'cuda' });
      expect(String(warning!.reason)).not.toBe('');
    } finally {
      await fallback.close();
    }
  });

  it('reports the provider each tower and the detector actually run on when WebGPU is asked for', async () => {
    const server = await startTestServer({ LOOKBOOK_PROVIDERS: 'webgpu,cpu', LOOKBOOK_DETECTOR: 'models/lookbook-detector/model.onnx' });
    try {
      const health = await (await fetch(`${server.url}/healthz`)).json();
      // Without a WebGPU adapter (no GPU or no Vulkan loader, as in CI) every session falls back to the CPU.
      const expected = server.logs.some((line) => line.msg === 'execution provider unavailable, trying the next one' && line.provider === 'webgpu') ? 'cpu' : 'webgpu';
      expect(health.models[0].providers).toEqual({ image: expected, text: expected });
      expect(health.detector.provider).toBe(expected);
      const models = await (await fetch(`${server.url}/v1/models`)).json();
      expect(models.data[0].providers).toEqual({ image: expected, text: expected });
    } finally {
      await server.close();
    }
  });
});
