import { useState } from 'preact/hooks';

/**
 * The props of a drop zone (`<div {...useDropZone(onDrop)}>`): its `drop` class, `over` while
 * something is dragged over it, and `onDrop` with the browser's default handling prevented.
 */
export function useDropZone(onDrop: (data: DataTransfer | null) => void) {
  const [over, setOver] = useState(false);
  return {
    class: `drop${over ? ' over' : ''}`,
    onDragOver: (event: DragEvent) => {
      event.preventDefault();
      setOver(true);
    },
    onDragLeave: () => setOver(false),
    onDrop: (event: DragEvent) => {
      event.preventDefault();
      setOver(false);
      onDrop(event.dataTransfer);
    },
  };
}
