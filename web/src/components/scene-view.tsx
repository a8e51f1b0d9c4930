import { useRef, useState } from 'preact/hooks';

export type Box = [number, number, number, number];

export interface SceneObject {
  bbox: Box;
  label: string | null;
  score: number | null;
}

/** An object's label as shown on its hotspot. */
export const objectLabel = (object: SceneObject) => `${object.label ?? 'your box'}${object.score === null ? '' : ` ${Math.round(object.score * 100)}%`}`;

const percent = (value: number, of: number) => `${(100 * value) / of}%`;

/**
 * A scene with its objects as hotspots (buttons over their boxes, in the image's own pixels
 * scaled to how it is shown). With `drawing`, a drag on the image draws a box, handed to `onDraw`
 * in the image's pixels.
 */
export function SceneView(props: {
  src: string;
  size: { width: number; height: number } | undefined;
  objects: SceneObject[];
  selected: number | undefined;
  onSelect: (index: number) => void;
  drawing: boolean;
  onDraw: (box: Box) => void;
}) {
  const { src, size, objects, selected, onSelect, drawing, onDraw } = props;
  const frame = useRef<HTMLDivElement>(null);
  const [drag, setDrag] = useState<{ x0: number; y0: number; x1: number; y1: number }>();

  /** A pointer position in the image's pixels. */
  const toImage = (event: PointerEvent) => {
    const rect = frame.current!.getBoundingClientRect();
    const width = size?.width ?? rect.width;
    const height = size?.height ?? rect.height;
    const x = Math.min(Math.max(event.clientX - rect.left, 0), rect.width);
    const y = Math.min(Math.max(event.clientY - rect.top, 0), rect.height);
    return { x: (x / rect.width) * width, y: (y / rect.height) * height };
  };

  return (
    <div
      ref={frame}
      class="scene"
      style={{ cursor: drawing ? 'crosshair' : 'default' }}
      onPointerDown={(event) => {
        if (!drawing || !size) return;
        event.preventDefault();
        (event.currentTarget as HTMLElement).setPointerCapture(event.pointerId);
        const { x, y } = toImage(event);
        setDrag({ x0: x, y0: y, x1: x, y1: y });
      }}
      onPointerMove={(event) => {
        if (!drag) return;
        const { x, y } = toImage(event);
        setDrag({ ...drag, x1: x, y1: y });
      }}
      onPointerUp={() => {
        if (!drag) return;
        const box: Box = [Math.min(drag.x0, drag.x1), Math.min(drag.y0, drag.y1), Math.max(drag.x0, drag.x1), Math.max(drag.y0, drag.y1)].map(Math.round) as Box;
        setDrag(undefined);
        // A click is not a box: at least 8 pixels each way.
        if (box[2] - box[0] >= 8 && box[3] - box[1] >= 8) onDraw(box);
      }}
    >
      <img src={src} alt="The scene" draggable={false} />
      {size &&
        objects.map((object, i) => {
          const [x1, y1, x2, y2] = object.bbox;
          return (
            <button
              key={`${i}-${object.bbox.join(',')}`}
              type="button"
              class="hotspot"
              aria-pressed={selected === i}
              style={{ left: percent(x1, size.width), top: percent(y1, size.height), width: percent(x2 - x1, size.width), height: percent(y2 - y1, size.height), pointerEvents: drawing ? 'none' : 'auto' }}
              onClick={() => onSelect(i)}
            >
              <span class="hotspot-label">{objectLabel(object)}</span>
            </button>
          );
        })}
      {drag && size && (
        <div
          class="drawn"
          style={{
            left: percent(Math.min(drag.x0, drag.x1), size.width),
            top: percent(Math.min(drag.y0, drag.y1), size.height),
            width: percent(Math.abs(drag.x1 - drag.x0), size.width),
            height: percent(Math.abs(drag.y1 - drag.y0), size.height),
          }}
        />
      )}
    </div>
  );
}
