import { useEffect, useRef } from 'preact/hooks';
import { useDropZone } from './drop-zone.js';

/** A file with the path it had under the dropped or chosen folder (`shoes/a.jpg`). */
export interface PickedFile {
  file: File;
  path: string;
}

const IMAGE_NAME = /\.(jpe?g|png|webp|gif|avif|tiff?|bmp)$/i;
export const isImageFile = (file: File) => file.type.startsWith('image/') || IMAGE_NAME.test(file.name);

/** Every file under a dropped directory entry (the File System API of drag and drop). */
async function walk(entry: FileSystemEntry, prefix: string, out: PickedFile[]): Promise<void> {
  if (entry.isFile) {
    const file = await new Promise<File>((resolve, reject) => (entry as FileSystemFileEntry).file(resolve, reject));
    out.push({ file, path: `${prefix}${file.name}` });
    return;
  }
  const reader = (entry as FileSystemDirectoryEntry).createReader();
  // readEntries answers in batches until it answers none.
  for (;;) {
    const batch = await new Promise<FileSystemEntry[]>((resolve, reject) => reader.readEntries(resolve, reject));
    if (batch.length === 0) break;
    for (const child of batch) await walk(child, `${prefix}${entry.name}/`, out);
  }
}

/** Paths under the top folder: `photos/shoes/a.jpg` → `shoes/a.jpg`. */
const underTop = (path: string) => (path.includes('/') ? path.slice(path.indexOf('/') + 1) : path);

/** Drop a folder (or files), or choose one: the files come back with their paths under it. */
export function FolderPicker({ onFiles, disabled }: { onFiles: (files: PickedFile[]) => void; disabled?: boolean }) {
  const folderInput = useRef<HTMLInputElement>(null);
  useEffect(() => {
    // Not in the DOM typings Preact uses: set it on the element.
    if (folderInput.current) (folderInput.current as HTMLInputElement & { webkitdirectory: boolean }).webkitdirectory = true;
  }, []);
  const dropZone = useDropZone(async (data) => {
    const entries = [...(data?.items ?? [])].map((item) => item.webkitGetAsEntry()).filter((entry): entry is FileSystemEntry => entry !== null);
    const out: PickedFile[] = [];
    for (const entry of entries) await walk(entry, '', out);
    onFiles(out.map(({ file, path }) => ({ file, path: entries.length === 1 && entries[0]!.isDirectory ? underTop(path) : path })));
  });

  return (
    <div {...dropZone}>
      <label for="folder-input" class="button secondary">
        Choose a folder
      </label>
      <input
        id="folder-input"
        ref={folderInput}
        class="visually-hidden"
        type="file"
        multiple
        disabled={disabled}
        onChange={(event) => {
          const input = event.currentTarget as HTMLInputElement;
          const files = [...(input.files ?? [])].map((file) => ({ file, path: file.webkitRelativePath ? underTop(file.webkitRelativePath) : file.name }));
          input.value = '';
          onFiles(files);
        }}
      />
      <span class="drop-hint">or drop a folder of images here</span>
    </div>
  );
}
