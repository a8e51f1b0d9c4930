import type { Shared } from '../app';

export function CatalogView(_: { shared: Shared }) {
  return <section class="view"><p>Catalog.</p></section>;
}
