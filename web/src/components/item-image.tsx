import { useEffect, useState } from 'preact/hooks';
import { authHeaders, currentKey, itemImageUrl } from '../api';

/**
 * An item's kept image. Without a key the browser loads it directly (and caches it); with one it
 * is fetched with the Authorization header, which an <img> cannot send. An item whose image was
 * not kept (the route answers 404) shows a labelled placeholder.
 */
export function ItemImage({ index, id, label }: { index: string; id: string; label?: string | undefined }) {
  const url = itemImageUrl(index, id);
  const keyed = currentKey() !== '';
  const [src, setSrc] = useState<string | undefined>(keyed ? undefined : url);
  const [missing, setMissing] = useState(false);

  useEffect(() => {
    setMissing(false);
    if (!keyed) {
      setSrc(url);
      return;
    }
    const abort = new AbortController();
    let objectUrl: string | undefined;
    setSrc(undefined);
    fetch(url, { headers: authHeaders(), signal: abort.signal })
      .then(async (response) => {
        if (!response.ok) throw new Error(String(response.status));
        objectUrl = URL.createObjectURL(await response.blob());
        setSrc(objectUrl);
      })
      .catch((error: Error) => {
        if (error.name !== 'AbortError') setMissing(true);
      });
    return () => {
      abort.abort();
      if (objectUrl) URL.revokeObjectURL(objectUrl);
    };
  }, [url, keyed]);

  if (missing) {
    return (
      <div class="thumb placeholder" role="img" aria-label={`No image kept for ${id}`}>
        <span>No image kept</span>
      </div>
    );
  }
  if (!src) return <div class="thumb loading" aria-hidden="true" />;
  return <img class="thumb" src={src} alt={label ?? id} loading="lazy" decoding="async" onError={() => setMissing(true)} />;
}
