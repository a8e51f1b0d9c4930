import { ApiError } from '../api';

/** An error on the page, never swallowed: what the service said, and what to do for keys and queues. */
export function ErrorBox({ error }: { error: unknown }) {
  if (!error) return null;
  const api = error instanceof ApiError ? error : undefined;
  const message = error instanceof Error ? error.message : String(error);
  let hint: string | undefined;
  if (api?.status === 401) hint = 'This server needs an API key: enter one in the “API key” field at the bottom of the page.';
  else if (api?.status === 403) hint = 'Your API key does not have the scope this action needs.';
  else if (api?.code === 'queue_unavailable') hint = 'Bulk jobs need Redis, and this server has none.';
  else if (api?.status === 429) hint = 'Too many requests for this key: wait a moment and try again.';
  return (
    <div class="error" role="alert">
      <strong>{api ? `Error ${api.status || ''} ${api.code}`.replace('  ', ' ') : 'Error'}</strong>
      <span class="error-message">{message}</span>
      {hint && <span class="error-hint">{hint}</span>}
    </div>
  );
}
