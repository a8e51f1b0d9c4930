import { useEffect, useRef, useState } from 'preact/hooks';

export type Box = [number, number, number, number];

export interface SceneObject {
  bbox: Box;
  label: string | null;
  score: number | null;
}

/** An object's label as shown on its hotspot. */
export const objectLabel = (object: SceneObject) => `${object.label ?? 'your box'}${object.score === null ? '' : ` ${Math.round(object.score * 100)}%`}`;

const percent = (value: number, of: number) => `${(100 * value) / of}%`;

/** Where a keyboard-drawn box starts: the middle half of the image. */
const startBox = (size: { width: number; height: number }): Box => [size.width / 4, size.height / 4, (3 * size.width) / 4, (3 * size.height) / 4];

/**
 * The box after a key press, or undefined for a key that does not draw: arrows move it by 1/32
 * of the image, Shift + arrows move its right or bottom edge (never below two steps), inside the image.
 */
function moveBox(box: Box, key: string, resize: boolean, size: { width: number; height: number }): Box | undefined {
  const dx = size.width / 32;
  const dy = size.height / 32;
  const step = { ArrowLeft: [-dx, 0], ArrowRight: [dx, 0], ArrowUp: [0, -dy], ArrowDown: [0, dy] }[key];
  if (!step) return undefined;
  const [x1, y1, x2, y2] = box;
  if (resize) return [x1, y1, Math.min(size.width, Math.max(x1 + 2 * dx, x2 + step[0]!)), Math.min(size.height, Math.max(y1 + 2 * dy, y2 + step[1]!))];
  const mx = Math.min(Math.max(step[0]!, -x1), size.width - x2);
  const my = Math.min(Math.max(step[1]!, -y1), size.height - y2);
  return [x1 + mx, y1 + my, x2 + mx, y2 + my];
}

const share = (from: number, to: number, of: number) => `${Math.round((100 * from) / of)}% to ${Math.round((100 * to) / of)}%`;

/**
 * A scene with its objects as hotspots (buttons over their boxes, in the image's own pixels
 * scaled to how it is shown). With `drawing`, a drag on the image draws a box, handed to `onDraw`
 * in the image's pixels; or, from the keyboard (the scene takes the focus), a box starting in the
 * middle is moved with the arrows, resized with Shift + arrows, searched with Enter; Escape calls
 * `onCancel`.
 */
export function SceneView(props: {
  src: string;
  size: { width: number; height: number } | undefined;
  objects: SceneObject[];
  selected: number | undefined;
  onSelect: (index: number) => void;
  drawing: boolean;
  onDraw: (box: Box) => void;
  onCancel: () => void;
}) {
  const { src, size, objects, selected, onSelect, drawing, onDraw, onCancel } = props;
  const frame = useRef<HTMLDivElement>(null);
  const [drag, setDrag] = useState<{ x0: number; y0: number; x1: number; y1: number }>();
  const [keyBox, setKeyBox] = useState<Box>();

  useEffect(() => {
    setKeyBox(drawing && size ? startBox(size) : undefined);
    if (drawing) frame.current?.focus();
  }, [drawing, size?.width, size?.height]);

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
      tabIndex={drawing ? 0 : undefined}
      aria-label={drawing ? 'Scene: drag a box, or move the box with the arrow keys, resize it with Shift and the arrow keys, search it with Enter; Escape stops drawing' : undefined}
      style={{ cursor: drawing ? 'crosshair' : 'default' }}
      onKeyDown={(event) => {
        if (!drawing || !size || !keyBox) return;
        if (event.key === 'Escape') {
          event.preventDefault();
          onCancel();
          return;
        }
        if (event.key === 'Enter') {
          event.preventDefault();
          onDraw(keyBox.map(Math.round) as Box);
          return;
        }
        const moved = moveBox(keyBox, event.key, event.shiftKey, size);
        if (!moved) return;
        event.preventDefault();
        setKeyBox(moved);
      }}
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
      {drawing && !drag && keyBox && size && (
        <>
          <div
            class="drawn"
            style={{ left: percent(keyBox[0], size.width), top: percent(keyBox[1], size.height), width: percent(keyBox[2] - keyBox[0], size.width), height: percent(keyBox[3] - keyBox[1], size.height) }}
          />
          <p class="visually-hidden" aria-live="polite">
            Box {share(keyBox[0], keyBox[2], size.width)} across, {share(keyBox[1], keyBox[3], size.height)} down
          </p>
        </>
      )}
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
