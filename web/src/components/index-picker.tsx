import type { IndexInfo } from '../types';

/** The index every view works on; the App keeps the choice. */
export function IndexPicker({ id, indexes, value, onChange }: { id: string; indexes: IndexInfo[]; value: string; onChange: (name: string) => void }) {
  return (
    <div class="field">
      <label for={id}>Index</label>
      <select id={id} value={value} onChange={(event) => onChange((event.currentTarget as HTMLSelectElement).value)} disabled={indexes.length === 0}>
        {indexes.length === 0 && <option value="">no index yet</option>}
        {indexes.map((index) => (
          <option key={index.name} value={index.name}>
            {index.name} ({index.count} items)
          </option>
        ))}
      </select>
    </div>
  );
}
