/**
 * The words users read when something goes wrong. One place, so every platform says the same
 * thing and none of them leaks internals (status codes, keys, stack traces).
 */
import { AsyntaiError } from '../asyntai/errors.js';

export const MESSAGES = {
  tooLong: (limit: number) => `That message is too long for me (over ${limit.toLocaleString('en-US')} characters). Please shorten it and send it again.`,
  rateLimited: (seconds: number) => `You're sending messages faster than I can answer. Please wait ${seconds} second${seconds === 1 ? '' : 's'} and try again.`,
  queueFull: 'I am still working on your earlier messages. Please wait for my answers before sending more.',
  adminOnly: (name: string) => `/${name} is only for admins of this bot.`,
  privateOnly: (name: string) => `/${name} shows personal data, so I only answer it in a private chat with an admin.`,
  unknownCommand: (name: string, suggestion?: string) =>
    `I don't know the command /${name}.${suggestion ? ` Did you mean /${suggestion}?` : ''} Send /help to see what I can do.`,
  storeUnavailable: 'I cannot reach my memory right now, so I cannot answer. Please try again shortly.',
  sentToDm: 'I sent it to you in a direct message, since it contains personal data.',
  fileNotPrivate: 'The CSV file is not available here: this platform cannot send a file only you can see.',
  usage: (usage: string, problem: string) => `${problem}\nUsage: \`${usage}\``,
} as const;

/** What the user reads for an error, by kind. `reference` ties the answer to the log line. */
export function describeError(err: unknown, reference: string): string {
  if (err instanceof AsyntaiError) {
    switch (err.kind) {
      case 'rate_limited':
        return 'The assistant has reached its monthly message limit, so it cannot answer right now. An admin can check the plan with /usage.';
      case 'unavailable':
      case 'timeout':
      case 'network':
        return 'The assistant is not reachable right now. Please try again in a moment.';
      case 'unauthorized':
        return 'This bot is not set up correctly (the assistant refused its API key). An admin has been notified in the logs.';
      case 'bad_request':
        return `The assistant could not accept that request${err.apiError ? `: ${err.apiError}` : ''}.`;
      default:
        break;
    }
  }
  return `Sorry, something went wrong on my side. (reference ${reference})`;
}

/**
 * The name in `names` closest to `typed` by edit distance, when it is close enough to be a typo
 * (at most 2 edits, and fewer than half the letters), for "did you mean /kb-add?".
 */
export function closestName(typed: string, names: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.min(3, Math.ceil(typed.length / 2));
  for (const name of names) {
    const d = editDistance(typed, name);
    if (d < bestDistance) [best, bestDistance] = [name, d];
  }
  return best;
}

/** Levenshtein distance; command names are short, so the quadratic table is tiny. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}
