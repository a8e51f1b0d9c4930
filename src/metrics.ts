import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** The service's Prometheus metrics, on a registry of their own (no global state). */
/** Prometheus metrics; also the encoders' observer (`EncoderObserver`), by shape: the base layer imports nothing above it. */
export class Metrics {
  readonly registry = new Registry();
  readonly httpRequests = new Counter({
    name: 'lookbook_http_requests_total',
    help: 'HTTP requests answered, by route and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [this.registry],
  });
  readonly httpDuration = new Histogram({
    name: 'lookbook_http_request_duration_seconds',
    help: 'Time to answer HTTP requests',
    labelNames: ['method', 'route'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  readonly batchSize = new Histogram({
    name: 'lookbook_encoder_batch_size',
    help: 'Inputs per encoder run',
    labelNames: ['model', 'tower'] as const,
    buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
    registers: [this.registry],
  });
  readonly encoderSeconds = new Histogram({
    name: 'lookbook_encoder_run_seconds',
    help: 'Time of one encoder run (a whole batch)',
    labelNames: ['model', 'tower'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });

  readonly indexSearches = new Counter({
    name: 'lookbook_index_searches_total',
    help: 'Index searches answered through POST /v1/indexes/{name}/search and /search/upload, by how the candidates were found (hnsw-from-top: the walk guard found a graph walk from the sampled codes nearest to the query short and one from the top of the graph went right; hnsw-seeded: the same the other way round, where walks start from the top; hnsw-widened: the second walk fell short too, and a walk at four times the ef went right; exact-after-hnsw: that one fell short as well, and every code was scanned)',
    labelNames: ['strategy'] as const,
    registers: [this.registry],
  });

  constructor(queueDepth?: () => number) {
    collectDefaultMetrics({ register: this.registry, prefix: 'lookbook_' });
    if (queueDepth) {
      new Gauge({
        name: 'lookbook_encoder_queue_depth',
        help: 'Inputs waiting for an encoder run',
        registers: [this.registry],
        collect() {
          this.set(queueDepth());
        },
      });
    }
  }

  onBatch(model: string, tower: 'image' | 'text', size: number, milliseconds: number): void {
    this.batchSize.observe({ model, tower }, size);
    this.encoderSeconds.observe({ model, tower }, milliseconds / 1000);
  }
}
