import type { CommandDefinition } from './command.js';

/** `/help`: what this user may run, with usage lines. */
export const help: CommandDefinition = {
  name: 'help',
  description: 'List the commands you can use',
  usage: '/help',
  args: [],
  adminOnly: false,
  async run(ctx) {
    const lines = ctx.available.map((c) => `\`${c.usage}\` — ${c.description}`);
    const count = lines.length === 1 ? 'this command' : `one of these ${lines.length} commands`;
    await ctx.reply.text([`Ask me anything by sending a message, or use ${count}:`, '', ...lines].join('\n'));
  },
};
