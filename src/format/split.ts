/**
 * Splits a parsed answer into pieces that each render within a platform's limit, working on the
 * tree rather than on text: every piece is itself a small document (its own quotes, lists, code
 * blocks), so a renderer shows it without knowing it was cut, and no piece opens what it does not
 * close. A code block cut in two is two code blocks with the same language; a table cut in two
 * repeats its header; a list item continued in the next piece shows no second bullet.
 *
 * The document is read as a sequence of atoms (words, spaces and line breaks of text, lines of
 * code, rows of tables), each knowing what cutting after it costs: the end of a block (paragraph,
 * list item, code block, table row) is best, then a line break, then a space, then a space inside
 * inline code or a link, then a grapheme boundary, and last a cut inside an oversized grapheme
 * cluster. Length is always measured on the real rendering (after escaping), so the limit holds
 * whatever a platform's escaping adds.
 *
 * Each piece is found by a galloping then binary search over atom counts, rendering candidates:
 * O(log L) renders of O(L) characters per piece of limit L, so the whole split is linear in the
 * input for a given limit. Among the cuts that fit, the best-ranked one is taken provided the piece
 * is at least half full; so at most 2 × ceil(rendered length / limit) + 1 pieces come out.
 */
import { forEachCluster, trimSpans, type Block, type ListItem, type Span } from './parse.js';

/** The rendered length of a document (or piece), as the platform counts it against its limit. */
export type Measure = (blocks: Block[]) => number;

const RANK = { block: 0, line: 1, word: 2, protectedWord: 3, grapheme: 4, insideGrapheme: 5 } as const;
type Rank = (typeof RANK)[keyof typeof RANK];

/** Longest word or code line kept as one atom; longer ones are cut into grapheme clusters. */
const MAX_ATOM = 64;

/** Floor of the rendered/raw ratio, so that a piece rendering to nothing cannot stall the search. */
const MIN_RATIO = 0.05;

type Leaf = Extract<Block, { type: 'paragraph' | 'heading' | 'code' | 'table' | 'rule' }>;

/** A quote or a list item around a leaf; compared by identity. */
type Container = { kind: 'quote'; quote: Extract<Block, { type: 'quote' }> } | { kind: 'item'; item: ListItem; list: Extract<Block, { type: 'list' }> };

interface Unit {
  path: Container[];
  leaf: Leaf;
}

/** The smallest piece of the document a cut may fall after. */
type Atom = { unit: number; rank: Rank } & (
  | { kind: 'text'; span: Span; text: string }
  | { kind: 'code'; text: string; lineEnd: boolean }
  | { kind: 'row'; row: string[] }
  | { kind: 'whole' }
);

/**
 * Cuts `blocks` into pieces whose `measure` is at most `limit`, in order, losing nothing but
 * whitespace at the cuts. Pieces that would show nothing (only whitespace) are left out.
 *
 * @returns the pieces; [] when the document shows nothing.
 * @throws RangeError when `limit` is not a positive integer.
 */
export function splitBlocks(blocks: Block[], measure: Measure, limit: number): Block[][] {
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`splitBlocks: limit must be a positive integer, got ${limit}`);
  if (blocks.length === 0) return [];
  const whole = measure(blocks);
  if (whole <= limit) return whole > 0 ? [blocks] : [];
  return new Splitter(blocks, measure, limit, whole).split();
}

class Splitter {
  private readonly units: Unit[] = [];
  private readonly atoms: Atom[] = [];
  /** Rendered characters per raw character, as last measured: where to look for the next cut. */
  private ratio: number;
  private prefix: Float64Array | undefined;
  /** Index of the first atom of each list item: a piece starting later continues the item. */
  private readonly itemStart = new Map<ListItem, number>();
  /** Index after the last atom of each list item: a piece holding all of it reuses the item. */
  private readonly itemEnd = new Map<ListItem, number>();

  /** Sizes measured for the piece being cut: each candidate end is rendered once. */
  private readonly sizes = new Map<number, number>();
  private sizesStart = -1;

