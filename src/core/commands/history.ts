import { parseCount, type CommandDefinition } from './command.js';

/** `/history [n]`: the last turns of this thread's own conversation. */
export const history: CommandDefinition = {
  name: 'history',
  description: 'Show the last messages of this conversation',
  usage: '/history [count]',
  args: [{ name: 'count', description: 'How many messages (1-50)', type: 'integer', required: false }],
  adminOnly: false,
  async run(ctx) {
    const count = parseCount(ctx.args, 10, 50);
    const sessionId = await ctx.sessions.peek(ctx.incoming.threadKey);
    const messages = sessionId ? await ctx.client.conversation(sessionId, { limit: 100 }) : [];
    if (messages.length === 0) {
      await ctx.reply.text('There is no conversation in this thread yet.');
      return;
    }
    const lines = messages.slice(-count).map((m) => `**${m.role === 'user' ? 'You' : 'Assistant'}:** ${m.content}`);
    await ctx.reply.text(lines.join('\n\n'));
  },
};
