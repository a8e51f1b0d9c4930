import { useEffect, useMemo, useState } from 'preact/hooks';
import { call } from '../api';
import type { Shared } from '../app';
import { navigate } from '../app';
import { ErrorBox } from '../components/error-box';
import { ImagePicker } from '../components/image-picker';
import { IndexPicker } from '../components/index-picker';
import { ResultGrid } from '../components/result-grid';
import type { FacetScalar, Facets, SearchResults } from '../types';
import { useRequest } from '../use-request';

const PAGE_SIZE = 24;
/** The service's largest `limit`: pages go as far as it. */
const MAX_LIMIT = 1000;

type Query = { kind: 'text'; text: string } | { kind: 'image'; file: File; preview: string } | { kind: 'item'; id: string };

interface Selection {
  categories: string[];
  attributes: Record<string, FacetScalar[]>;
}
const NO_SELECTION: Selection = { categories: [], attributes: {} };

function filterOf(selection: Selection) {
  const attributes = Object.fromEntries(Object.entries(selection.attributes).filter(([, values]) => values.length > 0));
  const filter: { category?: string[]; attributes?: Record<string, FacetScalar[]> } = {};
  if (selection.categories.length > 0) filter.category = selection.categories;
  if (Object.keys(attributes).length > 0) filter.attributes = attributes;
  return Object.keys(filter).length > 0 ? filter : undefined;
}

const toggle = <T,>(list: T[], value: T) => (list.includes(value) ? list.filter((entry) => entry !== value) : [...list, value]);

function FacetPanel({ facets, selection, onChange }: { facets: Facets; selection: Selection; onChange: (selection: Selection) => void }) {
  // Open beside the results on a wide screen; folded above them on a phone.
  const [open] = useState(() => window.matchMedia('(min-width: 760px)').matches);
  if (facets.categories.length === 0 && facets.attributes.length === 0) return null;
  return (
    <details class="facets" open={open}>
      <summary>Filters</summary>
      {facets.categories.length > 0 && (
        <fieldset>
          <legend>Category</legend>
          {facets.categories.map(({ value, count }) => (
            <label class="check" key={value}>
              <input type="checkbox" checked={selection.categories.includes(value)} onChange={() => onChange({ ...selection, categories: toggle(selection.categories, value) })} />
              {value} <span class="muted">{count}</span>
            </label>
          ))}
        </fieldset>
      )}
      {facets.attributes.map(({ name, values }) => (
        <fieldset key={name}>
          <legend>{name}</legend>
          {values.slice(0, 30).map(({ value, count }) => (
            <label class="check" key={String(value)}>
              <input
                type="checkbox"
                checked={(selection.attributes[name] ?? []).includes(value)}
                onChange={() => onChange({ ...selection, attributes: { ...selection.attributes, [name]: toggle(selection.attributes[name] ?? [], value) } })}
              />
              {String(value)} <span class="muted">{count}</span>
            </label>
          ))}
        </fieldset>
      ))}
      {(selection.categories.length > 0 || Object.values(selection.attributes).some((values) => values.length > 0)) && (
        <button type="button" class="link" onClick={() => onChange(NO_SELECTION)}>
          Clear filters
        </button>
      )}
    </details>
  );
}

