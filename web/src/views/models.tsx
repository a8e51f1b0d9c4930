import type { Shared } from '../app';

export function ModelsView(_: { shared: Shared }) {
  return <section class="view"><p>Models.</p></section>;
}
