/**
 * The shared message splitter (rendering is per platform, splitting is shared). It cuts
 * model-written markdown under a platform's length limit so that every chunk is self-contained
 * markdown: an adapter renders each chunk on its own, so a code fence cut in two must be closed in
 * one chunk and reopened in the next.
 *
 * Fence lines follow CommonMark closely enough for model output: up to three spaces, three or more
 * backticks, an info string without backticks; a closer has at least as many backticks and only
 * spaces or tabs after them. An unclosed fence runs to the end of the text.
 *
 * Balance is guaranteed by reading each chunk the way a renderer will (its own lines, cut where the
 * chunk is cut), not the way the whole text reads: whatever fence a chunk leaves open is closed and
 * reopened in the next. Cuts that would make a chunk read differently from the text (through a
 * fence line, or leaving a fragment that looks like one) are only a last resort.
 */

/** Smallest limit accepted: a reopened fence ("```x\n") and its closer ("\n```") must leave room. */
const MIN_LIMIT = 16;

/**
 * Room a chunk inside a fence keeps for content besides the reopened marker and the closer: at
 * least a surrogate pair or a backslash escape (the longest units that cannot be cut), and a
 * quarter of the limit, so that a fence with a long marker is not spread over many tiny chunks.
 */
const MIN_FENCE_ROOM = 4;
const MIN_FENCE_SHARE = 1 / 4;

