import { oneLine, parseCount, type CommandDefinition } from './command.js';

/** `/sessions [n]`: recent conversations on the website, all sources. */
export const sessions: CommandDefinition = {
  name: 'sessions',
  description: 'List recent conversations',
  usage: '/sessions [count]',
  args: [{ name: 'count', description: 'How many sessions (1-100)', type: 'integer', required: false }],
  adminOnly: true,
  async run(ctx) {
    const list = await ctx.client.sessions({ limit: parseCount(ctx.args, 10), websiteId: ctx.websiteId });
    if (list.length === 0) {
      await ctx.reply.text('No conversations yet.');
      return;
    }
    const lines = list.map(
      (s) => `• \`${s.session_id}\` ${s.source}, ${s.message_count} message${s.message_count === 1 ? '' : 's'}, last ${s.last_message_at?.slice(0, 16).replace('T', ' ') ?? '?'} — "${oneLine(s.first_message, 60)}"`,
    );
    await ctx.reply.text([`**Recent conversations (${list.length}):**`, ...lines].join('\n'));
  },
};
