import { useCallback, useEffect, useState } from 'preact/hooks';
import { call, currentKey, isAbort, onKeyChange, saveKey } from './api';
import { ErrorBox } from './components/error-box';
import type { IndexInfo } from './types';
import { CatalogView } from './views/catalog';
import { CompleteView } from './views/complete';
import { ModelsView } from './views/models';
import { SearchView } from './views/search';
import { ShopView } from './views/shop';

const VIEWS = [
  { path: '', title: 'Search' },
  { path: 'shop', title: 'Shop the look' },
  { path: 'complete', title: 'Complete the look' },
  { path: 'catalog', title: 'Catalog' },
  { path: 'models', title: 'Models' },
] as const;

export interface Route {
  view: string;
  params: URLSearchParams;
}

function parseHash(): Route {
  const [path = '', query = ''] = location.hash.replace(/^#\/?/, '').split('?');
  return { view: path, params: new URLSearchParams(query) };
}

export const navigate = (view: string, params: Record<string, string> = {}) => {
  const query = new URLSearchParams(params).toString();
  location.hash = `#/${view}${query ? `?${query}` : ''}`;
};

const INDEX_STORAGE = 'lookbook.index';

/** localStorage, where the browser allows it (private modes may not). */
function remembered(key: string): string {
  try {
    return localStorage.getItem(key) ?? '';
  } catch {
    return '';
  }
}

function remember(key: string, value: string): void {
  try {
    localStorage.setItem(key, value);
  } catch {
    // Not kept: the choice lasts until the page is left.
  }
}

/** What every view shares: the indexes, the one chosen, and a way to reload them. */
export interface Shared {
  indexes: IndexInfo[];
  index: string;
  setIndex: (name: string) => void;
  reloadIndexes: () => void;
  /** Bumped when the API key changes, so views load again. */
  keyVersion: number;
}

function KeyField() {
  const [draft, setDraft] = useState(currentKey());
  const [saved, setSaved] = useState(currentKey() !== '');
  return (
    <form
      class="key-form"
      onSubmit={(event) => {
        event.preventDefault();
        saveKey(draft.trim());
        setSaved(draft.trim() !== '');
      }}
    >
      <label for="api-key">API key</label>
      <input id="api-key" type="password" autocomplete="off" spellcheck={false} placeholder="lbk_…" value={draft} onInput={(event) => setDraft((event.currentTarget as HTMLInputElement).value)} />
      <button type="submit" class="secondary">
        Save key
      </button>
      {saved && (
        <button
          type="button"
          class="link"
          onClick={() => {
            setDraft('');
            saveKey('');
            setSaved(false);
          }}
        >
          Forget key
        </button>
      )}
      <span class="muted">{saved ? 'Sent as “Authorization: Bearer”, kept in this browser only.' : 'Only needed when the server has API keys.'}</span>
    </form>
  );
}

export function App() {
  const [route, setRoute] = useState(parseHash);
  const [indexes, setIndexes] = useState<IndexInfo[]>([]);
  const [index, setIndexState] = useState(() => remembered(INDEX_STORAGE));
  const [indexError, setIndexError] = useState<unknown>();
  const [keyVersion, setKeyVersion] = useState(0);
  const [reloads, setReloads] = useState(0);

  useEffect(() => {
    const listener = () => setRoute(parseHash());
    window.addEventListener('hashchange', listener);
    const unsubscribe = onKeyChange(() => setKeyVersion((v) => v + 1));
    return () => {
      window.removeEventListener('hashchange', listener);
      unsubscribe();
    };
  }, []);

  const setIndex = useCallback((name: string) => {
    setIndexState(name);
    remember(INDEX_STORAGE, name);
  }, []);

  useEffect(() => {
    const abort = new AbortController();
    call<{ data: IndexInfo[] }>('/v1/indexes', { signal: abort.signal })
      .then(({ data }) => {
        setIndexError(undefined);
        setIndexes(data);
        // Preselect: the one chosen before if it still exists, else the first.
        setIndexState((chosen) => (data.some((entry) => entry.name === chosen) ? chosen : (data[0]?.name ?? '')));
      })
      .catch((error) => {
        if (!isAbort(error)) setIndexError(error);
      });
    return () => abort.abort();
  }, [keyVersion, reloads]);

  const shared: Shared = { indexes, index, setIndex, reloadIndexes: () => setReloads((n) => n + 1), keyVersion };
  const view = VIEWS.some((entry) => entry.path === route.view) ? route.view : '';
  const title = VIEWS.find((entry) => entry.path === view)!.title;

  useEffect(() => {
    document.title = `${title} · Lookbook`;
  }, [title]);

  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <a class="brand" href="#/">
          <img src="/favicon.svg" alt="" width="24" height="24" /> Lookbook
        </a>
        <nav aria-label="Views">
          {VIEWS.map((entry) => (
            <a key={entry.path} href={`#/${entry.path}`} aria-current={entry.path === view ? 'page' : undefined}>
              {entry.title}
            </a>
          ))}
        </nav>
      </header>
      <main id="main">
        <h1 class="visually-hidden">{title}</h1>
        {indexError !== undefined && <ErrorBox error={indexError} />}
        {view === '' && <SearchView shared={shared} />}
        {view === 'shop' && <ShopView shared={shared} />}
        {view === 'complete' && <CompleteView shared={shared} params={route.params} />}
        {view === 'catalog' && <CatalogView shared={shared} />}
        {view === 'models' && <ModelsView shared={shared} />}
      </main>
      <footer class="bottom">
        <KeyField />
        <span class="muted">
          API: <a href="/docs">/docs</a> · <a href="/openapi.json">openapi.json</a>
        </span>
      </footer>
    </>
  );
}
