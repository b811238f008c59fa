/**
 * Core regressions found by hostile testing: a STORE_URL whose folder cannot be created fails
 * start-up with a StoreOpenError instead of hanging it, and a usage error quotes a short excerpt of
 * a huge argument rather than echoing it back.
 */
import { describe, expect, it } from 'vitest';
import { parseCount, UsageError } from '../../src/core/commands/command.js';
import { MESSAGES } from '../../src/core/user-messages.js';
import { openStore, StoreOpenError } from '../../src/core/state-store.js';

describe('openStore', () => {
  it('fails with StoreOpenError, not a hang, when the folder cannot be created (/proc/x)', async () => {
    await expect(openStore('sqlite:///proc/x/db.sqlite')).rejects.toThrow(StoreOpenError);
    await expect(openStore('sqlite:///proc/x/y/db.sqlite')).rejects.toThrow(/Cannot open store/);
  });
});

describe('usage errors', () => {
  it('quote at most a short excerpt of a 9,000-character argument', () => {
    const huge = `x${'y'.repeat(9_000)}`;
    let problem = '';
    try {
      parseCount(huge, 10);
    } catch (err) {
      expect(err).toBeInstanceOf(UsageError);
      problem = (err as Error).message;
    }
    expect(problem).toMatch(/is not a number/);
    expect(problem).toContain('xyyy');
    const answer = MESSAGES.usage('/history [count]', problem);
    expect(answer.length).toBeLessThan(200);
  });
});
