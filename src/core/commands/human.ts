import type { CommandDefinition } from './command.js';

/** `/human [reason]`: asks for a person from the team to join this conversation (human handoff). */
export const human: CommandDefinition = {
  name: 'human',
  description: 'Ask for a person from the team to join this conversation',
  usage: '/human [reason]',
  args: [{ name: 'reason', description: 'What you need a person for (optional)', type: 'string', required: false }],
  adminOnly: false,
  async run(ctx) {
    if (!ctx.handoff) {
      await ctx.reply.text('Handing this conversation to a person is not set up for this bot.');
      return;
    }
    await ctx.handoff.request(ctx.incoming, ctx.reply, ctx.args);
  },
};
