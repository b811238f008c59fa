import { AsyntaiError } from '../../asyntai/errors.js';
import { UsageError, type CommandDefinition } from './command.js';

/** `/kb-delete <id>`: removes an entry (ids from `/kb-list`). */
export const kbDelete: CommandDefinition = {
  name: 'kb-delete',
  description: 'Delete a knowledge base entry',
  usage: '/kb-delete <id>',
  args: [{ name: 'id', description: 'The entry id, from /kb-list', type: 'string', required: true }],
  adminOnly: true,
  async run(ctx) {
    const id = ctx.args.replace(/`/g, '').trim();
    if (id === '' || /\s/.test(id)) throw new UsageError('Give one entry id, as /kb-list shows it.');
    try {
      await ctx.client.deleteKnowledge(id);
    } catch (err) {
      if (err instanceof AsyntaiError && err.kind === 'not_found') {
        await ctx.reply.text(`There is no knowledge entry with id \`${id}\`. See /kb-list.`);
        return;
      }
      throw err;
    }
    await ctx.reply.text(`Deleted entry \`${id}\`.`);
  },
};
