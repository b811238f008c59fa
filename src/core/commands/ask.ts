import { UsageError, type CommandDefinition } from './command.js';

/** `/ask <question>`: the way to ask where plain messages are not read (groups, channels). */
export const ask: CommandDefinition = {
  name: 'ask',
  description: 'Ask the assistant a question',
  usage: '/ask <question>',
  args: [{ name: 'question', description: 'Your question', type: 'string', required: true }],
  adminOnly: false,
  async run(ctx) {
    if (ctx.args === '') throw new UsageError('Add your question after the command.');
    await ctx.ask(ctx.args);
  },
};
