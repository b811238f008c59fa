/**
 * slack-app-manifest.yml stays in step with the bridge: every command of the registry is a slash
 * command there (and nothing else is), every URL is the one route the adapter serves, and the
 * events and scopes the adapter relies on are asked for.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SLACK_EVENTS_PATH } from '../../adapters/slack/slack-adapter.js';
import { COMMANDS } from '../../src/core/index.js';

const manifest = readFileSync(new URL('../../slack-app-manifest.yml', import.meta.url), 'utf8');
/** The values of `key:` lines (list items included), comments stripped. */
const valuesOf = (key: string): string[] =>
  [...manifest.matchAll(new RegExp(`^\\s*(?:- )?${key}:\\s*(.+?)\\s*(?:#.*)?$`, 'gm'))].map((m) => m[1]!);
/** The items of the list under `key:` (one per `- item` line). */
function listUnder(key: string): string[] {
  const start = manifest.search(new RegExp(`^\\s*${key}:\\s*$`, 'm'));
  expect(start, key).toBeGreaterThanOrEqual(0);
  const items: string[] = [];
  for (const line of manifest.slice(start).split('\n').slice(1)) {
    const item = /^\s*- ([^\s#]+)/.exec(line);
    if (!item) break;
    items.push(item[1]!);
  }
  return items;
}

describe('slack-app-manifest.yml', () => {
  it('declares exactly the registry’s commands, in its order', () => {
    expect(valuesOf('command')).toEqual(COMMANDS.map((c) => `/${c.name}`));
  });

  it('sends events, commands and interactivity to the route the adapter serves', () => {
    const urls = [...valuesOf('url'), ...valuesOf('request_url')];
    expect(urls).toHaveLength(COMMANDS.length + 2);
    for (const url of urls) expect(url).toBe(`https://YOUR-HOST${SLACK_EVENTS_PATH}`);
    expect(valuesOf('socket_mode_enabled')).toEqual(['false']);
  });

  it('subscribes to the events and asks for the scopes the adapter uses', () => {
    expect(listUnder('bot_events').sort()).toEqual(['app_mention', 'message.channels', 'message.groups', 'message.im', 'message.mpim']);
    const scopes = listUnder('bot');
    for (const scope of ['app_mentions:read', 'channels:history', 'groups:history', 'im:history', 'mpim:history', 'chat:write', 'commands', 'files:read', 'files:write', 'reactions:write', 'im:write']) {
      expect(scopes).toContain(scope);
    }
  });
});