const WHITESPACE = /\s/;
const ASCII_PUNCTUATION = /[!-/:-@[-`{-~]/;
/** `[text](destination)` on one line; the alternatives are disjoint, so matching stays linear. */
const LINK = /\[(?:[^[\]\\\n]|\\.)*\]\((?:[^()\s\\]|\\.)*\)/g;
const NONE = Number.MAX_SAFE_INTEGER;

const graphemes = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

/**
 * Cut preferences, best first. A chunk ends at the furthest allowed cut of the best rank.
 * "Protected" means inside an inline code span or a link, which a cut would break; a hard cut
 * breaks a word anyway, so protection only ranks the boundaries.
 */
const RANK = {
  paragraph: 0,
  line: 1,
  word: 2,
  protectedWord: 3,
  hard: 4,
  insideGrapheme: 5,
} as const;
/** Cutting inside a fence that would fit whole in the next chunk, had the cut come before it. */
const SPLIT_FENCE_PENALTY = 10;
/** A cut that leaves a fence with nothing in it on one side: an empty code block. */
const EMPTY_FENCE_PENALTY = 20;
/**
 * A cut after which the chunks read differently from the text: code turned into prose or back.
 * Flat, not added to the others: once the reading drifts, long chunks are all that is left to want.
 */
const MISREAD_PENALTY = 40;

/** An open fence, identified by its opening line as some chunk shows it. */
interface Fence {
  /** Index of the first backtick. */
  runStart: number;
  /** Number of backticks; a closer needs at least as many. */
  run: number;
  /** End of the info string as shown (trailing whitespace excluded). */
  infoEnd: number;
  /** Length of the marker a continuation chunk reopens with: backticks plus trimmed info string. */
  markerLength: number;
}

/** A fence of the text as a whole: what the chunks should reproduce. */
interface TextFence extends Fence {
  /** Start of the opening line. */
  lineStart: number;
  /** The whole block fits in one chunk, so a cut before it beats a cut inside it. */
  fitsWhole: boolean;
}

/** Where a line, or the part of it from some position, could be a fence line. */
interface Shape {
  runStart: number;
  runEnd: number;
  /** First backtick after the run on the line, or NONE: an opener has none. */
  nextBacktick: number;
  /** First character after the run that is not a space or tab, or NONE: a closer has none. */
  nextNonBlank: number;
  /** First non-whitespace character after the run: where the info string starts. */
  infoStart: number;
}

interface Cut {
  rank: number;
  /** End of this chunk's text (exclusive, never on whitespace). */
  end: number;
  /** Where the next chunk's text starts. */
  next: number;
  /** The fence this chunk leaves open: closed here, reopened in the next chunk. */
  open: Fence | undefined;
}

/**
 * Splits markdown-ish text into chunks of at most `limit` UTF-16 code units: at paragraph breaks,
 * then line breaks, then word boundaries, then a hard cut (at a grapheme boundary when one fits).
 * Never splits a surrogate pair or a backslash escape, and avoids cutting inside an inline code
 * span or a `[text](url)` link when a boundary outside it fits. Code fences stay balanced: a chunk
 * that ends inside a fence closes it ("\n```") and the next reopens it with the same info string
 * ("```lang\n"), the added markers counted within the limit; when the text is split, a fence left
 * open at its end is closed too. Whitespace at a cut may be dropped, nothing else.
 *
 * A text that fits comes back as one chunk, trimmed (indentation before a leading ``` is kept, so
 * no fence appears that was not there). A code block is kept whole in one chunk when it fits.
 *
 * @returns the chunks, none empty; [] for empty or whitespace-only text.
 * @throws RangeError when `limit` is not an integer ≥ 16 (too small to hold the fence markers).
 */
export function splitMessage(text: string, limit: number): string[] {
  if (!Number.isInteger(limit) || limit < MIN_LIMIT) {
    throw new RangeError(`splitMessage: limit must be an integer of at least ${MIN_LIMIT}, got ${limit}`);
  }
  let end = text.length;
  while (end > 0 && isSpace(text, end - 1)) end--;
  // Before the first non-blank line there is no fence, so no code indentation to keep.
  const first = startAfterGap(text, 0, skipSpace(text, 0), false);
  if (first >= end) return [];
  if (end - first <= limit) return [text.slice(first, end)];
  return new Splitter(text, limit, end).split(first);
}

class Splitter {
  /** Line index of every position (one past the end included). */
  private readonly lineOf: Int32Array;
  private readonly lineStart: number[] = [];
  /** End of each line without its line break ("\r\n" or "\n"). */
  private readonly rawEnd: number[] = [];
  /** Index after each line's last non-whitespace character (its start when blank). */
  private readonly contentEnd: number[] = [];
  /** The text's fence each line opens, continues or closes. */
  private readonly fenceOf: (TextFence | undefined)[] = [];
  /** Whether the text is inside a fence after each line. */
  private readonly insideAfter: boolean[] = [];
  /** 1 where a cut before this position falls inside an inline code span or a link. */
  private readonly protectedAt: Uint8Array;
  // Per-position look-ups that keep fence tests O(1) however long a line is.
  private readonly runEndFrom: Int32Array;
  private readonly nextBacktickFrom: Float64Array;
  private readonly nextNonBlankFrom: Float64Array;
  private readonly nextNonSpaceFrom: Float64Array;
  /** Content room a reopened fence must leave (see MIN_FENCE_SHARE). */
  private readonly fenceRoom: number;

  constructor(
    private readonly text: string,
    private readonly limit: number,
    /** Index after the text's last non-whitespace character. */
    private readonly end: number,
  ) {
    const n = text.length;
    this.fenceRoom = Math.max(MIN_FENCE_ROOM, Math.floor(limit * MIN_FENCE_SHARE));
    this.lineOf = new Int32Array(n + 1);
    this.protectedAt = new Uint8Array(n + 1);
    this.runEndFrom = new Int32Array(n + 1);
    this.nextBacktickFrom = new Float64Array(n + 1);
    this.nextNonBlankFrom = new Float64Array(n + 1);
    this.nextNonSpaceFrom = new Float64Array(n + 1);
    this.runEndFrom[n] = n;
    this.nextBacktickFrom[n] = NONE;
    this.nextNonBlankFrom[n] = NONE;
    this.nextNonSpaceFrom[n] = NONE;
    for (let i = n - 1; i >= 0; i--) {
      const c = text.charAt(i);
      // A line break ends the search: these answer questions about one line.
      const lineEnds = c === '\n' || (c === '\r' && text.charAt(i + 1) === '\n');
      this.runEndFrom[i] = c === '`' ? (this.runEndFrom[i + 1] ?? n) : i;
      this.nextBacktickFrom[i] = c === '`' ? i : lineEnds ? NONE : (this.nextBacktickFrom[i + 1] ?? NONE);
      this.nextNonBlankFrom[i] = lineEnds ? NONE : c === ' ' || c === '\t' ? (this.nextNonBlankFrom[i + 1] ?? NONE) : i;
      this.nextNonSpaceFrom[i] = lineEnds ? NONE : WHITESPACE.test(c) ? (this.nextNonSpaceFrom[i + 1] ?? NONE) : i;
    }
    this.scanLines();
  }

  split(first: number): string[] {
    const chunks: string[] = [];
    let start = first;
    let open: Fence | undefined;
    while (start < this.end) {
      let cut = this.chooseCut(start, open);
      if (!cut && isSpace(this.text, start)) {
        // Kept code indentation left no room: whitespace at a cut may go.
        start = skipSpace(this.text, start);
        cut = this.chooseCut(start, open);
      }
      // Unreachable: one code point (or escape) after a reopened fence always fits (MIN_FENCE_ROOM).
      if (!cut) throw new Error(`splitMessage: no place to cut at ${start}`);
      const prefix = open ? `${this.marker(open)}\n` : '';
      const closer = cut.open ? `\n${'`'.repeat(cut.open.run)}` : '';
      chunks.push(prefix + this.text.slice(start, cut.end) + closer);
      start = cut.next;
      open = cut.open;
    }
    return chunks;
  }

  /** Reads the text's own lines: its fences, and the code spans and links of its prose. */
  private scanLines(): void {
    const { text } = this;
    const fences: { fence: TextFence; blockEnd: number | undefined }[] = [];
    let open: { fence: TextFence; index: number } | undefined;
    let start = 0;
    for (let line = 0; ; line++) {
      const newline = text.indexOf('\n', start);
      const stop = newline < 0 ? text.length : newline;
      const rawEnd = text.charAt(stop - 1) === '\r' ? stop - 1 : stop;
      this.lineOf.fill(line, start, newline < 0 ? text.length + 1 : newline + 1);
      this.lineStart.push(start);
      this.rawEnd.push(rawEnd);
      let contentEnd = rawEnd;
      while (contentEnd > start && isSpace(text, contentEnd - 1)) contentEnd--;
      this.contentEnd.push(contentEnd);
      const after = this.transition(open?.fence, this.shape(start, rawEnd), rawEnd);
      if (open) {
        this.fenceOf.push(open.fence);
        if (!after) {
          const entry = fences[open.index];
          if (entry) entry.blockEnd = contentEnd;
          open = undefined;
        }
      } else if (after) {
        const fence: TextFence = { ...after, lineStart: start, fitsWhole: false };
        open = { fence, index: fences.length };
        fences.push({ fence, blockEnd: undefined });
        this.fenceOf.push(fence);
      } else {
        this.fenceOf.push(undefined);
        this.markProtected(start, contentEnd);
      }
      this.insideAfter.push(open !== undefined);
      if (newline < 0) break;
      start = newline + 1;
    }
    for (const { fence, blockEnd } of fences) {
      fence.fitsWhole = (blockEnd ?? this.end + 1 + fence.run) - fence.lineStart <= this.limit;
    }
  }

  /** Marks the inside of inline code spans and links on one prose line (CommonMark backtick matching). */
  private markProtected(start: number, stop: number): void {
    const { text } = this;
    const protect = (from: number, to: number): void => {
      this.protectedAt.fill(1, from + 1, to);
    };
    const runs: { at: number; length: number }[] = [];
    for (let i = this.nextBacktickFrom[start] ?? NONE; i < stop; i = this.nextBacktickFrom[i] ?? NONE) {
      const runEnd = Math.min(this.runEndFrom[i] ?? i, stop);
      runs.push({ at: i, length: runEnd - i });
      if (runEnd >= stop) break;
      i = runEnd;
    }
    // A run opens a code span closed by the next run of the same length; unmatched runs are literal.
    const sameLength = new Map<number, number[]>();
    runs.forEach((run, index) => {
      const list = sameLength.get(run.length) ?? [];
      list.push(index);
      sameLength.set(run.length, list);
    });
    const cursor = new Map<number, number>();
    for (let r = 0; r < runs.length; ) {
      const opener = runs[r];
      if (!opener) break;
      const list = sameLength.get(opener.length) ?? [];
      let k = cursor.get(opener.length) ?? 0;
      while (k < list.length && (list[k] ?? 0) <= r) k++;
      cursor.set(opener.length, k);
      const closerIndex = list[k];
      const closer = closerIndex === undefined ? undefined : runs[closerIndex];
      if (closerIndex === undefined || !closer) {
        r++;
        continue;
      }
      protect(opener.at, closer.at + closer.length);
      r = closerIndex + 1;
    }
    for (const link of text.slice(start, stop).matchAll(LINK)) {
      protect(start + link.index, start + link.index + link[0].length);
    }
  }

  /** The fence-line shape of the line part starting at `from` (a line start or a chunk start). */
  private shape(from: number, rawEnd: number): Shape | undefined {
    let p = from;
    while (p < from + 3 && this.text.charAt(p) === ' ') p++;
    const runEnd = Math.min(this.runEndFrom[p] ?? p, rawEnd);
    if (runEnd - p < 3) return undefined;
    return {
      runStart: p,
      runEnd,
      nextBacktick: this.nextBacktickFrom[runEnd] ?? NONE,
      nextNonBlank: this.nextNonBlankFrom[runEnd] ?? NONE,
      infoStart: this.nextNonSpaceFrom[runEnd] ?? NONE,
    };
  }

  /**
   * The fence open after a line (or line part) that ends at `viewEnd` and has `shape`, given the
   * fence open before it: the same rules a renderer applies to the chunk's text.
   */
  private transition(open: Fence | undefined, shape: Shape | undefined, viewEnd: number): Fence | undefined {
    if (!shape || viewEnd - shape.runStart < 3) return open;
    const runEnd = Math.min(shape.runEnd, viewEnd);
    const run = runEnd - shape.runStart;
    if (open) {
      const closes = run >= open.run && (viewEnd <= shape.runEnd || shape.nextNonBlank >= viewEnd);
      return closes ? undefined : open;
    }
    if (viewEnd > shape.runEnd && shape.nextBacktick < viewEnd) return undefined;
    let infoEnd = viewEnd;
    while (infoEnd > runEnd && isSpace(this.text, infoEnd - 1)) infoEnd--;
    const infoLength = shape.infoStart < infoEnd ? infoEnd - shape.infoStart : 0;
    return { runStart: shape.runStart, run, infoEnd, markerLength: run + infoLength };
  }

  private marker(fence: Fence): string {
    const runEnd = fence.runStart + fence.run;
    return this.text.slice(fence.runStart, runEnd) + this.text.slice(runEnd, fence.infoEnd).trim();
  }

  /** The fence the text itself has open after the part of line `line` that ends at `end`. */
  private textFenceAfter(line: number, end: number): TextFence | undefined | 'misread' {
    const fence = this.fenceOf[line];
    if (end >= (this.contentEnd[line] ?? 0)) return this.insideAfter[line] ? fence : undefined;
    // Cutting through a fence line always changes how the chunks read.
    if (fence && (fence.lineStart === this.lineStart[line] || !this.insideAfter[line])) return 'misread';
    return fence;
  }

  private chooseCut(start: number, carried: Fence | undefined): Cut | undefined {
    const { text, end } = this;
    const budget = this.limit - (carried ? carried.markerLength + 1 : 0);
    const maxEnd = Math.min(start + budget, end);
    if (maxEnd <= start) return undefined;

    // The fence open before each line of the window, as this chunk reads.
    const firstLine = this.lineOf[start] ?? 0;
    const lastLine = this.lineOf[maxEnd - 1] ?? 0;
    const before: (Fence | undefined)[] = [];
    const shapes: (Shape | undefined)[] = [];
    let open = carried;
    for (let line = firstLine; line <= lastLine; line++) {
      const rawEnd = this.rawEnd[line] ?? 0;
      const shape = this.shape(Math.max(this.lineStart[line] ?? 0, start), rawEnd);
      before.push(open);
      shapes.push(shape);
      open = this.transition(open, shape, rawEnd);
    }
    const openAfter = (line: number, cutEnd: number): Fence | undefined =>
      this.transition(before[line - firstLine], shapes[line - firstLine], cutEnd);

    if (end - start <= budget) {
      const last = openAfter(this.lineOf[end - 1] ?? 0, end);
      if (end - start + (last ? last.run + 1 : 0) <= budget) return { rank: 0, end, next: end, open: last };
    }

    let best: Cut | undefined;
    const consider = (line: number, cutEnd: number, gapEnd: number, rank: number): void => {
      const fence = openAfter(line, cutEnd);
      if (cutEnd - start + (fence ? fence.run + 1 : 0) > budget) return;
      if (fence && fence.markerLength + 2 + fence.run + this.fenceRoom > this.limit) return;
      const midLine = cutEnd < (this.contentEnd[line] ?? 0);
      const next = midLine ? gapEnd : startAfterGap(text, cutEnd, gapEnd, fence !== undefined);
      const penalised = rank + this.penalty(start, line, cutEnd, next, fence, before[line - firstLine]);
      if (!best || penalised < best.rank || (penalised === best.rank && cutEnd > best.end)) {
        best = { rank: penalised, end: cutEnd, next, open: fence };
      }
    };

    // Right to left: the first cut of the best possible rank found is the one to take.
    for (let line = lastLine; line >= firstLine; line--) {
      const from = Math.max(this.lineStart[line] ?? 0, start);
      const contentEnd = this.contentEnd[line] ?? 0;
      if (contentEnd <= from) continue;
      if (contentEnd <= maxEnd) {
        let gapEnd = contentEnd;
        let newlines = 0;
        while (isSpace(text, gapEnd)) {
          if (text.charAt(gapEnd) === '\n') newlines++;
          gapEnd++;
        }
        consider(line, contentEnd, gapEnd, newlines >= 2 ? RANK.paragraph : RANK.line);
        if (best?.rank === RANK.paragraph) return best;
      }
      for (let i = Math.min(contentEnd, maxEnd) - 1; i > from; i--) {
        if (!isSpace(text, i) || isSpace(text, i - 1)) continue;
        consider(line, i, skipSpace(text, i), this.protectedAt[i] ? RANK.protectedWord : RANK.word);
      }
    }
    if (best && best.rank <= RANK.hard) return best;

    // A few characters past the window let the segmenter see what follows the last position. Asked
    // position by position: walking all segments of a long window costs far more than the few asked.
    const segments = graphemes.segment(text.slice(start, maxEnd + 4));
    for (let line = lastLine; line >= firstLine; line--) {
      const from = Math.max(this.lineStart[line] ?? 0, start);
      for (let i = Math.min(this.contentEnd[line] ?? 0, maxEnd); i > from; i--) {
        if (i >= text.length || isSpace(text, i) || isSpace(text, i - 1) || splitsPair(text, i)) continue;
        if (text.charAt(i - 1) === '\\' && ASCII_PUNCTUATION.test(text.charAt(i)) && isEscape(text, i - 1)) continue;
        const rank = segments.containing(i - start)?.index === i - start ? RANK.hard : RANK.insideGrapheme;
        consider(line, i, i, rank);
        if (best && best.rank <= RANK.hard) return best;
      }
    }
    return best;
  }

  /** What a cut costs beyond its rank: fences emptied, split needlessly, or read differently. */
  private penalty(start: number, line: number, cutEnd: number, next: number, open: Fence | undefined,
    openBefore: Fence | undefined): number {
    const intended = this.textFenceAfter(line, cutEnd);
    if (intended === 'misread' || !sameFence(open, intended)) return MISREAD_PENALTY;
    let penalty = 0;
    if (open && intended?.fitsWhole && intended.lineStart >= start) penalty += SPLIT_FENCE_PENALTY;
    // This chunk's last line opens the fence: nothing of it shows here.
    if (open && !openBefore) penalty += EMPTY_FENCE_PENALTY;
    if (next < this.end) {
      const nextLine = this.lineOf[next] ?? 0;
      const rawEnd = this.rawEnd[nextLine] ?? 0;
      const nextOpen = this.transition(open, this.shape(next, rawEnd), rawEnd);
      // A line cut in two: its second part must read as it does in the text.
      if (cutEnd < (this.contentEnd[line] ?? 0)) {
        const nextIntended = this.textFenceAfter(nextLine, rawEnd);
        if (nextIntended === 'misread' || !sameFence(nextOpen, nextIntended)) return MISREAD_PENALTY;
      }
      // The next chunk's first line closes the reopened fence at once.
      if (open && !nextOpen) penalty += EMPTY_FENCE_PENALTY;
    }
    return penalty;
  }
}

