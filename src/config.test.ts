import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.js';

describe('loadConfig', () => {
  it('gives working defaults for an empty environment', () => {
    const config = loadConfig({});
    expect(config.server.port).toBe(8080);
    expect(config.models.providers).toEqual(['cuda', 'webgpu', 'cpu']);
    expect(config.models.dirs).toEqual(['models/lookbook-emoji']);
    expect(config.detection.detectorPath).toBe('models/lookbook-detector/model.onnx');
    expect(config.fetch.allowPrivate).toBe(false);
    expect(config.jobs).toMatchObject({ redisUrl: 'redis://127.0.0.1:6379', prefix: 'lookbook', keepSources: true, workerConcurrency: 2, ownerUrl: 'http://127.0.0.1:8080' });
    expect(Object.isFrozen(config.server)).toBe(true);
    expect(config.server.keepAliveTimeoutMs).toBe(65_000);
    expect(config.filterCopyBytesPerItem).toBe(26);
    expect(config.filterGraphBytesPerItem).toBe(128);
    expect(config.searchTargetRecall).toBe(0.99);
  });

  it('takes the recall whose ef indexes measure, 0 for none', () => {
    expect(loadConfig({ LOOKBOOK_SEARCH_TARGET_RECALL: '0' }).searchTargetRecall).toBe(0);
    expect(loadConfig({ LOOKBOOK_SEARCH_TARGET_RECALL: '0.95' }).searchTargetRecall).toBe(0.95);
    for (const value of ['-0.1', '1', '2', 'high']) expect(() => loadConfig({ LOOKBOOK_SEARCH_TARGET_RECALL: value })).toThrow('LOOKBOOK_SEARCH_TARGET_RECALL');
  });

  it('takes a budget for copies of filters, 0 for none', () => {
    expect(loadConfig({ LOOKBOOK_FILTER_COPY_BYTES_PER_ITEM: '0' }).filterCopyBytesPerItem).toBe(0);
    expect(loadConfig({ LOOKBOOK_FILTER_COPY_BYTES_PER_ITEM: '48' }).filterCopyBytesPerItem).toBe(48);
    for (const value of ['-1', '2.5', 'lots']) expect(() => loadConfig({ LOOKBOOK_FILTER_COPY_BYTES_PER_ITEM: value })).toThrow('LOOKBOOK_FILTER_COPY_BYTES_PER_ITEM');
  });

  it("takes a budget for graphs of filters' own items, 0 for none", () => {
    expect(loadConfig({ LOOKBOOK_FILTER_GRAPH_BYTES_PER_ITEM: '0' }).filterGraphBytesPerItem).toBe(0);
    expect(loadConfig({ LOOKBOOK_FILTER_GRAPH_BYTES_PER_ITEM: '150' }).filterGraphBytesPerItem).toBe(150);
    for (const value of ['-1', '2.5', 'lots']) expect(() => loadConfig({ LOOKBOOK_FILTER_GRAPH_BYTES_PER_ITEM: value })).toThrow('LOOKBOOK_FILTER_GRAPH_BYTES_PER_ITEM');
  });

  it('keeps idle connections open for a bounded time', () => {
    expect(loadConfig({ LOOKBOOK_KEEP_ALIVE_TIMEOUT_MS: '120000' }).server.keepAliveTimeoutMs).toBe(120_000);
    // 0 would keep idle connections forever in Node; a few ms would close them under the proxies in front.
    for (const value of ['0', '999', '600001', 'soon']) expect(() => loadConfig({ LOOKBOOK_KEEP_ALIVE_TIMEOUT_MS: value })).toThrow('LOOKBOOK_KEEP_ALIVE_TIMEOUT_MS');
  });

  it('parses lists, numbers and booleans', () => {
    const config = loadConfig({
      LOOKBOOK_PORT: '0',
      LOOKBOOK_PROVIDERS: 'webgpu, cpu',
      LOOKBOOK_MODELS: 'models/a,models/b',
      LOOKBOOK_FETCH_ALLOW_HOSTS: 'cdn.internal:8443, images.local',
      LOOKBOOK_FETCH_ALLOW_PRIVATE: 'yes',
    });
    expect(config.server.port).toBe(0);
    expect(config.models.providers).toEqual(['webgpu', 'cpu']);
    expect(config.models.dirs).toEqual(['models/a', 'models/b']);
    expect(config.fetch.allowHosts).toEqual(['cdn.internal:8443', 'images.local']);
    expect(config.fetch.allowPrivate).toBe(true);
  });

  it('runs without a detector when told "none" or nothing', () => {
    for (const value of ['none', 'NONE', '']) expect(loadConfig({ LOOKBOOK_DETECTOR: value }).detection.detectorPath).toBeUndefined();
    expect(loadConfig({ LOOKBOOK_DETECTOR: 'models/yolov8n.onnx' }).detection.detectorPath).toBe('models/yolov8n.onnx');
  });

  it('takes detector labels named as Object.prototype\'s properties, and refuses "__proto__" rather than dropping it', () => {
    const categories = loadConfig({ LOOKBOOK_LABEL_CATEGORIES: '{"constructor": ["constructor"], "toString": ["bags"]}' }).detection.labelCategories;
    expect(Object.entries(categories)).toEqual([
      ['constructor', ['constructor']],
      ['toString', ['bags']],
    ]);
    expect(() => loadConfig({ LOOKBOOK_LABEL_CATEGORIES: '{"__proto__": ["shoes"]}' })).toThrow(/LOOKBOOK_LABEL_CATEGORIES.*__proto__/);
    expect(() => loadConfig({ LOOKBOOK_LABEL_CATEGORIES: '{"shoe": "sneakers"}' })).toThrow('LOOKBOOK_LABEL_CATEGORIES');
  });

  it('runs without Redis when told "none", and checks the queue settings', () => {
    expect(loadConfig({ LOOKBOOK_REDIS_URL: 'none' }).jobs.redisUrl).toBeUndefined();
    expect(loadConfig({ LOOKBOOK_OWNER_URL: 'http://owner:8080/' }).jobs.ownerUrl).toBe('http://owner:8080');
    for (const env of [{ LOOKBOOK_REDIS_URL: 'http://x' }, { LOOKBOOK_QUEUE_PREFIX: 'a:b' }, { LOOKBOOK_JOB_CHUNK_SIZE: '0' }, { LOOKBOOK_KEEP_SOURCES: 'maybe' }]) {
      expect(() => loadConfig(env)).toThrow(Object.keys(env)[0]);
    }
  });

  it('reports every bad variable at once', () => {
    let error: unknown;
    try {
      loadConfig({ LOOKBOOK_PORT: 'eighty', LOOKBOOK_PROVIDERS: 'cpu,tpu', LOOKBOOK_BATCH_MAX_SIZE: '0', LOOKBOOK_FETCH_ALLOW_PRIVATE: 'maybe' });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems.join('\n');
    for (const name of ['LOOKBOOK_PORT', 'LOOKBOOK_PROVIDERS', 'LOOKBOOK_BATCH_MAX_SIZE', 'LOOKBOOK_FETCH_ALLOW_PRIVATE']) {
      expect(problems).toContain(name);
    }
  });
});
