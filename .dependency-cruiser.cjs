/**
 * One-way imports between the layers of src/ (see ../shared/DESIGN.md), checked by `npm run lint`:
 *
 *   main.ts, server.ts, cli/            assemble the process
 *   api/                                HTTP: routes, the contract, auth
 *   services/                           what the routes and job handlers do
 *   queue/                              BullMQ jobs, workers, the owner protocol
 *   encoders/, index/, detection/       models, vector indexes, the detector
 *   alignment/, media/                  projection heads, image fetching and sniffing
 *   config.ts, errors.ts, logger.ts, metrics.ts, util/
 *
 * A layer may import any layer below it, never one above; no cycles anywhere. Type-only imports
 * count too.
 */
const above = (...dirs) => [`^src/(${[...dirs, 'cli'].join('|')})/`, '^src/(server|main)\\.ts$'].join('|');

module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', comment: 'Import cycles make start-up order and tests fragile.', from: {}, to: { circular: true } },
    {
      name: 'base-imports-nothing-above',
      severity: 'error',
      from: { path: '^src/((config|errors|logger|metrics)\\.ts$|util/)' },
      to: { path: above('api', 'services', 'queue', 'encoders', 'index', 'detection', 'alignment', 'media') },
    },
    { name: 'core-below-queue-services-api', severity: 'error', from: { path: '^src/(alignment|media)/' }, to: { path: above('api', 'services', 'queue', 'encoders', 'index', 'detection') } },
    { name: 'models-and-indexes-below-queue-services-api', severity: 'error', from: { path: '^src/(encoders|index|detection)/' }, to: { path: above('api', 'services', 'queue') } },
    { name: 'encoders-below-detection', severity: 'error', from: { path: '^src/encoders/' }, to: { path: '^src/detection/' } },
    { name: 'queue-below-services-api', severity: 'error', from: { path: '^src/queue/' }, to: { path: above('api', 'services') } },
    { name: 'services-below-api', severity: 'error', from: { path: '^src/services/' }, to: { path: above('api') } },
    { name: 'api-below-assembly', severity: 'error', from: { path: '^src/api/' }, to: { path: above() } },
    { name: 'not-to-tests', severity: 'error', comment: 'Production code never imports tests.', from: { path: '^src/', pathNot: '\\.test\\.ts$' }, to: { path: '(^test/|\\.test\\.ts$)' } },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    exclude: { path: '^(dist|web|node_modules)/' },
  },
};
