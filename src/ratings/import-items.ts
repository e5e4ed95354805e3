/**
 * Item files for the catalogue: `ridgerec import-items` reads one into the items table as ONE
 * transaction (an upsert: an import sets the fields its format carries and keeps the others; an
 * item new to the database gets the defaults for the rest: no title, no categories, no metadata,
 * active).
 *
 * Formats (blank lines are skipped; `\r\n` and a UTF-8 byte order mark are accepted):
 * - `movielens-items`: MovieLens 100K `u.item`, latin1, `|`-separated:
 *   `id|title|release date|video release date|IMDb URL|19 genre flags`. A flag of 1 puts the item
 *   in that genre, named by `u.genre` (`name|index` lines) in the same folder. Sets title,
 *   categories and metadata `{releaseDate, year, videoReleaseDate, imdbUrl}` (empty fields left out).
 * - `csv`: a header line. The id column is `item`, `itemId`, `item_id`, `movieId` or `id`; `title`
 *   (or `name`); `categories` (or `category`, `genres`) with `|`-separated names, where
 *   "(no genres listed)" means none (MovieLens `movies.csv`); `active` (true/false/1/0). Every
 *   other column goes to metadata: a decimal number becomes a number, true/false a boolean,
 *   anything else a string, and an empty cell leaves the key out. The columns present are set;
 *   metadata is replaced as a whole when the file has metadata columns.
 * - `jsonl`: one JSON object a line, `{"id" (or "item"), "title", "categories", "metadata",
 *   "active"}`; the fields given are set.
 * - `auto`: `u.item` or a `.item` extension → movielens-items, `.jsonl`/`.ndjson` → jsonl, `.csv` →
 *   csv; otherwise the first line (`{` → jsonl, 24 `|`-separated fields → movielens-items, a comma
 *   → csv).
 *
 * A bad line throws invalidInput(`<file>:<line>: <problem>`) before anything is written, unless
 * skipInvalid, which skips it and counts it. A later line for the same id wins. The whole file is
 * read into memory: a catalogue is small next to its ratings (MovieLens 25M's movies.csv is 3 MB).
 */
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import type { Db } from '../db/connection.js';
import { invalidInput, isRidgerecError } from '../errors.js';
import { checkItemPatch, writeItems, type ItemPatch, type MetadataValue } from './catalogue.js';
import { idProblem, nfcId } from './ids.js';
import { ratingFileSize, splitCsvLine } from './import.js';

export type ItemFormat = 'auto' | 'csv' | 'jsonl' | 'movielens-items';
export const ITEM_FORMATS: readonly ItemFormat[] = ['auto', 'csv', 'jsonl', 'movielens-items'];
export type ConcreteItemFormat = Exclude<ItemFormat, 'auto'>;

export interface ItemParseOptions {
  readonly format?: ItemFormat;
  readonly skipInvalid?: boolean;
  /** Called for each line skipped under skipInvalid (1-based line number, the problem). */
  readonly onInvalid?: (line: number, problem: string) => void;
}

export interface ParsedItems {
  readonly format: ConcreteItemFormat;
  /** One change per valid line, in file order. */
  readonly changes: { id: string; patch: ItemPatch; line: number }[];
  /** Lines skipped under skipInvalid, and the first 10 of their numbers. */
  readonly rejected: number;
  readonly rejectedLines: number[];
}

const MAX_REJECTED_LINES = 10;
/** MovieLens' "no genre" marker in movies.csv. */
const NO_GENRES = '(no genres listed)';
/** u.item's fields before the genre flags. */
const ML_FIXED_FIELDS = 5;

/** Decides the format from the option, the file name and its first non-blank line. */
export function detectItemFormat(file: string, firstLine: string | null, format: ItemFormat = 'auto'): ConcreteItemFormat {
  if (!(ITEM_FORMATS as readonly string[]).includes(format)) {
    throw invalidInput(`unknown format "${String(format)}"; use one of ${ITEM_FORMATS.join(', ')}`, { field: 'format' });
  }
  if (format !== 'auto') return format;
  const ext = extname(file).toLowerCase();
  if (basename(file).toLowerCase() === 'u.item' || ext === '.item') return 'movielens-items';
  if (ext === '.jsonl' || ext === '.ndjson') return 'jsonl';
  if (ext === '.csv') return 'csv';
  if (firstLine === null) return 'jsonl'; // an empty file: any format reads it as zero items
  if (firstLine.startsWith('{')) return 'jsonl';
  if (firstLine.split('|').length === ML_FIXED_FIELDS + 19) return 'movielens-items';
  if (firstLine.includes(',')) return 'csv';
  throw invalidInput(`${file}:1: cannot tell the format from the name or the first line; pass --format csv|jsonl|movielens-items`);
}

/** Non-blank lines with their 1-based numbers (a trailing \r dropped). */
function lines(text: string): { text: string; line: number }[] {
  const out: { text: string; line: number }[] = [];
  text.split('\n').forEach((raw, n) => {
    const t = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (t.trim() !== '') out.push({ text: t, line: n + 1 });
  });
  return out;
}

