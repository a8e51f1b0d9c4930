import { useEffect, useState } from 'preact/hooks';
import { call } from '../api';
import type { Shared } from '../app';
import { DataTable } from '../components/data-table';
import { ErrorBox } from '../components/error-box';
import type { Health, Model } from '../types';

/** The loaded models, their versions (alignment heads included) and execution providers. */
export function ModelsView({ shared }: { shared: Shared }) {
  const [models, setModels] = useState<Model[]>();
  const [health, setHealth] = useState<Health>();
  const [error, setError] = useState<unknown>();

  useEffect(() => {
    Promise.all([call<{ data: Model[] }>('/v1/models'), call<Health>('/healthz')])
      .then(([list, status]) => {
        setModels(list.data);
        setHealth(status);
        setError(undefined);
      })
      .catch(setError);
  }, [shared.keyVersion]);

  return (
    <section class="view">
      <ErrorBox error={error} />
      {health && (
        <p class="muted">
          Lookbook {health.version} · up {Math.round(health.uptime_seconds / 60)} min · default model {health.default_model}
        </p>
      )}
      {models && (
        <DataTable label="Loaded models" columns={['Model', 'Versions', 'Dimension', 'Layout', 'Execution providers']}>
          {models.map((model) => (
            <tr key={model.id}>
              <td>
                <strong>{model.id}</strong>
                {model.default && <span class="tag"> default</span>}
                {model.description && <div class="muted">{model.description}</div>}
              </td>
              <td>
                {model.versions.map((version) => (
                  <div key={version.version}>
                    {version.version} <span class="muted">{version.kind === 'base' ? 'base' : `alignment head on ${version.base_version}`}</span>
                  </div>
                ))}
              </td>
              <td>{model.dimension}</td>
              <td>{model.layout}</td>
              <td>
                image: {model.providers.image}
                <br />
                text: {model.providers.text}
              </td>
            </tr>
          ))}
        </DataTable>
      )}
      {health && (
        <div class="panel">
          <h2>Detector</h2>
          {health.detector ? (
            <p>
              {health.detector.path} · {health.detector.labels} labels · {health.detector.input_size} px input · {health.detector.provider}
            </p>
          ) : (
            <p class="muted">No detector configured (LOOKBOOK_DETECTOR): Shop The Look takes drawn boxes only.</p>
          )}
        </div>
      )}
    </section>
  );
}
