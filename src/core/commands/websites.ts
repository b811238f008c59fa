import type { CommandDefinition } from './command.js';

/** `/websites`: the account's websites, marking the one this space uses. */
export const websites: CommandDefinition = {
  name: 'websites',
  description: 'List the websites of the Asyntai account',
  usage: '/websites',
  args: [],
  adminOnly: true,
  async run(ctx) {
    const list = await ctx.client.websites();
    if (list.length === 0) {
      await ctx.reply.text('The account has no websites.');
      return;
    }
    const inUse = ctx.websiteId ?? list.find((w) => w.is_primary)?.id;
    const lines = list.map((w) => `${w.id === inUse ? '▶' : '•'} \`${w.id}\` ${w.name} (${w.domain})${w.is_primary ? ' — primary' : ''}`);
    await ctx.reply.text([...lines, '', 'Use /website <id> to switch this space to another website.'].join('\n'));
  },
};