function decode(bytes: Buffer, latin1: boolean): string {
  const text = bytes.toString(latin1 ? 'latin1' : 'utf8');
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/** u.genre: `name|index` lines → the names by index. */
function readGenres(itemFile: string): string[] {
  const file = join(dirname(itemFile), 'u.genre');
  if (!existsSync(file)) {
    throw invalidInput(`${itemFile}: movielens-items needs u.genre (the genre names) in the same folder; ${file} is missing`);
  }
  const names: string[] = [];
  for (const { text, line } of lines(decode(readFileSync(file), true))) {
    const [name, index, ...rest] = text.split('|');
    const i = Number(index);
    if (rest.length > 0 || name === undefined || name.trim() === '' || !/^\d+$/.test(index ?? '') || names[i] !== undefined) {
      throw invalidInput(`${file}:${line}: expected name|index with a new index, got ${JSON.stringify(text)}`);
    }
    names[i] = name.trim();
  }
  for (let i = 0; i < names.length; i++) if (names[i] === undefined) throw invalidInput(`${file}: no genre has index ${i}`);
  return names;
}

const quoted = (s: string) => JSON.stringify(s.length > 40 ? `${s.slice(0, 40)}…` : s);

/** A CSV metadata cell: a plain decimal → number, true/false → boolean, else the text. */
function metadataValue(cell: string): MetadataValue {
  if (/^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/.test(cell)) {
    const v = Number(cell);
    if (Number.isFinite(v)) return v;
  }
  if (cell === 'true') return true;
  if (cell === 'false') return false;
  return cell;
}

function activeValue(cell: string): boolean | null {
  const c = cell.trim().toLowerCase();
  return c === 'true' || c === '1' ? true : c === 'false' || c === '0' ? false : null;
}

/** The problem of a RidgerecError thrown by a check, as the text after `FILE:LINE: `. */
function problemOf(e: unknown): string {
  if (isRidgerecError(e)) return e.message;
  throw e;
}

class Bad extends Error {}

/** Reads and checks an item file; throws invalidInput(`FILE:LINE: problem`) on a bad line unless skipInvalid. */
export function readItemsFile(file: string, options: ItemParseOptions = {}): ParsedItems {
  ratingFileSize(file); // a missing file or a directory: invalidInput naming it
  const bytes = readFileSync(file);
  const sniff = lines(decode(bytes.subarray(0, 64 * 1024), true))[0]?.text.trim() ?? null;
  const format = detectItemFormat(file, sniff, options.format);
  const all = lines(decode(bytes, format === 'movielens-items'));
  const changes: { id: string; patch: ItemPatch; line: number }[] = [];
  let rejected = 0;
  const rejectedLines: number[] = [];
  const bad = (line: number, problem: string) => {
    if (!options.skipInvalid) throw invalidInput(`${file}:${line}: ${problem}`, { file, line, problem });
    rejected++;
    if (rejectedLines.length < MAX_REJECTED_LINES) rejectedLines.push(line);
    options.onInvalid?.(line, problem);
  };
  /** Runs one line's parser; a Bad or a RidgerecError from a check is that line's problem. */
  const each = (rows: { text: string; line: number }[], parse: (text: string) => { id: string; patch: ItemPatch }) => {
    for (const { text, line } of rows) {
      try {
        changes.push({ ...parse(text), line });
      } catch (e) {
        bad(line, e instanceof Bad ? e.message : problemOf(e));
      }
    }
  };
  const needId = (raw: string): string => {
    const id = raw.trim();
    if (id === '') throw new Bad('empty item id');
    const nfc = nfcId(id);
    if (nfc === null) throw new Bad(`item id ${JSON.stringify(id.slice(0, 40))} ${idProblem(id)!}`);
    return nfc;
  };

  if (format === 'movielens-items') {
    const genres = readGenres(file);
    const want = ML_FIXED_FIELDS + genres.length;
    each(all, (text) => {
      const f = text.split('|');
      if (f.length !== want) {
        throw new Bad(
          `expected ${want} |-separated fields (id|title|release date|video release date|IMDb URL|${genres.length} genre flags), found ${f.length}`,
        );
      }
      const id = needId(f[0]!);
      const categories: string[] = [];
      for (let g = 0; g < genres.length; g++) {
        const flag = f[ML_FIXED_FIELDS + g]!.trim();
        if (flag === '1') categories.push(genres[g]!);
        else if (flag !== '0') throw new Bad(`genre flag ${g} (${genres[g]}) is ${quoted(flag)}, not 0 or 1`);
      }
      const metadata: Record<string, MetadataValue> = {};
      const [release, video, url] = [f[2]!.trim(), f[3]!.trim(), f[4]!.trim()];
      if (release !== '') {
        metadata.releaseDate = release;
        const year = /(\d{4})$/.exec(release);
        if (year) metadata.year = Number(year[1]);
      }
      if (video !== '') metadata.videoReleaseDate = video;
      if (url !== '') metadata.imdbUrl = url;
      const title = f[1]!.trim();
      return { id, patch: checkItemPatch({ title: title === '' ? null : title, categories, metadata }, 'item') };
    });
  } else if (format === 'csv') {
    const [head, ...rows] = all;
    if (head !== undefined) {
      const names = splitCsvLine(head.text);
      if (names === null) throw invalidInput(`${file}:${head.line}: unterminated double quote in the header`);
      const lower = names.map((n) => n.trim().toLowerCase());
      const find = (candidates: string[]) => lower.findIndex((n) => candidates.includes(n));
      const idAt = find(['item', 'itemid', 'item_id', 'movieid', 'id']);
      if (idAt < 0) {
        throw invalidInput(
          `${file}:${head.line}: the header has no item id column (looked for item, itemId, item_id, movieId, id; it has ${names.join(', ')})`,
        );
      }
      const titleAt = find(['title', 'name']);
      const catAt = find(['categories', 'category', 'genres']);
      const activeAt = find(['active']);
      const metaAt = names.map((_, i) => i).filter((i) => i !== idAt && i !== titleAt && i !== catAt && i !== activeAt);
      each(rows, (text) => {
        const f = splitCsvLine(text);
        if (f === null) throw new Bad('unterminated double quote');
        if (f.length !== names.length) {
          throw new Bad(`${f.length < names.length ? 'missing' : 'too many'} columns: the header names ${names.length}, found ${f.length}`);
        }
        const id = needId(f[idAt]!);
        const raw: Record<string, unknown> = {};
        if (titleAt >= 0) raw.title = f[titleAt]!.trim() === '' ? null : f[titleAt]!.trim();
        if (catAt >= 0) {
          raw.categories = f[catAt]!.split('|')
            .map((c) => c.trim())
            .filter((c) => c !== '' && c !== NO_GENRES);
        }
        if (activeAt >= 0) {
          const active = activeValue(f[activeAt]!);
          if (active === null) throw new Bad(`active ${quoted(f[activeAt]!)} is not true, false, 1 or 0`);
          raw.active = active;
        }
        if (metaAt.length > 0) {
          const metadata: Record<string, MetadataValue> = {};
          for (const i of metaAt) if (f[i]!.trim() !== '') metadata[names[i]!.trim()] = metadataValue(f[i]!.trim());
          raw.metadata = metadata;
        }
        return { id, patch: checkItemPatch(raw, 'item') };
      });
    }
  } else {
    each(all, (text) => {
      let obj: unknown;
      try {
        obj = JSON.parse(text);
      } catch (e) {
        throw new Bad(`not valid JSON (${(e as Error).message})`);
      }
      if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) throw new Bad('expected a JSON object {"id", "title", …}');
      const { id: rawId, item: rawItem, ...rest } = obj as Record<string, unknown>;
      if (rawId !== undefined && rawItem !== undefined && rawId !== rawItem) throw new Bad('"id" and "item" name different items');
      const given = rawId ?? rawItem;
      if (given === undefined) throw new Bad('no "id" (or "item")');
      if (!(typeof given === 'string' || (typeof given === 'number' && Number.isSafeInteger(given)))) {
        throw new Bad('"id" must be a string or an integer');
      }
      const id = needId(String(given));
      return { id, patch: checkItemPatch(rest, 'item') };
    });
  }
  return { format, changes, rejected, rejectedLines };
}