/** Two reads of a fence agree: the same opening line, backticks and info string. */
function sameFence(a: Fence | undefined, b: Fence | undefined): boolean {
  if (!a || !b) return a === b;
  return a.runStart === b.runStart && a.run === b.run && a.infoEnd === b.infoEnd;
}

function isSpace(text: string, i: number): boolean {
  return i < text.length && WHITESPACE.test(text.charAt(i));
}

function skipSpace(text: string, i: number): number {
  while (isSpace(text, i)) i++;
  return i;
}

/**
 * Where the next chunk starts after a gap of whitespace [gapStart, gapEnd). Blank lines go; so does
 * the next line's indentation, except inside a fence (code indentation matters) and before ```
 * (dropping it could turn an indented line into a fence).
 */
function startAfterGap(text: string, gapStart: number, gapEnd: number, insideFence: boolean): number {
  const lineStart = text.lastIndexOf('\n', gapEnd - 1) + 1;
  if (lineStart < gapStart) return gapEnd;
  return insideFence || text.startsWith('```', gapEnd) ? lineStart : gapEnd;
}

function splitsPair(text: string, i: number): boolean {
  const before = text.charCodeAt(i - 1);
  const after = text.charCodeAt(i);
  return before >= 0xd800 && before <= 0xdbff && after >= 0xdc00 && after <= 0xdfff;
}

/** The backslash at `i` escapes the next character: it is not itself escaped. */
function isEscape(text: string, i: number): boolean {
  let count = 0;
  while (i - count >= 0 && text.charAt(i - count) === '\\') count++;
  return count % 2 === 1;
}
