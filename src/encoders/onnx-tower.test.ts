import { describe, expect, it } from 'vitest';
import type { Logger } from '../logger.js';
import { createSession, sessionOptionsFor } from './onnx-tower.js';

/** A logger that keeps what was warned, for the fallback's reason. */
function recordingLogger(): { logger: Logger; warnings: Array<Record<string, unknown>> } {
  const warnings: Array<Record<string, unknown>> = [];
  const noop = () => undefined;
  const logger = {
    warn: (fields: Record<string, unknown>) => warnings.push(fields),
    info: noop,
    debug: noop,
    error: noop,
    trace: noop,
    fatal: noop,
    child: () => logger,
  } as unknown as Logger;
  return { logger, warnings };
}

describe('sessionOptionsFor', () => {
  it('gives the CPU provider by name, with the thread count and full graph optimization', () => {
    expect(sessionOptionsFor('cpu', { intraOpThreads: 2 })).toEqual({
      executionProviders: ['cpu'],
      graphOptimizationLevel: 'all',
      intraOpNumThreads: 2,
      logSeverityLevel: 3,
    });
    expect(sessionOptionsFor('cpu', { intraOpThreads: 0 })).not.toHaveProperty('intraOpNumThreads');
  });

  it('asks WebGPU for NHWC unless told otherwise, and passes its settings and config entries', () => {
    expect(sessionOptionsFor('webgpu', { intraOpThreads: 0 }).executionProviders).toEqual([{ name: 'webgpu', preferredLayout: 'NHWC' }]);
    const options = sessionOptionsFor('webgpu', {
      intraOpThreads: 0,
      webgpu: { preferredLayout: 'NCHW', validationMode: 'disabled', configEntries: { 'ep.webgpuexecutionprovider.enableGraphCapture': '1' } },
    });
    expect(options.executionProviders).toEqual([{ name: 'webgpu', preferredLayout: 'NCHW', validationMode: 'disabled' }]);
    expect(options.extra).toEqual({ 'ep.webgpuexecutionprovider.enableGraphCapture': '1' });
  });

  it('keeps WebGPU settings off the other providers', () => {
    const options = sessionOptionsFor('cpu', { intraOpThreads: 0, webgpu: { configEntries: { 'ep.webgpuexecutionprovider.enableInt64': '1' } } });
    expect(options).not.toHaveProperty('extra');
    expect(options.executionProviders).toEqual(['cpu']);
  });

  it('turns profiling on only with a file prefix', () => {
    expect(sessionOptionsFor('cpu', { intraOpThreads: 0, profileFilePrefix: '/tmp/p' })).toMatchObject({ enableProfiling: true, profileFilePrefix: '/tmp/p' });
    expect(sessionOptionsFor('cpu', { intraOpThreads: 0 })).not.toHaveProperty('enableProfiling');
  });
});

describe('the provider reported', () => {
  // Where WebGPU has no adapter (no GPU, or no Vulkan loader: CI and the development machines),
  // the session falls back to the CPU and says so; on a GPU host the same test sees WebGPU load.
  it('is the one the tower session was created with when WebGPU is asked for first', async () => {
    const { logger, warnings } = recordingLogger();
    const { session, provider } = await createSession('models/fixture/image.onnx', { providers: ['webgpu', 'cpu'], intraOpThreads: 1, logger });
    try {
      const webgpuWarning = warnings.find((w) => w.provider === 'webgpu');
      if (webgpuWarning) {
        expect(provider).toBe('cpu');
        expect(String(webgpuWarning.reason)).not.toBe('');
      } else {
        expect(provider).toBe('webgpu');
      }
    } finally {
      await session.release();
    }
  });
});
