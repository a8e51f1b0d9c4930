import { join } from 'node:path';
import Database from 'better-sqlite3';

/** A board: items that belong together (an outfit, a wish list, a Pinterest board). */
export interface Board {
  readonly id: string;
  readonly items: readonly string[];
}

/** Two items that belong together, with a weight (co-purchases, say). */
export type Pair = readonly [string, string, number];

export interface GraphSummary {
  readonly boards: number;
  readonly pairs: number;
  readonly memberships: number;
  /** Distinct item ids the graph names. */
  readonly items: number;
  readonly updatedAt: string;
}

/**
 * Each index's item graph (boards and weighted pairs) for neighbor alignment, in
 * `<dataDir>/graphs.sqlite`, keyed by index name so it outlives the index's rebuilt versions.
 * An upload replaces the index's graph in one transaction: it is there whole or not at all.
 */
export class GraphStore {
  private readonly db: Database.Database;

  constructor(dataDir: string) {
    this.db = new Database(join(dataDir, 'graphs.sqlite'));
    this.db.pragma('journal_mode = WAL');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS graphs (index_name TEXT PRIMARY KEY, updated_at TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS memberships (index_name TEXT NOT NULL, board_id TEXT NOT NULL, item_id TEXT NOT NULL, PRIMARY KEY (index_name, board_id, item_id));
      CREATE TABLE IF NOT EXISTS pairs (index_name TEXT NOT NULL, a TEXT NOT NULL, b TEXT NOT NULL, weight REAL NOT NULL);
      CREATE INDEX IF NOT EXISTS pairs_index ON pairs(index_name);
    `);
  }

  /** Replaces the graph of `index` with these boards and pairs. */
  replace(index: string, boards: Iterable<Board>, pairs: Iterable<Pair>): GraphSummary {
    const member = this.db.prepare('INSERT OR IGNORE INTO memberships (index_name, board_id, item_id) VALUES (?, ?, ?)');
    const pair = this.db.prepare('INSERT INTO pairs (index_name, a, b, weight) VALUES (?, ?, ?, ?)');
    this.db.transaction(() => {
      this.remove(index);
      for (const board of boards) for (const item of board.items) member.run(index, board.id, item);
      for (const [a, b, weight] of pairs) pair.run(index, a, b, weight);
      this.db.prepare('INSERT INTO graphs (index_name, updated_at) VALUES (?, ?)').run(index, new Date().toISOString());
    })();
    return this.summary(index)!;
  }

  summary(index: string): GraphSummary | undefined {
    const updatedAt = this.db.prepare('SELECT updated_at FROM graphs WHERE index_name = ?').pluck().get(index) as string | undefined;
    if (updatedAt === undefined) return undefined;
    const count = (sql: string) => this.db.prepare(sql).pluck().get(index) as number;
    return {
      boards: count('SELECT COUNT(DISTINCT board_id) FROM memberships WHERE index_name = ?'),
      pairs: count('SELECT COUNT(*) FROM pairs WHERE index_name = ?'),
      memberships: count('SELECT COUNT(*) FROM memberships WHERE index_name = ?'),
      items: (this.db.prepare('SELECT COUNT(*) FROM (SELECT item_id FROM memberships WHERE index_name = ? UNION SELECT a FROM pairs WHERE index_name = ? UNION SELECT b FROM pairs WHERE index_name = ?)').pluck().get(index, index, index) as number),
      updatedAt,
    };
  }

  /** Every item id the graph names. */
  itemIds(index: string): string[] {
    return this.db
      .prepare('SELECT item_id FROM memberships WHERE index_name = ? UNION SELECT a FROM pairs WHERE index_name = ? UNION SELECT b FROM pairs WHERE index_name = ?')
      .pluck()
      .all(index, index, index) as string[];
  }

  /** The whole graph of an index. */
  load(index: string): { boards: Board[]; pairs: Pair[] } {
    const boards = new Map<string, string[]>();
    for (const row of this.db.prepare('SELECT board_id, item_id FROM memberships WHERE index_name = ? ORDER BY board_id').iterate(index) as Iterable<{ board_id: string; item_id: string }>) {
      let items = boards.get(row.board_id);
      if (!items) boards.set(row.board_id, (items = []));
      items.push(row.item_id);
    }
    const pairs = (this.db.prepare('SELECT a, b, weight FROM pairs WHERE index_name = ?').all(index) as { a: string; b: string; weight: number }[]).map(
      (row) => [row.a, row.b, row.weight] as const,
    );
    return { boards: [...boards].map(([id, items]) => ({ id, items })), pairs };
  }

  /** Deletes the graph of `index`; says whether there was one. */
  remove(index: string): boolean {
    const existed = this.db.prepare('DELETE FROM graphs WHERE index_name = ?').run(index).changes > 0;
    this.db.prepare('DELETE FROM memberships WHERE index_name = ?').run(index);
    this.db.prepare('DELETE FROM pairs WHERE index_name = ?').run(index);
    return existed;
  }

  close(): void {
    this.db.close();
  }
}
