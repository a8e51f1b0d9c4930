import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { z } from 'zod';
import { NotFoundError, ValidationError } from '../errors.js';
import type { Board, GraphStore, GraphSummary, Pair } from '../index/graph-store.js';
import type { IndexService } from './index.service.js';

const itemId = z.string().min(1).max(256);
const pairSchema = z.union([
  z.tuple([itemId, itemId]),
  z.tuple([itemId, itemId, z.number().positive().finite()]),
]);
const boardSchema = z.strictObject({ id: z.string().min(1).max(256), items: z.array(itemId).min(1) });

/** The JSON form of a graph upload: boards, pairs, or both. */
export const graphSchema = z
  .strictObject({
    boards: z.array(boardSchema).optional(),
    pairs: z.array(pairSchema).optional(),
  })
  .refine((graph) => (graph.boards?.length ?? 0) + (graph.pairs?.length ?? 0) > 0, { message: 'a graph needs boards or pairs' });

export interface GraphView extends GraphSummary {
  /** Graph items that the index holds now. */
  readonly itemsInIndex: number;
  /** Graph items the index does not hold (not fatal: they are left out of alignment until they are added). */
  readonly unknownItems: number;
  readonly unknownSample: readonly string[];
}

function toPair(value: z.infer<typeof pairSchema>): Pair {
  return [value[0], value[1], value[2] ?? 1];
}

/** A JSONL board line may name its board `board` instead of `id`: `{"board": "b2", "items": [...]}`. A line with both is left as it is (and refused). */
function boardAlias(value: unknown): unknown {
  if (value === null || typeof value !== 'object' || Array.isArray(value) || !('board' in value) || 'id' in value) return value;
  const { board, ...rest } = value as { board: unknown };
  return { ...rest, id: board };
}

/**
 * The item graph of an index (boards, weighted pairs) that neighbor alignment learns from:
 * uploaded as JSON or as a JSONL file (a line per board — `{"id", "items": [...]}`, or
 * `{"board", "items": [...]}` — or per pair — `["a", "b", weight?]`, or `{"pair": [...]}`),
 * replacing the previous one; ids the index does not hold are reported, not refused.
 */
export class GraphService {
  constructor(private readonly deps: { graphs: GraphStore; indexes: IndexService }) {
    deps.indexes.onDeleted((name) => deps.graphs.remove(name));
  }

  replace(index: string, graph: z.infer<typeof graphSchema>): GraphView {
    this.deps.indexes.get(index);
    this.deps.graphs.replace(index, graph.boards ?? [], (graph.pairs ?? []).map(toPair));
    return this.view(index);
  }

  /** Reads a JSONL graph; a line that is neither a board nor a pair refuses the whole upload, naming it. */
  async replaceFromFile(index: string, path: string): Promise<GraphView> {
    this.deps.indexes.get(index);
    const boards: Board[] = [];
    const pairs: Pair[] = [];
    let lineNumber = 0;
    for await (const line of createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Infinity })) {
      lineNumber += 1;
      if (line.trim() === '') continue;
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch (error) {
        throw new ValidationError(`graph line ${lineNumber} is not JSON: ${(error as Error).message}`, { code: 'invalid_json', param: `line:${lineNumber}` });
      }
      const asPair = pairSchema.safeParse(Array.isArray(value) ? value : (value as { pair?: unknown } | null)?.pair);
      if (asPair.success) {
        pairs.push(toPair(asPair.data));
        continue;
      }
      const asBoard = boardSchema.safeParse(boardAlias(value));
      if (!asBoard.success) {
        throw new ValidationError(`graph line ${lineNumber} is neither a board ({"id" or "board", "items": [...]}) nor a pair (["a", "b", weight?] or {"pair": [...]})`, {
          code: 'invalid_graph',
          param: `line:${lineNumber}`,
        });
      }
      boards.push({ id: asBoard.data.id, items: asBoard.data.items });
    }
    if (boards.length + pairs.length === 0) throw new ValidationError('the graph file holds no boards or pairs', { code: 'invalid_graph' });
    this.deps.graphs.replace(index, boards, pairs);
    return this.view(index);
  }

  view(index: string): GraphView {
    const live = this.deps.indexes.get(index);
    const summary = this.deps.graphs.summary(index);
    if (!summary) throw new NotFoundError('graph_not_found', `index ${index} has no graph; upload one with POST /v1/indexes/${index}/graph`);
    const unknown = this.deps.graphs.itemIds(index).filter((id) => !live.get(id));
    return { ...summary, itemsInIndex: summary.items - unknown.length, unknownItems: unknown.length, unknownSample: unknown.slice(0, 20) };
  }

  remove(index: string): void {
    this.deps.indexes.get(index);
    if (!this.deps.graphs.remove(index)) throw new NotFoundError('graph_not_found', `index ${index} has no graph`);
  }
}