export interface ItemImportResult {
  readonly format: ConcreteItemFormat;
  /** Valid lines written. */
  readonly rows: number;
  /** Items new to the database. */
  readonly inserted: number;
  /** Lines that changed an item already there (or repeated in the file). */
  readonly updated: number;
  readonly rejected: number;
  readonly rejectedLines: number[];
  readonly seconds: number;
}

/**
 * Imports an item file as ONE transaction: every line is checked before the first write, so a bad
 * line (without skipInvalid) or any failure leaves the database exactly as it was.
 */
export function importItemsFile(db: Db, file: string, options: ItemParseOptions = {}): ItemImportResult {
  const started = performance.now();
  const parsed = readItemsFile(file, options);
  const count = db.prepare('SELECT count(*) AS n FROM items');
  const inserted = db
    .transaction((): number => {
      const before = (count.get() as { n: number }).n;
      writeItems(
        db,
        parsed.changes.map(({ id, patch }) => ({ id, patch })),
        false,
      );
      return (count.get() as { n: number }).n - before;
    })
    .immediate();
  return {
    format: parsed.format,
    rows: parsed.changes.length,
    inserted,
    updated: parsed.changes.length - inserted,
    rejected: parsed.rejected,
    rejectedLines: parsed.rejectedLines,
    seconds: (performance.now() - started) / 1000,
  };
}
