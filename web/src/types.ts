/** The shapes of the service's answers that the web app reads. */

export interface ModelRef {
  id: string;
  version: string;
  dimension?: number;
}

export interface IndexInfo {
  name: string;
  model: ModelRef;
  model_loaded: boolean;
  count: number;
  created_at: string;
}

export interface Hit {
  id: string;
  score: number;
  category: string | null;
  attributes: Record<string, unknown>;
  metadata?: Record<string, unknown>;
  text?: string | null;
}

export interface SearchResults {
  data: Hit[];
  took_ms: number;
  strategy: string;
  candidates: number;
}

export type FacetScalar = string | number | boolean;

export interface Facets {
  count: number;
  categories: { value: string; count: number }[];
  attributes: { name: string; values: { value: FacetScalar; count: number }[] }[];
}

export interface Item {
  id: string;
  category: string | null;
  attributes: Record<string, unknown>;
  image_url: string | null;
  model: { id: string; version: string };
  created_at: string;
}

export interface ShopObject {
  bbox: [number, number, number, number];
  label: string | null;
  score: number | null;
  categories: string[] | null;
  products: Hit[];
}

export interface ShopResult {
  image: { width: number; height: number };
  objects: ShopObject[];
}

export interface LookProduct extends Hit {
  global_score?: number;
  local_score?: number;
}

export interface LookResult {
  objects: { bbox: [number, number, number, number]; label: string; score: number }[];
  present_categories: string[];
  categories: { category: string; products: LookProduct[] }[];
  strategy: string;
}

export interface Job {
  id: string;
  type: 'ingest' | 'reembed' | 'align';
  state: 'queued' | 'running' | 'completed' | 'failed' | 'cancelled';
  created_at: string;
  index: string;
  progress: { total: number; done: number; failed: number };
  items_per_second: number;
  eta_seconds: number | null;
  error?: { message: string } | null;
}

export interface Model {
  id: string;
  version: string;
  dimension: number;
  layout: string;
  providers: { image: string; text: string };
  default: boolean;
  description: string | null;
  versions: { version: string; kind: string; base_version: string | null; created_at: string | null }[];
}

export interface Health {
  status: string;
  version: string;
  uptime_seconds: number;
  default_model: string;
  models: { id: string; version: string; dimension: number; providers: { image: string; text: string } }[];
  detector: { path: string; labels: number; input_size: number; provider: string } | null;
}