  constructor(
    blocks: Block[],
    private readonly measure: Measure,
    private readonly limit: number,
    whole: number,
  ) {
    this.collect(blocks, []);
    this.ratio = Math.max(MIN_RATIO, whole / Math.max(1, this.rawPrefix()[this.atoms.length] ?? 1));
  }

  split(): Block[][] {
    const pieces: Block[][] = [];
    let start = 0;
    while (start < this.atoms.length) {
      const end = this.cut(start);
      const piece = this.build(start, end);
      if (piece.length > 0 && this.measure(piece) > 0) pieces.push(piece);
      start = end;
    }
    return pieces;
  }

  // ------------------------------------------------------------------------------------------
  // Reading the tree into atoms.

  private collect(blocks: Block[], path: Container[]): void {
    for (const block of blocks) {
      switch (block.type) {
        case 'quote':
          this.collect(block.blocks, [...path, { kind: 'quote', quote: block }]);
          break;
        case 'list':
          for (const item of block.items) {
            this.itemStart.set(item, this.atoms.length);
            const inner: Container[] = [...path, { kind: 'item', item, list: block }];
            // An empty item still shows its marker: an empty paragraph stands for it.
            if (item.blocks.length === 0) this.addUnit(inner, { tight: true, type: 'paragraph', spans: [] });
            else this.collect(item.blocks, inner);
            this.itemEnd.set(item, this.atoms.length);
          }
          break;
        default:
          this.addUnit(path, block);
      }
    }
  }

  private addUnit(path: Container[], leaf: Leaf): void {
    const unit = this.units.length;
    this.units.push({ path, leaf });
    const first = this.atoms.length;
    switch (leaf.type) {
      case 'paragraph':
      case 'heading':
        this.addSpans(unit, leaf.spans);
        break;
      case 'code':
        leaf.text.split('\n').forEach((line) => {
          if (line.length <= MAX_ATOM) {
            this.atoms.push({ unit, rank: RANK.line, kind: 'code', text: line, lineEnd: true });
            return;
          }
          for (const { text, rank } of words(line, false)) this.atoms.push({ unit, rank, kind: 'code', text, lineEnd: false });
          const last = this.atoms.at(-1);
          if (last?.kind === 'code') Object.assign(last, { lineEnd: true, rank: RANK.line });
        });
        break;
      case 'table':
        if (this.tableFits(path, leaf)) {
          for (const row of leaf.rows) this.atoms.push({ unit, rank: RANK.block, kind: 'row', row });
        } else {
          // A table too wide for one message reads as lines of cells instead.
          const lines = [leaf.header, ...leaf.rows].map((cells) => cells.join(' | ')).join('\n');
          const spans: Span[] = [{ text: lines, code: false, strong: false, em: false, strike: false, link: undefined }];
          this.units[unit] = { path, leaf: { tight: leaf.tight, type: 'paragraph', spans } };
          this.addSpans(unit, spans);
        }
        break;
      case 'rule':
        break;
    }
    if (this.atoms.length === first) this.atoms.push({ unit, rank: RANK.block, kind: 'whole' });
    const last = this.atoms.at(-1);
    if (last) last.rank = RANK.block;
  }

  /** Whether the table's header with any one of its rows fits in a piece, where it stands. */
  private tableFits(path: Container[], table: Extract<Leaf, { type: 'table' }>): boolean {
    const alone = (rows: string[][]): number => this.measure(this.nest([{ path, leaf: { ...table, rows }, firstAtom: 0 }], 0, 0));
    return alone([]) <= this.limit && table.rows.every((row) => alone([row]) <= this.limit);
  }

  private addSpans(unit: number, spans: Span[]): void {
    for (const span of spans) {
      for (const { text, rank } of words(span.text, span.code || span.link !== undefined)) {
        this.atoms.push({ unit, rank, kind: 'text', span, text });
      }
    }
  }

  // ------------------------------------------------------------------------------------------
  // Choosing where a piece ends.

