import { describe, expect, it } from 'vitest';
import type { Logger } from '../logger.js';
import { Detector } from './detector.js';

describe('Detector provider', () => {
  // Without a WebGPU adapter (no GPU, or no Vulkan loader: CI and the development machines) the
  // detector falls back to the CPU and reports it; on a GPU host the same test sees WebGPU load.
  it('reports the execution provider its session runs on', async () => {
    const warned: Array<Record<string, unknown>> = [];
    const noop = () => undefined;
    const logger = { warn: (fields: Record<string, unknown>) => warned.push(fields), info: noop, debug: noop, error: noop } as unknown as Logger;
    const detector = await Detector.load('models/lookbook-detector/model.onnx', { providers: ['webgpu', 'cpu'], intraOpThreads: 1, logger });
    try {
      expect(detector.info.provider).toBe(warned.some((w) => w.provider === 'webgpu') ? 'cpu' : 'webgpu');
    } finally {
      await detector.close();
    }
  });
});
