import { oneLine, UsageError, type CommandDefinition } from './command.js';

/** `/website <id>`: binds this space (guild, workspace, chat) to one of the account's websites. */
export const website: CommandDefinition = {
  name: 'website',
  description: 'Choose which website this space uses',
  usage: '/website <id>',
  args: [{ name: 'id', description: 'Website id, from /websites', type: 'integer', required: true }],
  adminOnly: true,
  async run(ctx) {
    const list = await ctx.client.websites();
    if (ctx.args === '') {
      const current = list.find((w) => w.id === ctx.websiteId) ?? list.find((w) => w.is_primary);
      await ctx.reply.text(current ? `This space uses \`${current.id}\` ${current.name} (${current.domain}).` : 'This space uses the primary website.');
      return;
    }
    if (!/^\d+$/.test(ctx.args)) throw new UsageError(`"${oneLine(ctx.args, 40)}" is not a website id.`);
    const chosen = list.find((w) => w.id === Number(ctx.args));
    if (!chosen) {
      await ctx.reply.text(`There is no website with id \`${oneLine(ctx.args, 40)}\`. See /websites.`);
      return;
    }
    await ctx.websites.bind(ctx.incoming.spaceKey, chosen.id);
    await ctx.reply.text(`This space now uses \`${chosen.id}\` ${chosen.name} (${chosen.domain}).`);
  },
};