  /** End (exclusive atom index) of the piece starting at `start`. */
  private cut(start: number): number {
    const n = this.atoms.length;
    const fits = (end: number): boolean => this.size(start, end) <= this.limit;
    if (!fits(start + 1)) {
      // Only an atom too big for any piece gets here (a link whose destination alone is longer than
      // the limit, deep nesting and escaping around a long grapheme cluster): it loses its link, or
      // is halved, and the search starts again.
      if (this.unlink(start) || this.halve(start)) {
        this.sizes.clear();
        return this.cut(start);
      }
      return start + 1;
    }
    // Start from where the characters seen so far say the limit falls, correct by the rendered
    // size, then bisect what is left: `good` fits, `bad` does not (or is past the end).
    const prefix = this.rawPrefix();
    const guess = Math.max(start + 1, Math.min(n, this.atomAtRaw(prefix, (prefix[start] ?? 0) + this.limit / this.ratio) - 1));
    let good = start + 1;
    let bad = n + 1;
    // Too far: scale the atom count down by how much the rendering overshot, until it fits.
    let candidate = guess;
    while (candidate > good && !fits(candidate)) {
      bad = candidate;
      candidate = start + Math.floor(((candidate - start) * this.limit * 0.95) / this.size(start, candidate));
    }
    good = Math.max(good, candidate);
    // Then forward by the room left, in atoms as rendered so far, until a candidate does not fit.
    while (good < n && good + 1 < bad) {
      const used = this.size(start, good);
      const room = Math.floor(((this.limit - used) * (good - start)) / Math.max(1, used));
      const next = Math.min(n, bad - 1, good + Math.max(1, room));
      if (!fits(next)) {
        bad = next;
        break;
      }
      good = next;
    }
    if (good === n) return n;
    while (bad - good > 1) {
      const mid = (good + bad) >> 1;
      if (fits(mid)) good = mid;
      else bad = mid;
    }
    const used = this.size(start, good);
    this.ratio = Math.max(MIN_RATIO, used / Math.max(1, (prefix[good] ?? 0) - (prefix[start] ?? 0)));
    // Prefer the best-ranked cut in the second half of the piece, found by characters and then
    // checked on the rendering; failing the check, the half is found on the rendering.
    let best = this.bestCut(this.atomAtRaw(prefix, ((prefix[start] ?? 0) + (prefix[good] ?? 0)) / 2), good);
    if (best < good && this.size(start, best) * 2 < this.limit) {
      let low = start + 1;
      let high = good;
      while (low < high) {
        const mid = (low + high) >> 1;
        if (this.size(start, mid) * 2 >= this.limit) high = mid;
        else low = mid + 1;
      }
      best = this.bestCut(low, good);
    }
    return best;
  }

  /** The furthest of the best-ranked cuts in [low, high]. */
  private bestCut(low: number, high: number): number {
    let best = high;
    for (let end = high; end >= low && end > 0; end--) {
      const rank = this.atoms[end - 1]?.rank ?? RANK.insideGrapheme;
      if (rank < (this.atoms[best - 1]?.rank ?? RANK.insideGrapheme)) best = end;
      if (rank === RANK.block) break;
    }
    return best;
  }

  /** Characters of the atoms before each index (recomputed after an atom is halved). */
  private rawPrefix(): Float64Array {
    if (this.prefix?.length === this.atoms.length + 1) return this.prefix;
    const prefix = new Float64Array(this.atoms.length + 1);
    this.atoms.forEach((atom, i) => {
      prefix[i + 1] = (prefix[i] ?? 0) + rawLength(atom);
    });
    this.prefix = prefix;
    return prefix;
  }

  /** The first index whose prefix reaches `raw`. */
  private atomAtRaw(prefix: Float64Array, raw: number): number {
    let low = 0;
    let high = prefix.length - 1;
    while (low < high) {
      const mid = (low + high) >> 1;
      if ((prefix[mid] ?? 0) < raw) low = mid + 1;
      else high = mid;
    }
    return low;
  }

  /** Shows a link atom as plain text; false when it is not a link. */
  private unlink(index: number): boolean {
    const atom = this.atoms[index];
    if (atom?.kind !== 'text' || !atom.span.link) return false;
    this.atoms[index] = { ...atom, span: { ...atom.span, link: undefined } };
    return true;
  }

