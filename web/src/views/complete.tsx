import type { Shared } from '../app';

export function CompleteView(_: { shared: Shared; params: URLSearchParams }) {
  return <section class="view"><p>Complete the look.</p></section>;
}
