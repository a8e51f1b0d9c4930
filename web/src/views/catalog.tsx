import { useEffect, useState } from 'preact/hooks';
import { ApiError, call, isAbort } from '../api';
import type { Shared } from '../app';
import { DataTable } from '../components/data-table';
import { ErrorBox } from '../components/error-box';
import { FolderPicker, isImageFile, type PickedFile } from '../components/folder-picker';
import { ItemImage } from '../components/item-image';
import { JobProgress } from '../components/job-progress';
import type { IndexInfo, Item, Job, Model } from '../types';
import { useRequest } from '../use-request';

const ITEMS_PER_PAGE = 24;
/** Files per request when appending to a job (the CLI sends 64; smaller keeps progress moving). */
const FILES_PER_REQUEST = 32;

/** The item fields of a file: its path under the folder as id, its folder as category when asked. */
function itemFields(picked: PickedFile, categoryFromFolder: boolean) {
  const parts = picked.path.split('/');
  const folder = parts.length > 1 ? parts[parts.length - 2] : undefined;
  return { id: picked.path, ...(categoryFromFolder && folder ? { category: folder } : {}) };
}

function batches<T>(list: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < list.length; i += size) out.push(list.slice(i, i + size));
  return out;
}

function formOf(files: PickedFile[], categoryFromFolder: boolean): FormData {
  const form = new FormData();
  for (const picked of files) form.append('file', picked.file, picked.file.name);
  form.append('items', JSON.stringify(files.map((picked) => itemFields(picked, categoryFromFolder))));
  return form;
}

function CreateIndex({ onCreated }: { onCreated: (name: string) => void }) {
  const [name, setName] = useState('');
  const [model, setModel] = useState('');
  const [models, setModels] = useState<Model[]>([]);
  const [error, setError] = useState<unknown>();
  useEffect(() => {
    call<{ data: Model[] }>('/v1/models')
      .then(({ data }) => setModels(data))
      .catch(() => setModels([]));
  }, []);
  return (
    <form
      class="panel"
      onSubmit={async (event) => {
        event.preventDefault();
        setError(undefined);
        try {
          const created = await call<IndexInfo>('/v1/indexes', { json: { name: name.trim(), ...(model && { model }) } });
          setName('');
          onCreated(created.name);
        } catch (failure) {
          setError(failure);
        }
      }}
    >
      <h2>New index</h2>
      <div class="toolbar">
        <div class="field grow">
          <label for="new-index-name">Name</label>
          <input id="new-index-name" type="text" required pattern="[a-z0-9][a-z0-9_\-]{0,62}" title="lower-case letters, digits, _ and -" value={name} onInput={(event) => setName((event.currentTarget as HTMLInputElement).value)} />
        </div>
        <div class="field">
          <label for="new-index-model">Model</label>
          <select id="new-index-model" value={model} onChange={(event) => setModel((event.currentTarget as HTMLSelectElement).value)}>
            <option value="">default model</option>
            {models.map((entry) => (
              <option key={entry.id} value={entry.id}>
                {entry.id} {entry.version}
              </option>
            ))}
          </select>
        </div>
        <button type="submit">Create</button>
      </div>
      <ErrorBox error={error} />
    </form>
  );
}

