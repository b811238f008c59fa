import type { CommandDefinition } from './command.js';

/**
 * `/resume`: ends a handoff; the assistant answers again. In the customer's conversation only an
 * admin may (the handoff itself checks); in the team's thread of the handoff anyone may.
 */
export const resume: CommandDefinition = {
  name: 'resume',
  description: 'End a handoff to a person: the assistant answers again',
  usage: '/resume',
  args: [],
  adminOnly: false,
  async run(ctx) {
    if (!ctx.handoff) {
      await ctx.reply.text('Handing this conversation to a person is not set up for this bot.');
      return;
    }
    await ctx.handoff.resume(ctx.incoming, ctx.reply);
  },
};