/** The landing view: search an index by text, image or item, with facet filters and pages. */
export function SearchView({ shared }: { shared: Shared }) {
  const { index, indexes, setIndex, keyVersion } = shared;
  const [text, setText] = useState('');
  const [query, setQuery] = useState<Query>();
  const [selection, setSelection] = useState<Selection>(NO_SELECTION);
  const [page, setPage] = useState(0);
  const [facets, setFacets] = useState<Facets>();

  const runQuery = (next: Query) => {
    setPage(0);
    setQuery(next);
  };
  const searchImage = (file: File) => runQuery({ kind: 'image', file, preview: URL.createObjectURL(file) });

  // A pasted image searches, wherever the focus is in this view.
  useEffect(() => {
    const onPaste = (event: ClipboardEvent) => {
      const file = [...(event.clipboardData?.files ?? [])].find((entry) => entry.type.startsWith('image/'));
      if (file) {
        event.preventDefault();
        searchImage(file);
      }
    };
    window.addEventListener('paste', onPaste);
    return () => window.removeEventListener('paste', onPaste);
  }, []);

  useEffect(() => () => {
    if (query?.kind === 'image') URL.revokeObjectURL(query.preview);
  }, [query]);

  useEffect(() => {
    setSelection(NO_SELECTION);
    setFacets(undefined);
    if (!index) return;
    const abort = new AbortController();
    call<Facets>(`/v1/indexes/${encodeURIComponent(index)}/facets`, { signal: abort.signal })
      .then(setFacets)
      .catch(() => setFacets(undefined));
    return () => abort.abort();
  }, [index, keyVersion]);

  const filter = useMemo(() => filterOf(selection), [selection]);

  const limit = Math.min((page + 1) * PAGE_SIZE, MAX_LIMIT);
  // The previous page stays on screen while the next one loads.
  const { data: results, error, busy } = useRequest<SearchResults>(
    query && index
      ? (signal) => {
          const path = `/v1/indexes/${encodeURIComponent(index)}/search`;
          if (query.kind === 'image') {
            const form = new FormData();
            form.append('file', query.file, query.file.name || 'pasted-image');
            form.append('limit', String(limit));
            if (filter) form.append('filter', JSON.stringify(filter));
            return call(`${path}/upload`, { form, signal });
          }
          const q = query.kind === 'text' ? { text: query.text } : { item_id: query.id };
          return call(path, { json: { query: q, limit, ...(filter && { filter }) }, signal });
        }
      : undefined,
    [query, index, filter, page, keyVersion],
  );
  const shown = results?.data.slice(page * PAGE_SIZE) ?? [];
  const hasNext = results !== undefined && results.data.length === limit && limit < MAX_LIMIT;

  return (
    <section class="view search-view">
      <form
        class="search-bar"
        role="search"
        onSubmit={(event) => {
          event.preventDefault();
          const trimmed = text.trim();
          if (trimmed) runQuery({ kind: 'text', text: trimmed });
        }}
      >
        <div class="field grow">
          <label for="query">Search</label>
          <input
            id="query"
            type="text"
            enterkeyhint="search"
            autocomplete="off"
            placeholder="Describe what you look for, e.g. red sneakers"
            value={text}
            onInput={(event) => setText((event.currentTarget as HTMLInputElement).value)}
          />
        </div>
        <IndexPicker id="search-index" indexes={indexes} value={index} onChange={setIndex} />
        <button type="submit" disabled={!index || busy}>
          Search
        </button>
      </form>
      <ImagePicker id="search-image" label="Search by image" onImage={searchImage} busy={busy} />
      {indexes.length === 0 && (
        <p class="muted">
          No index yet: create one and add images on the <a href="#/catalog">Catalog</a> page.
        </p>
      )}

      {query && (
        <p class="query-summary" aria-live="polite">
          {query.kind === 'text' && <>Results for “{query.text}”</>}
          {query.kind === 'image' && (
            <>
              <img class="query-thumb" src={query.preview} alt="Query image" /> Results for your image
            </>
          )}
          {query.kind === 'item' && <>More like {query.id}</>}
          {results && !busy && (
            <span class="muted">
              {' '}
              · {results.data.length} shown in {results.took_ms.toFixed(1)} ms ({results.strategy})
            </span>
          )}
          {busy && <span class="muted"> · searching…</span>}
        </p>
      )}
      <ErrorBox error={error} />

      <div class="with-facets">
        {facets && <FacetPanel facets={facets} selection={selection} onChange={(next) => (setSelection(next), setPage(0))} />}
        <div class="results">
          {results && shown.length === 0 && !busy && <p class="muted">Nothing found{filter ? ' with these filters' : ''}.</p>}
          {shown.length > 0 && (
            <ResultGrid
              index={index}
              hits={shown}
              onMoreLike={(id) => runQuery({ kind: 'item', id })}
              onComplete={(id) => navigate('complete', { index, item: id })}
            />
          )}
          {results && (page > 0 || hasNext) && (
            <nav class="pager" aria-label="Pages">
              <button type="button" class="secondary" disabled={page === 0 || busy} onClick={() => setPage(page - 1)}>
                Previous
              </button>
              <span>Page {page + 1}</span>
              <button type="button" class="secondary" disabled={!hasNext || busy} onClick={() => setPage(page + 1)}>
                Next
              </button>
            </nav>
          )}
        </div>
      </div>
    </section>
  );
}
