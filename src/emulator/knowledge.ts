/**
 * Knowledge chunking and retrieval. Text is cut into chunks at paragraph, then sentence, then
 * word boundaries; chunks are indexed with MiniSearch (BM25) per website. Terms are lower-cased,
 * stop words dropped and lightly stemmed so "park" finds "parking" and "hours" finds "hour".
 */
import MiniSearch, { type SearchOptions, type SearchResult } from 'minisearch';
import type { KnowledgeRecord } from './state.js';

/** Largest chunk, in characters. */
const CHUNK_MAX_CHARS = 800;

/** Splits text into chunks of at most `max` characters, preferring paragraph and sentence ends. */
export function chunkText(text: string, max = CHUNK_MAX_CHARS): string[] {
  const paragraphs = text
    .replace(/\r\n?/g, '\n')
    .split(/\n[ \t]*\n/)
    .map((p) => p.trim())
    .filter((p) => p.length > 0);
  const pieces = paragraphs.flatMap((p) =>
    p.length <= max ? [p] : pack(splitSentences(p).flatMap((s) => splitWords(s, max)), max, ' '),
  );
  return pack(pieces, max, '\n\n');
}

/** Sentences and lines of a text, trimmed, without empties. */
export function splitSentences(text: string): string[] {
  return text
    .split(/\n+|(?<=[.!?])\s+(?=[A-Z0-9"'(])/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

/** Greedily joins pieces while the result stays within `max`. */
function pack(pieces: string[], max: number, joiner: string): string[] {
  const out: string[] = [];
  let current = '';
  for (const piece of pieces) {
    if (current !== '' && current.length + joiner.length + piece.length > max) {
      out.push(current);
      current = piece;
    } else {
      current = current === '' ? piece : current + joiner + piece;
    }
  }
  if (current !== '') out.push(current);
  return out;
}

/** Cuts an over-long sentence at spaces (or hard, for a single giant word). */
function splitWords(sentence: string, max: number): string[] {
  if (sentence.length <= max) return [sentence];
  const words = sentence.split(/\s+/).flatMap((w) => (w.length <= max ? [w] : (w.match(new RegExp(`.{1,${max}}`, 'gs')) ?? [])));
  return pack(words, max, ' ');
}

const STOP_WORDS = new Set(
  ('a an the and or but nor is are was were be been being am do does did doing what whats when where which who whom ' +
    'whose how why can could would should will shall may might must i im me my mine we us our ours you your yours he she ' +
    'they them their it its this that these those to of in on at for with by from about as into onto if then so than too ' +
    'very just have has had having there here please hi hello hey thanks thank any some get got tell know want like ' +
    'need s t d ll ve re not no yes ok okay also there anything something much many more most other')
    .split(' '),
);

/** Normalises one token for indexing and matching; null drops it. */
function processTerm(term: string): string | null {
  const word = term.toLowerCase().replace(/^'+|'+$/g, '');
  if (word.length === 0 || STOP_WORDS.has(word)) return null;
  return stem(word);
}

/** Processed, distinct terms of a text. */
export function termsOf(text: string): Set<string> {
  const terms = new Set<string>();
  for (const token of text.split(/[^\p{L}\p{N}']+/u)) {
    const t = processTerm(token);
    if (t !== null) terms.add(t);
  }
  return terms;
}

function stem(word: string): string {
  let w = word;
  if (w.length > 4 && w.endsWith('ies')) w = `${w.slice(0, -3)}y`;
  else if (w.length > 5 && w.endsWith('ing')) w = undouble(w.slice(0, -3));
  else if (w.length > 4 && w.endsWith('ed')) w = undouble(w.slice(0, -2));
  else if (w.length > 3 && w.endsWith('s') && !/(ss|us|is)$/.test(w)) w = w.slice(0, -1);
  if (w.length > 4 && w.endsWith('e')) w = w.slice(0, -1);
  return w;
}

function undouble(w: string): string {
  return /([b-df-hj-km-np-rtv-y])\1$/.test(w) ? w.slice(0, -1) : w;
}

/** One retrieved chunk. */
export interface Hit {
  entryId: string;
  title: string;
  text: string;
  score: number;
}

interface ChunkDoc {
  id: string;
  entryId: string;
  websiteId: number;
  title: string;
  text: string;
}

/** Largest share of the best direct score that earlier turns of the conversation may add. */
const CONTEXT_WEIGHT = 0.3;

/** Full-text index over every website's knowledge chunks. */
export class KnowledgeIndex {
  private readonly search = new MiniSearch<ChunkDoc>({
    fields: ['title', 'text'],
    storeFields: ['entryId', 'websiteId', 'title', 'text'],
    processTerm,
  });

  add(record: KnowledgeRecord): void {
    this.search.addAll(
      record.chunks.map((text, i) => ({
        id: `${record.id}#${i}`,
        entryId: record.id,
        websiteId: record.websiteId,
        title: record.title,
        text,
      })),
    );
  }

  remove(record: KnowledgeRecord): void {
    record.chunks.forEach((_, i) => this.search.discard(`${record.id}#${i}`));
  }

  /**
   * Best chunks of a website for `query`; `context` (earlier user turns) adds weaker evidence so
   * a follow-up such as "and on Sundays?" still finds the topic of the conversation.
   */
  find(websiteId: number, query: string, context: string[] = [], limit = 3): Hit[] {
    const options: SearchOptions = {
      filter: (r) => r['websiteId'] === websiteId,
      prefix: (term) => term.length >= 4,
      fuzzy: (term) => (term.length >= 6 ? 0.2 : false),
      boost: { title: 2 },
    };
    const scored = new Map<string, Hit>();
    const merge = (results: SearchResult[], weight: number): void => {
      for (const r of results) {
        const prev = scored.get(String(r.id));
        if (prev !== undefined) prev.score += r.score * weight;
        else
          scored.set(String(r.id), {
            entryId: String(r['entryId']),
            title: String(r['title']),
            text: String(r['text']),
            score: r.score * weight,
          });
      }
    };
    const direct = this.search.search(query, options);
    merge(direct, 1);
    if (context.length > 0) {
      // Scaled so earlier turns can reorder close matches but never outweigh the best direct one.
      const earlier = this.search.search(context.join(' '), options);
      const scale = (CONTEXT_WEIGHT * (direct[0]?.score ?? 1)) / (earlier[0]?.score ?? 1);
      merge(earlier, scale);
    }
    return [...scored.values()].sort((a, b) => b.score - a.score).slice(0, limit);
  }
}

/** A new knowledge entry of manually supplied text, chunked. */
export function textRecord(id: string, websiteId: number, title: string, content: string, createdAt: string): KnowledgeRecord {
  const words = content.split(/\s+/).filter((w) => w !== '').length;
  return {
    id,
    websiteId,
    type: 'text',
    title,
    description: `Manual text content (${words} words)`,
    url: null,
    createdAt,
    chunks: chunkText(content),
  };
}
