import type { CommandDefinition } from './command.js';

/** `/reset`: a fresh conversation for this thread (a new Asyntai session id). */
export const reset: CommandDefinition = {
  name: 'reset',
  description: 'Start a new conversation in this thread',
  usage: '/reset',
  args: [],
  adminOnly: false,
  async run(ctx) {
    await ctx.sessions.reset(ctx.incoming.threadKey, ctx.incoming.platform);
    await ctx.reply.text('Started a new conversation. The assistant no longer remembers what was said here before.');
  },
};
