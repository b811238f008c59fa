/**
 * Chat behaviour over real HTTP: sessions and history, follow-up context, lead extraction,
 * escalation, and the monthly message limit of the plan.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AccountResponse,
  ChatResponse,
  ConversationResponse,
  ErrorBody,
  LeadsResponse,
  SessionsResponse,
} from '../../src/asyntai/types.js';
import { startEmulator, type EmulatorHandle } from '../../src/emulator/server.js';
import { call } from './emulator-helpers.js';

let emu: EmulatorHandle;
const api = (method: string, path: string, body?: unknown) => call(emu.url, emu.apiKey, method, path, { body });
const chat = async (message: string, sessionId?: string): Promise<string> =>
  ChatResponse.parse((await api('POST', 'chat/', { message, session_id: sessionId })).body).response;

beforeAll(async () => {
  emu = await startEmulator();
});
afterAll(async () => {
  await emu.close();
});

describe('answers', () => {
  it('answers the sample business hours question with the hours', async () => {
    expect(await chat('What are your business hours?')).toMatch(/Monday to Friday, 9 AM to 6 PM/);
  });

  it('uses earlier turns of the same session for a follow-up', async () => {
    await api('POST', 'knowledge/text/', { title: 'Kayaks', content: 'Kayak rental costs $20 an hour, life jackets included.' });
    await api('POST', 'knowledge/text/', { title: 'Bikes', content: 'Bike rental costs $15 a day, helmets included.' });
    expect(await chat('Do you rent kayaks?', 'follow-kayak')).toMatch(/\$20 an hour/);
    expect(await chat('Do you rent bikes?', 'follow-bike')).toMatch(/\$15 a day/);
    // The same follow-up is answered from the topic of each conversation.
    expect(await chat('And what does it cost?', 'follow-kayak')).toMatch(/^Kayak rental costs \$20/);
    expect(await chat('And what does it cost?', 'follow-bike')).toMatch(/^Bike rental costs \$15/);
    // A new question does not lean on the earlier topic.
    expect(await chat('Where can I park?', 'follow-kayak')).toMatch(/couldn't find/);
  });

  it('falls back politely when nothing matches', async () => {
    expect(await chat('What is the airspeed velocity of an unladen swallow?')).toMatch(/couldn't find anything/);
  });

  it('hands off to a human when asked', async () => {
    for (const message of ['Can I talk to a person?', 'I want a human', 'let me speak to someone please', 'agent!']) {
      expect(await chat(message)).toMatch(/follow up/);
    }
  });
});

describe('sessions, history and leads', () => {
  it('keeps history per session and lists sessions most recent first', async () => {
    await chat('Do you have gift cards?', 'hist-a');
    await chat('Can I return sale items?', 'hist-b');
    await chat('What about refunds?', 'hist-a');
    const conv = ConversationResponse.parse((await api('GET', 'conversations/?session_id=hist-a')).body);
    expect(conv.messages.filter((m) => m.role === 'user').map((m) => m.content)).toEqual(['Do you have gift cards?', 'What about refunds?']);
    const { sessions } = SessionsResponse.parse((await api('GET', 'sessions/?source=api')).body);
    expect(sessions.slice(0, 2).map((s) => s.session_id)).toEqual(['hist-a', 'hist-b']);
    expect(sessions[0]).toMatchObject({ message_count: 4, first_message: 'Do you have gift cards?', source: 'api' });
    expect(SessionsResponse.parse((await api('GET', 'sessions/?source=whatsapp')).body).sessions).toEqual([]);
    expect((await api('GET', 'sessions/?source=carrier-pigeon')).status).toBe(400);
  });

  it('turns emails and phone numbers into one lead per session, updated', async () => {
    await chat('Hi, I have a question about tents', 'lead-1');
    await chat('You can reach me at Jane.Doe@Example.com', 'lead-1');
    await chat('or call +1 (555) 123-4567 after 5', 'lead-1');
    await chat('My order 2024-01-15 arrived late', 'no-lead');
    const { leads } = LeadsResponse.parse((await api('GET', 'leads/')).body);
    const mine = leads.filter((l) => l.session_id === 'lead-1');
    expect(mine).toEqual([
      { session_id: 'lead-1', email: 'jane.doe@example.com', phone: '+15551234567', page_url: null, started_at: expect.any(String) as string },
    ]);
    const history = ConversationResponse.parse((await api('GET', 'conversations/?session_id=lead-1')).body);
    expect(mine[0]?.started_at).toBe(history.messages[0]?.timestamp);
    expect(leads.some((l) => l.session_id === 'no-lead')).toBe(false);
  });
});

describe('monthly message limit', () => {
  it('allows 100 messages on the free plan and answers 429 on the 101st', async () => {
    const free = await startEmulator({ plan: 'free' });
    try {
      for (let i = 0; i < 100; i++) {
        const res = await call(free.url, free.apiKey, 'POST', 'chat/', { body: { message: `question ${i}`, session_id: 'busy' } });
        expect(res.status).toBe(200);
      }
      const over = await call(free.url, free.apiKey, 'POST', 'chat/', { body: { message: 'one more', session_id: 'busy' } });
      expect(over.status).toBe(429);
      expect(ErrorBody.parse(over.body).error).toMatch(/limit/i);
      const { account } = AccountResponse.parse((await call(free.url, free.apiKey, 'GET', 'account/')).body);
      expect(account).toMatchObject({ plan: 'free', messages_used: 100, messages_limit: 100 });
      // The refused message is not part of the history.
      const conv = ConversationResponse.parse((await call(free.url, free.apiKey, 'GET', 'conversations/?session_id=busy&limit=100')).body);
      expect(conv.messages.at(-2)?.content).toBe('question 99');
    } finally {
      await free.close();
    }
  });

  it('reports each plan limit', async () => {
    for (const [plan, limit] of [['standard', 15_000], ['pro', 50_000]] as const) {
      const handle = await startEmulator({ plan, seed: false });
      const { account } = AccountResponse.parse((await call(handle.url, handle.apiKey, 'GET', 'account/')).body);
      expect(account).toMatchObject({ plan, messages_limit: limit, messages_used: 0 });
      await handle.close();
    }
  });
});
