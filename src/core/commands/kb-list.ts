import { oneLine, parseCount, type CommandDefinition } from './command.js';

/** `/kb-list [n]`: knowledge base entries with their ids, for `/kb-delete`. */
export const kbList: CommandDefinition = {
  name: 'kb-list',
  description: 'List knowledge base entries',
  usage: '/kb-list [count]',
  args: [{ name: 'count', description: 'How many entries (1-100)', type: 'integer', required: false }],
  adminOnly: true,
  async run(ctx) {
    const entries = await ctx.client.listKnowledge({ limit: parseCount(ctx.args, 20), websiteId: ctx.websiteId });
    if (entries.length === 0) {
      await ctx.reply.text('The knowledge base is empty. Add to it with /kb-add, /kb-url or /kb-upload.');
      return;
    }
    const lines = entries.map((e) => `• \`${e.id}\` ${oneLine(e.title, 60)} (${e.type}, ${e.created_at.slice(0, 10)})`);
    await ctx.reply.text([`**Knowledge base (${entries.length}):**`, ...lines].join('\n'));
  },
};