  /**
   * Cuts the atom at `index` smaller: a word into its grapheme clusters, a single cluster into its
   * code points; false when it is one code point already.
   */
  private halve(index: number): boolean {
    const atom = this.atoms[index];
    if (atom?.kind !== 'text' && atom?.kind !== 'code') return false;
    const parts: { text: string; rank: Rank }[] = [];
    forEachCluster(atom.text, (cluster) => parts.push({ text: cluster, rank: RANK.grapheme }));
    if (parts.length === 1) {
      parts.length = 0;
      for (const point of atom.text) parts.push({ text: point, rank: RANK.insideGrapheme });
    }
    if (parts.length < 2) return false;
    const last = parts.length - 1;
    // Atoms after this one move: so do the item boundaries recorded by index.
    for (const bounds of [this.itemStart, this.itemEnd]) {
      for (const [item, at] of bounds) if (at > index) bounds.set(item, at + last);
    }
    this.atoms.splice(index, 1, ...parts.map(({ text, rank }, i): Atom =>
      (atom.kind === 'text'
        ? { ...atom, text, rank: i === last ? atom.rank : rank }
        : { ...atom, text, rank: i === last ? atom.rank : rank, lineEnd: i === last && atom.lineEnd })));
    return true;
  }

  private size(start: number, end: number): number {
    if (start !== this.sizesStart) {
      this.sizes.clear();
      this.sizesStart = start;
    }
    let size = this.sizes.get(end);
    if (size === undefined) this.sizes.set(end, (size = this.measure(this.build(start, end))));
    return size;
  }

  // ------------------------------------------------------------------------------------------
  // Building a piece back into a tree.

  /** The document made of atoms [start, end). */
  private build(start: number, end: number): Block[] {
    const groups: { path: Container[]; leaf: Block; firstAtom: number }[] = [];
    for (let i = start; i < end; ) {
      const unit = this.atoms[i]?.unit ?? 0;
      let j = i;
      while (j < end && this.atoms[j]?.unit === unit) j++;
      const leaf = this.leaf(unit, i, j);
      if (leaf) groups.push({ path: this.units[unit]?.path ?? [], leaf, firstAtom: i });
      i = j;
    }
    return this.nest(groups, 0, end);
  }

  /** The unit's leaf holding only atoms [start, end), or undefined when that shows nothing. */
  private leaf(unit: number, start: number, end: number): Block | undefined {
    const leaf = this.units[unit]?.leaf;
    if (!leaf) return undefined;
    // A whole unit is its own leaf: the same object each time, so renderers may cache it.
    if ((start === 0 || this.atoms[start - 1]?.unit !== unit) && this.atoms[end]?.unit !== unit) return leaf;
    const atoms = this.atoms.slice(start, end);
    switch (leaf.type) {
      case 'paragraph':
      case 'heading': {
        const spans = joinSpans(atoms);
        trimSpans(spans);
        // An empty paragraph only stands for an empty list item's marker.
        if (spans.length === 0 && leaf.spans.length > 0) return undefined;
        return { ...leaf, spans };
      }
      case 'code': {
        let text = '';
        atoms.forEach((atom, i) => {
          if (atom.kind === 'code') text += atom.text + (atom.lineEnd && i < atoms.length - 1 ? '\n' : '');
        });
        return text.trim() ? { ...leaf, text } : undefined;
      }
      case 'table':
        return { ...leaf, rows: atoms.flatMap((atom) => (atom.kind === 'row' ? [atom.row] : [])) };
      case 'rule':
        return leaf;
    }
  }