function UploadFolder({ index, onAdded }: { index: string; onAdded: () => void }) {
  const [files, setFiles] = useState<PickedFile[]>([]);
  const [skipped, setSkipped] = useState(0);
  const [categoryFromFolder, setCategoryFromFolder] = useState(true);
  const [jobId, setJobId] = useState<string>();
  const [direct, setDirect] = useState<{ done: number; failed: number; total: number }>();
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);

  const choose = (picked: PickedFile[]) => {
    const images = picked.filter((entry) => isImageFile(entry.file));
    setFiles(images);
    setSkipped(picked.length - images.length);
    setJobId(undefined);
    setDirect(undefined);
    setError(undefined);
  };

  /** A bulk job: open it, append the files in requests, close it; its progress streams meanwhile. */
  const asJob = async () => {
    setBusy(true);
    setError(undefined);
    try {
      const job = await call<Job>('/v1/jobs', { json: { type: 'ingest', index, open: true } });
      setJobId(job.id);
      for (const batch of batches(files, FILES_PER_REQUEST)) await call(`/v1/jobs/${job.id}/items`, { form: formOf(batch, categoryFromFolder) });
      await call(`/v1/jobs/${job.id}/close`, { method: 'POST' });
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  };

  /** Without Redis: the files go straight to the index, a request at a time. */
  const directly = async () => {
    setBusy(true);
    setError(undefined);
    const state = { done: 0, failed: 0, total: files.length };
    setDirect({ ...state });
    try {
      for (const batch of batches(files, 16)) {
        const answer = await call<{ succeeded: number; failed: number }>(`/v1/indexes/${encodeURIComponent(index)}/items/upload`, { form: formOf(batch, categoryFromFolder) });
        state.done += answer.succeeded;
        state.failed += answer.failed;
        setDirect({ ...state });
      }
      onAdded();
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  };

  const queueDown = error instanceof ApiError && error.code === 'queue_unavailable';
  return (
    <div class="panel">
      <h2>Add images to {index}</h2>
      <FolderPicker onFiles={choose} disabled={busy} />
      <label class="check">
        <input type="checkbox" checked={categoryFromFolder} onChange={() => setCategoryFromFolder(!categoryFromFolder)} />
        Category from each image's folder name
      </label>
      {files.length > 0 && (
        <div class="toolbar">
          <span>
            {files.length} image{files.length === 1 ? '' : 's'}
            {skipped > 0 && <span class="muted"> ({skipped} other files left out)</span>}
          </span>
          <button type="button" disabled={busy} onClick={asJob}>
            Upload as a bulk job
          </button>
          {queueDown && (
            <button type="button" class="secondary" disabled={busy} onClick={directly}>
              Add them directly instead
            </button>
          )}
        </div>
      )}
      <ErrorBox error={error} />
      {jobId && <JobProgress jobId={jobId} onEnd={onAdded} />}
      {direct && (
        <div class="job" aria-live="polite">
          <div>
            Added {direct.done} of {direct.total}
            {direct.failed > 0 ? ` (${direct.failed} failed)` : ''}
          </div>
          <progress max={Math.max(direct.total, 1)} value={direct.done + direct.failed} aria-label="Upload progress" />
        </div>
      )}
    </div>
  );
}

function ItemBrowser({ index, version, onChanged }: { index: string; version: number; onChanged: () => void }) {
  const [cursors, setCursors] = useState<(string | undefined)[]>([undefined]);
  const [page, setPage] = useState<{ data: Item[]; next_after: string | null }>();
  const [error, setError] = useState<unknown>();
  const [reload, setReload] = useState(0);
  const after = cursors[cursors.length - 1];

  useEffect(() => setCursors([undefined]), [index]);
  useEffect(() => {
    const abort = new AbortController();
    const query = new URLSearchParams({ limit: String(ITEMS_PER_PAGE), ...(after && { after }) });
    call<{ data: Item[]; next_after: string | null }>(`/v1/indexes/${encodeURIComponent(index)}/items?${query}`, { signal: abort.signal })
      .then((answer) => {
        setPage(answer);
        setError(undefined);
      })
      .catch((failure) => !isAbort(failure) && setError(failure));
    return () => abort.abort();
  }, [index, after, reload, version]);

  const remove = async (id: string) => {
    if (!confirm(`Delete ${id} from ${index}?`)) return;
    try {
      await call(`/v1/indexes/${encodeURIComponent(index)}/items/${encodeURIComponent(id)}`, { method: 'DELETE' });
      setReload((n) => n + 1);
      onChanged();
    } catch (failure) {
      setError(failure);
    }
  };

  return (
    <div class="panel">
      <h2>Items of {index}</h2>
      <ErrorBox error={error} />
      {page && page.data.length === 0 && <p class="muted">No items yet.</p>}
      {page && page.data.length > 0 && (
        <ul class="grid" aria-label={`Items of ${index}`}>
          {page.data.map((item) => (
            <li class="card" key={item.id}>
              <ItemImage index={index} id={item.id} />
              <div class="card-body">
                <span class="card-id" title={item.id}>
                  {item.id}
                </span>
                {item.category && <span class="tag">{item.category}</span>}
                <span class="attrs">
                  {item.model.id} {item.model.version}
                </span>
              </div>
              <div class="card-actions">
                <button type="button" class="link" onClick={() => remove(item.id)} aria-label={`Delete ${item.id}`}>
                  Delete
                </button>
              </div>
            </li>
          ))}
        </ul>
      )}
      <nav class="pager" aria-label="Item pages">
        <button type="button" class="secondary" disabled={cursors.length === 1} onClick={() => setCursors(cursors.slice(0, -1))}>
          Previous
        </button>
        <span>Page {cursors.length}</span>
        <button type="button" class="secondary" disabled={!page?.next_after} onClick={() => page?.next_after && setCursors([...cursors, page.next_after])}>
          Next
        </button>
      </nav>
    </div>
  );
}

const RECENT_JOBS = 10;
/** How often the list is asked again while a job is going, and otherwise (jobs started elsewhere). */
const REFRESH_MS = { going: 2_000, idle: 10_000 };
const active = (job: Job) => job.state === 'queued' || job.state === 'running';

/**
 * The index's latest jobs, from any client (the CLI, the API, this page): kind, state, progress.
 * Listed again when the catalog changes, and while on screen every 2 s when one of them is still
 * going, else every 10 s. Nothing is shown without jobs, or when the service runs without a queue.
 */
function RecentJobs({ index, version }: { index: string; version: number }) {
  const [tick, setTick] = useState(0);
  const { data, error } = useRequest<{ data: Job[] }>(
    (signal) => call(`/v1/jobs?${new URLSearchParams({ index, limit: String(RECENT_JOBS) })}`, { signal }),
    [index, version, tick],
  );
  const jobs = data?.data ?? [];
  const going = jobs.some(active);
  useEffect(() => {
    const timer = setTimeout(() => setTick((n) => n + 1), going ? REFRESH_MS.going : REFRESH_MS.idle);
    return () => clearTimeout(timer);
  }, [going, data, error]);
  if (error instanceof ApiError && error.code === 'queue_unavailable') return null;
  if (!error && jobs.length === 0) return null;
  return (
    <div class="panel">
      <h2>Recent jobs on {index}</h2>
      <ErrorBox error={error} />
      <DataTable label={`Recent jobs on ${index}`} columns={['Job', 'Kind', 'State', 'Items', 'Started']}>
        {jobs.map((job) => (
              <tr key={job.id}>
                <td>{job.id}</td>
                <td>{job.type}</td>
                <td>
                  {job.state}
                  {job.error && <span class="error-message"> {job.error.message}</span>}
                </td>
                <td>
                  {job.progress.done} of {job.progress.total}
                  {job.progress.failed > 0 ? ` (${job.progress.failed} failed)` : ''}
                </td>
                <td>{new Date(job.created_at).toLocaleString()}</td>
              </tr>
            ))}
      </DataTable>
    </div>
  );
}

/** Indexes (with their model and version), a new one, a folder upload as a job, the items. */
export function CatalogView({ shared }: { shared: Shared }) {
  const { indexes, index, setIndex, reloadIndexes } = shared;
  const [error, setError] = useState<unknown>();
  const [version, setVersion] = useState(0);
  const changed = () => {
    reloadIndexes();
    setVersion((n) => n + 1);
  };

  const removeIndex = async (name: string) => {
    if (!confirm(`Delete the index ${name} and all its items?`)) return;
    try {
      await call(`/v1/indexes/${encodeURIComponent(name)}`, { method: 'DELETE' });
      reloadIndexes();
    } catch (failure) {
      setError(failure);
    }
  };

  return (
    <section class="view">
      <div class="panel">
        <h2>Indexes</h2>
        <ErrorBox error={error} />
        {indexes.length === 0 ? (
          <p class="muted">No index yet.</p>
        ) : (
          <DataTable label="Indexes" columns={['Name', 'Model', 'Version', 'Items', 'Actions']}>
            {indexes.map((entry) => (
              <tr key={entry.name} aria-selected={entry.name === index}>
                <td>{entry.name}</td>
                <td>
                  {entry.model.id}
                  {!entry.model_loaded && <span class="muted"> (not loaded)</span>}
                </td>
                <td>{entry.model.version}</td>
                <td>{entry.count}</td>
                <td>
                  <button type="button" class="link" onClick={() => setIndex(entry.name)} aria-label={`Open ${entry.name}`} aria-pressed={entry.name === index}>
                    Open
                  </button>{' '}
                  <button type="button" class="link" onClick={() => removeIndex(entry.name)} aria-label={`Delete index ${entry.name}`}>
                    Delete
                  </button>
                </td>
              </tr>
            ))}
          </DataTable>
        )}
      </div>
      {index && <UploadFolder index={index} onAdded={changed} />}
      {index && <RecentJobs index={index} version={version} />}
      {index && <ItemBrowser index={index} version={version} onChanged={reloadIndexes} />}
      <CreateIndex
        onCreated={(name) => {
          setIndex(name);
          reloadIndexes();
        }}
      />
    </section>
  );
}
