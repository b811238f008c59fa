/**
 * Composes chat answers the way a retrieval-backed assistant would, without a language model:
 * the most relevant sentences of the best matching chunk(s), canned replies for greetings and
 * thanks, a hand-off when the visitor asks for a person, and a polite fallback otherwise.
 */
import { splitSentences, termsOf, type KnowledgeIndex } from './knowledge.js';

/** What /chat/ answers and whether the answer escalates to a human. */
export interface Answer {
  response: string;
  escalated: boolean;
}

const ESCALATION_REPLY =
  "I've let our team know you'd like to talk to a person. A member of staff will follow up with you here shortly.";
const FALLBACK_REPLY =
  "I'm sorry, I couldn't find anything about that in our knowledge base. Could you rephrase the question, or would you like to talk to a person?";

const HUMAN_REQUEST =
  /\b(humans?|(real|actual|live) (person|people|agent)|(talk|speak|chat) (to|with) (a |an |some )?(person|someone|somebody|agent|representative|staff|manager)|agents?|representative|operator)\b/i;
const GREETING = /^\s*(hi|hello|hey|good (morning|afternoon|evening)|howdy)\b[\s!.,]*(there)?[\s!.]*$/i;
const THANKS = /^\s*(thanks|thank you|thx|cheers|great,? thanks)\b[^?]*$/i;
/** A follow-up that refers back ("and on Sundays?", "how long does it take?") may lean on earlier turns; a new question must not. */
const FOLLOW_UP = /^\s*(and|but|also|so|what about|how about)\b|\b(it|its|that|this|they|them|those|these|there|one)\b/i;

/** Sentences shown from the best chunk; chunks up to WHOLE_CHUNK_CHARS are shown whole. */
const MAX_SENTENCES = 3;
const WHOLE_CHUNK_CHARS = 200;
/** A second chunk is quoted too when it scores at least this share of the best one. */
const SECOND_CHUNK_SHARE = 0.8;

/** Whether the visitor asks to talk to a person. */
function wantsHuman(message: string): boolean {
  return HUMAN_REQUEST.test(message);
}

/** Answers `message` from a website's knowledge, using `earlierTurns` (user messages, oldest first) as context. */
export function composeAnswer(index: KnowledgeIndex, websiteId: number, message: string, earlierTurns: string[]): Answer {
  if (wantsHuman(message)) return { response: ESCALATION_REPLY, escalated: true };
  if (GREETING.test(message)) return { response: 'Hello! How can I help you today?', escalated: false };
  if (THANKS.test(message)) return { response: "You're welcome! Is there anything else I can help you with?", escalated: false };

  const context = FOLLOW_UP.test(message) ? earlierTurns.slice(-2) : [];
  const hits = index.find(websiteId, message, context);
  const best = hits[0];
  if (best === undefined) return { response: FALLBACK_REPLY, escalated: false };

  const queryTerms = termsOf(message);
  for (const turn of context) for (const t of termsOf(turn)) queryTerms.add(t);
  const parts = [excerpt(best.text, queryTerms, MAX_SENTENCES)];
  const second = hits.find((h) => h.entryId !== best.entryId && h.score >= best.score * SECOND_CHUNK_SHARE);
  if (second !== undefined) parts.push(excerpt(second.text, queryTerms, 1));
  return { response: parts.join('\n\n'), escalated: false };
}

/** The chunk itself when short, else its sentences that share the most terms with the query, in reading order. */
function excerpt(text: string, queryTerms: Set<string>, maxSentences: number): string {
  if (text.length <= WHOLE_CHUNK_CHARS && maxSentences > 1) return text;
  const sentences = splitSentences(text).map((s, i) => ({ s, i, score: overlap(termsOf(s), queryTerms) }));
  const relevant = sentences.filter((x) => x.score > 0).sort((a, b) => b.score - a.score || a.i - b.i);
  const chosen = (relevant.length > 0 ? relevant : sentences).slice(0, maxSentences).sort((a, b) => a.i - b.i);
  return chosen.map((x) => x.s).join(' ');
}

/** Query terms found in a sentence, counting a prefix either way as a match ("park" ~ "parking"). */
function overlap(sentenceTerms: Set<string>, queryTerms: Set<string>): number {
  let n = 0;
  for (const q of queryTerms) {
    for (const s of sentenceTerms) {
      if (s === q || (q.length >= 4 && s.startsWith(q)) || (s.length >= 4 && q.startsWith(s))) {
        n += 1;
        break;
      }
    }
  }
  return n;
}

const EMAIL = /[A-Z0-9._%+-]+@[A-Z0-9-]+(?:\.[A-Z0-9-]+)*\.[A-Z]{2,}/i;
const PHONE = /(?:\+|\b)\d[\d ().-]{5,}\d\b/g;

/** The first email address and phone number in a message, phone normalised to `+` and digits. */
export function extractContacts(text: string): { email: string | null; phone: string | null } {
  const email = EMAIL.exec(text)?.[0].toLowerCase() ?? null;
  let phone: string | null = null;
  for (const m of text.matchAll(PHONE)) {
    const raw = m[0];
    const digits = raw.replace(/\D/g, '');
    // Dates and short numbers (order ids, prices) are not phone numbers.
    if (digits.length < 7 || digits.length > 15 || /^\d{4}-\d{2}-\d{2}$/.test(raw)) continue;
    phone = (raw.startsWith('+') ? '+' : '') + digits;
    break;
  }
  return { email, phone };
}