  /** Rebuilds quotes and lists around the groups, from container depth `depth`. */
  private nest(groups: { path: Container[]; leaf: Block; firstAtom: number }[], depth: number, pieceEnd: number): Block[] {
    const out: Block[] = [];
    for (let i = 0; i < groups.length; ) {
      const group = groups[i];
      if (!group) break;
      const container = group.path[depth];
      if (!container) {
        out.push(group.leaf);
        i++;
        continue;
      }
      if (container.kind === 'quote') {
        let j = i;
        while (j < groups.length && groups[j]?.path[depth] === container) j++;
        out.push({ ...container.quote, blocks: this.nest(groups.slice(i, j), depth + 1, pieceEnd) });
        i = j;
        continue;
      }
      // Consecutive items of one list make one list.
      const list = container.list;
      const items: ListItem[] = [];
      let j = i;
      while (j < groups.length) {
        const next = groups[j]?.path[depth];
        if (next?.kind !== 'item' || next.list !== list) break;
        const item = next.item;
        let k = j;
        while (k < groups.length && groups[k]?.path[depth] === next) k++;
        const firstAtom = groups[j]?.firstAtom ?? 0;
        const whole = firstAtom === this.itemStart.get(item) && (this.itemEnd.get(item) ?? Infinity) <= pieceEnd;
        // A whole item is the item itself: the same object each time, so renderers may cache it.
        items.push(whole ? item : { ...item, continued: item.continued || firstAtom > (this.itemStart.get(item) ?? 0), blocks: this.nest(groups.slice(j, k), depth + 1, pieceEnd) });
        j = k;
      }
      out.push({ ...list, items });
      i = j;
    }
    return out;
  }
}

/** Characters an atom holds, before rendering. */
function rawLength(atom: Atom): number {
  switch (atom.kind) {
    case 'text':
      return atom.text.length;
    case 'code':
      return atom.text.length + 1;
    case 'row':
      return atom.row.reduce((sum, cell) => sum + cell.length + 2, 0);
    case 'whole':
      return 1;
  }
}

/** Cuts text into words, spaces and line breaks, and words longer than MAX_ATOM into graphemes. */
function words(text: string, protectedText: boolean): { text: string; rank: Rank }[] {
  const out: { text: string; rank: Rank }[] = [];
  const spaceRank = protectedText ? RANK.protectedWord : RANK.word;
  // A word and the spaces after it make one atom: half as many atoms to build pieces from.
  for (const match of text.matchAll(/\n|[^\S\n]+|[^\s]+[^\S\n]*/g)) {
    const part = match[0];
    if (part === '\n') {
      const last = out.at(-1);
      if (last) last.rank = RANK.line;
      out.push({ text: part, rank: RANK.line });
    } else if (/^\s/.test(part)) {
      const last = out.at(-1);
      if (last && last.rank > spaceRank) last.rank = spaceRank;
      out.push({ text: part, rank: spaceRank });
    } else {
      const word = part.trimEnd();
      const rank = word.length < part.length ? spaceRank : RANK.grapheme;
      if (part.length <= MAX_ATOM) {
        out.push({ text: part, rank });
      } else {
        out.push(...graphemeRuns(word));
        if (word.length < part.length) out.push({ text: part.slice(word.length), rank: spaceRank });
      }
    }
  }
  return out;
}

/** A long word as runs of grapheme clusters (a cluster longer than MAX_ATOM by code points). */
function graphemeRuns(word: string): { text: string; rank: Rank }[] {
  const out: { text: string; rank: Rank }[] = [];
  let run = '';
  const add = (cluster: string): void => {
    if (cluster.length > MAX_ATOM) {
      if (run) out.push({ text: run, rank: RANK.grapheme });
      run = '';
      for (const point of cluster) out.push({ text: point, rank: RANK.insideGrapheme });
      const last = out.at(-1);
      if (last) last.rank = RANK.grapheme;
      return;
    }
    if (run.length + cluster.length > MAX_ATOM) {
      out.push({ text: run, rank: RANK.grapheme });
      run = '';
    }
    run += cluster;
  };
  forEachCluster(word, add);
  if (run) out.push({ text: run, rank: RANK.grapheme });
  return out;
}

/** The text atoms' words joined back into spans, one per run of the same source span. */
function joinSpans(atoms: Atom[]): Span[] {
  const spans: Span[] = [];
  let parts: string[] = [];
  let source: Span | undefined;
  const flush = (): void => {
    if (source) spans.push({ ...source, text: parts.join('') });
  };
  for (const atom of atoms) {
    if (atom.kind !== 'text') continue;
    if (atom.span === source) {
      parts.push(atom.text);
      continue;
    }
    flush();
    source = atom.span;
    parts = [atom.text];
  }
  flush();
  return spans;
}

