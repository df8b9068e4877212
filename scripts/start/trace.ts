/**
 * Reads usage traces in the Azure LLM inference trace format
 * (`TIMESTAMP,ContextTokens,GeneratedTokens`, timestamps `YYYY-MM-DD HH:MM:SS.fffffff`, UTC).
 */
import { existsSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";

/** One request of a trace. */
export interface TraceRow {
  /** Which file it came from (e.g. `code`, `conv`) and its 0-based row there. */
  source: string;
  row: number;
  timeMs: number;
  contextTokens: number;
  generatedTokens: number;
}

export interface Trace {
  kind: "trace";
  description: string;
  files: string[];
  rows: TraceRow[];
}

const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?$/;

/** Parses one CSV file; throws with the file and line of the first bad row. */
export function readTraceCsv(path: string): TraceRow[] {
  const text = readFileSync(path, "utf8");
  const lines = text.split(/\r?\n/);
  const header = lines[0]?.trim();
  if (header !== "TIMESTAMP,ContextTokens,GeneratedTokens") {
    throw new Error(
      `${path}: expected the header TIMESTAMP,ContextTokens,GeneratedTokens, got ${JSON.stringify(header)}`,
    );
  }
  const source = basename(path)
    .replace(/\.csv$/i, "")
    .replace(/^AzureLLMInferenceTrace_/, "");
  const rows: TraceRow[] = [];
  for (let i = 1; i < lines.length; i += 1) {
    const line = lines[i]?.trim() ?? "";
    if (line === "") {
      continue;
    }
    const [stamp = "", context = "", generated = ""] = line.split(",");
    const m = TIMESTAMP.exec(stamp);
    if (!m || !/^\d+$/.test(context) || !/^\d+$/.test(generated)) {
      throw new Error(`${path}:${i + 1}: cannot read ${JSON.stringify(line)}`);
    }
    const millis = Number((m[7] ?? "0").slice(0, 3).padEnd(3, "0"));
    rows.push({
      source,
      row: rows.length,
      timeMs: Date.UTC(
        Number(m[1]),
        Number(m[2]) - 1,
        Number(m[3]),
        Number(m[4]),
        Number(m[5]),
        Number(m[6]),
        millis,
      ),
      contextTokens: Number(context),
      generatedTokens: Number(generated),
    });
  }
  return rows;
}

/** The shared Azure trace (both files), or null when the folder is absent. */
export function loadSharedTrace(root: string): Trace | null {
  const dir = join(root, "..", "shared", "data", "azure-llm-inference-2023");
  const files = ["AzureLLMInferenceTrace_code.csv", "AzureLLMInferenceTrace_conv.csv"].map((f) =>
    join(dir, f),
  );
  if (!files.every((f) => existsSync(f))) {
    return null;
  }
  return {
    kind: "trace",
    description: "Azure LLM inference trace 2023 (code + conv), CC-BY-4.0",
    files,
    rows: mergeByTime(files.map(readTraceCsv)),
  };
}

/** Reads a user-supplied trace file. */
export function loadTraceFile(path: string): Trace {
  return { kind: "trace", description: `trace ${path}`, files: [path], rows: readTraceCsv(path) };
}

function mergeByTime(lists: TraceRow[][]): TraceRow[] {
  return lists
    .flat()
    .sort((a, b) => a.timeMs - b.timeMs || a.source.localeCompare(b.source) || a.row - b.row);
}

/** mulberry32: a tiny seeded PRNG so the synthetic workload is the same on every machine. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
