/**
 * The Slack adapter's pure helpers: what a user typed, recovered from Slack's markup; the thread
 * keys `send` decodes; the v0 request signature.
 */
import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseThreadKey, plainText } from '../../adapters/slack/slack-adapter.js';
import { verifySignature } from '../../adapters/slack/slack-http-receiver.js';

describe('plainText', () => {
  it('removes the bot mention and turns markup back into what the user saw', () => {
    expect(plainText('<@U0BOT> where is <https://shop.example/a|my order>?', 'U0BOT')).toBe('where is https://shop.example/a?');
    expect(plainText('<@U0BOT|asyntai>   mail <mailto:vic@example.com|vic@example.com> or call <tel:+15550100|+1 555 0100>', 'U0BOT')).toBe(
      'mail vic@example.com or call +1 555 0100',
    );
    expect(plainText('ask <@U0ADA|ada> in <#C0GEN|general>, <!here>', 'U0BOT')).toBe('ask @ada in #general, @here');
    expect(plainText('fish &amp; chips &lt;b&gt;', 'U0BOT')).toBe('fish & chips <b>');
  });

  it('keeps line breaks (a title on the first line, content below)', () => {
    expect(plainText('Gift wrap\nWe wrap gifts for free.')).toBe('Gift wrap\nWe wrap gifts for free.');
  });
});

describe('parseThreadKey', () => {
  it('decodes every key the adapter makes and bare channels', () => {
    expect(parseThreadKey('slack:C0123')).toEqual({ channel: 'C0123' });
    expect(parseThreadKey('slack:T1:D0ADA')).toEqual({ channel: 'D0ADA' });
    expect(parseThreadKey('slack:T1:C0GEN:1712345678.000100')).toEqual({ channel: 'C0GEN', threadTs: '1712345678.000100' });
    expect(parseThreadKey('slack:T1:C0GEN:uU0ADA')).toEqual({ channel: 'C0GEN', user: 'U0ADA' });
  });

  it('refuses keys of other platforms and malformed ones', () => {
    for (const key of ['telegram:42', 'slack:', 'slack:T1:C0GEN:nonsense', 'slack:general', 'slack:T1:C0GEN:1.2:extra']) {
      expect(parseThreadKey(key), key).toBeUndefined();
    }
  });
});

describe('verifySignature', () => {
  const secret = 'shhh';
  const now = 1_700_000_000_000;
  const sign = (body: string, ts: number) => `v0=${createHmac('sha256', secret).update(`v0:${ts}:${body}`).digest('hex')}`;
  const headers = (body: string, ts: number, signature = sign(body, ts)) => ({ 'x-slack-request-timestamp': String(ts), 'x-slack-signature': signature });

  it('accepts a fresh, correct signature', () => {
    expect(verifySignature(secret, headers('a=1', now / 1000), 'a=1', now)).toBeUndefined();
  });

  it('refuses a missing, stale, altered or differently-keyed signature', () => {
    expect(verifySignature(secret, {}, 'a=1', now)).toBe('missing signature');
    expect(verifySignature(secret, headers('a=1', now / 1000 - 301), 'a=1', now)).toBe('stale timestamp');
    expect(verifySignature(secret, headers('a=1', now / 1000 + 301), 'a=1', now)).toBe('stale timestamp');
    expect(verifySignature(secret, headers('a=1', now / 1000), 'a=2', now)).toBe('bad signature');
    expect(verifySignature(secret, headers('a=1', now / 1000, 'v0=short'), 'a=1', now)).toBe('bad signature');
    expect(verifySignature('other', headers('a=1', now / 1000), 'a=1', now)).toBe('bad signature');
  });
});
