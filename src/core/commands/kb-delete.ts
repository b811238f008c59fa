import { AsyntaiError } from '../../asyntai/errors.js';
import { oneLine, UsageError, type CommandDefinition } from './command.js';

/** Discord shows at most 25 choices of at most 100 characters. */
const MAX_CHOICES = 25;
const MAX_CHOICE_LENGTH = 100;

/** `/kb-delete <id>`: removes an entry (ids from `/kb-list`). */
export const kbDelete: CommandDefinition = {
  name: 'kb-delete',
  description: 'Delete a knowledge base entry',
  usage: '/kb-delete <id>',
  args: [{ name: 'id', description: 'The entry id, from /kb-list', type: 'string', required: true }],
  adminOnly: true,
  confirmation: 'Delete this knowledge entry? This cannot be undone.',
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
  /** Titles matching what was typed (or the id itself), newest first as the API lists them. */
  async complete(ctx, _argument, partial) {
    const needle = partial.trim().toLowerCase();
    const entries = await ctx.client.listKnowledge({ limit: 100, websiteId: ctx.websiteId }, { signal: ctx.signal });
    return entries
      .filter((e) => needle === '' || e.title.toLowerCase().includes(needle) || e.id.toLowerCase().startsWith(needle))
      .slice(0, MAX_CHOICES)
      .map((e) => ({ name: oneLine(`${e.title} (${e.id})`, MAX_CHOICE_LENGTH), value: e.id.slice(0, MAX_CHOICE_LENGTH) }));
  },
};
