import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { SessionMap } from '../../src/core/session-map.js';
import type { PlatformName } from '../../src/core/types.js';
import { BACKENDS, createBackend, redisUrl, warnIfRedisSkipped } from './store-backends.js';

warnIfRedisSkipped();

const ID = /^(tg|sl|dc|sh)-[A-Za-z0-9_-]{20}$/;

for (const name of BACKENDS) {
  describe.skipIf(name === 'redis' && !redisUrl)(`SessionMap on ${name}`, () => {
    const backend = createBackend(name);
    afterEach(() => backend.closeAll());
    afterAll(() => backend.cleanup());

    it('mints once, keeps the id, and maps it back', async () => {
      const sessions = new SessionMap(await backend.open());
      expect(await sessions.peek('telegram:42')).toBeUndefined();
      const id = await sessions.sessionFor('telegram:42', 'telegram');
      expect(id).toMatch(ID);
      expect(await sessions.sessionFor('telegram:42', 'telegram')).toBe(id);
      expect(await sessions.peek('telegram:42')).toBe(id);
      expect(await sessions.threadOf(id)).toBe('telegram:42');
      expect(await sessions.threadOf('tg-unknown')).toBeUndefined();
    });

    it('prefixes ids by platform', async () => {
      const sessions = new SessionMap(await backend.open());
      const cases: [PlatformName, string, string][] = [
        ['telegram', 'telegram:1:u2', 'tg-'],
        ['slack', 'slack:T1:C1:1700000000.000100', 'sl-'],
        ['discord', 'discord:dm:99', 'dc-'],
        ['shell', 'shell:local', 'sh-'],
      ];
      for (const [platform, thread, prefix] of cases) {
        const id = await sessions.sessionFor(thread, platform);
        expect(id.startsWith(prefix)).toBe(true);
        expect(id).toMatch(ID);
      }
    });

    it('50 parallel first calls on one thread get one id', async () => {
      const sessions = new SessionMap(await backend.open());
      const ids = await Promise.all(Array.from({ length: 50 }, () => sessions.sessionFor('slack:T1:D1', 'slack')));
      expect(new Set(ids).size).toBe(1);
      expect(await sessions.threadOf(ids[0] ?? '')).toBe('slack:T1:D1');
    });

    // Only stores that two instances can share (not memory://) have these cases.
    if (backend.shared) {
      it('two instances racing on one thread get one id', async () => {
        const [a, b] = await Promise.all([backend.open(), backend.open()]);
        const [onA, onB] = [new SessionMap(a), new SessionMap(b)];
        const ids = await Promise.all(
          Array.from({ length: 50 }, (_, i) => (i % 2 === 0 ? onA : onB).sessionFor('discord:G1:T1', 'discord')),
        );
        expect(new Set(ids).size).toBe(1);
        const id = ids[0] ?? '';
        expect(await onA.threadOf(id)).toBe('discord:G1:T1');
        expect(await onB.threadOf(id)).toBe('discord:G1:T1');
      });

      it('keeps ids and the reverse mapping across a restart', async () => {
        const before = await backend.open();
        const id = await new SessionMap(before).sessionFor('telegram:7:t3', 'telegram');
        await before.close();
        const after = new SessionMap(await backend.open());
        expect(await after.peek('telegram:7:t3')).toBe(id);
        expect(await after.sessionFor('telegram:7:t3', 'telegram')).toBe(id);
        expect(await after.threadOf(id)).toBe('telegram:7:t3');
      });

      it("another instance's id is found at once, and its /reset within the cache's lifetime", async () => {
        const [a, b] = await Promise.all([backend.open(), backend.open()]);
        const onA = new SessionMap(a);
        const onB = new SessionMap(b, undefined, 200);
        // "No session yet" is never cached: an id minted elsewhere is seen at once.
        expect(await onB.peek('slack:T1:C1:1.2')).toBeUndefined();
        const first = await onA.sessionFor('slack:T1:C1:1.2', 'slack');
        expect(await onB.sessionFor('slack:T1:C1:1.2', 'slack')).toBe(first);
        const fresh = await onA.reset('slack:T1:C1:1.2', 'slack');
        // B answers from memory until its entry expires, then reads the reset.
        expect(await onB.peek('slack:T1:C1:1.2')).toBe(first);
        await new Promise((resolve) => setTimeout(resolve, 250));
        expect(await onB.peek('slack:T1:C1:1.2')).toBe(fresh);
      });
    }

    it('reset replaces the id and maps the new one back', async () => {
      const sessions = new SessionMap(await backend.open());
      const old = await sessions.sessionFor('shell:local', 'shell');
      const fresh = await sessions.reset('shell:local', 'shell');
      expect(fresh).not.toBe(old);
      expect(fresh).toMatch(/^sh-/);
      expect(await sessions.peek('shell:local')).toBe(fresh);
      expect(await sessions.sessionFor('shell:local', 'shell')).toBe(fresh);
      expect(await sessions.threadOf(fresh)).toBe('shell:local');
    });
  });
}
