import { useRef } from 'preact/hooks';
import { useDropZone } from './drop-zone.js';

/**
 * A drop zone with a file button: the user drops, chooses (or, where the view listens for it,
 * pastes) an image. Nothing is checked here: the service says what it cannot read.
 */
export function ImagePicker({ id, label, onImage, busy }: { id: string; label: string; onImage: (file: File) => void; busy?: boolean }) {
  const dropZone = useDropZone((data) => {
    const file = data?.files[0];
    if (file) onImage(file);
  });
  const input = useRef<HTMLInputElement>(null);
  return (
    <div {...dropZone}>
      <label for={id} class="button secondary">
        {label}
      </label>
      <input
        id={id}
        ref={input}
        class="visually-hidden"
        type="file"
        accept="image/*"
        disabled={busy}
        onChange={(event) => {
          const file = (event.currentTarget as HTMLInputElement).files?.[0];
          if (file) onImage(file);
          // The same file chosen again searches again.
          if (input.current) input.current.value = '';
        }}
      />
      <span class="drop-hint">or drop an image here</span>
    </div>
  );
}
