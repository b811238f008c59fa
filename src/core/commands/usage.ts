import type { CommandDefinition } from './command.js';

/** `/usage`: messages used of the plan's monthly limit, with a bar and the days left. */
export const usage: CommandDefinition = {
  name: 'usage',
  description: "Show this month's message usage",
  usage: '/usage',
  args: [],
  adminOnly: true,
  async run(ctx) {
    const account = await ctx.client.account();
    const { messages_used: used, messages_limit: limit } = account;
    const ratio = limit > 0 ? Math.min(1, used / limit) : 1;
    const percent = limit > 0 ? Math.round((used / limit) * 100) : 100;
    const filled = Math.round(ratio * 20);
    await ctx.reply.text(
      [
        `**Plan:** ${account.plan}`,
        `**Messages:** ${used.toLocaleString('en-US')} / ${limit.toLocaleString('en-US')} (${percent}%)`,
        `\`${'█'.repeat(filled)}${'░'.repeat(20 - filled)}\``,
        `${daysLeftInMonth(new Date())} days left this month.`,
      ].join('\n'),
    );
  },
};

/** Days after today until the month ends (UTC), today not counted. */
function daysLeftInMonth(now: Date): number {
  const last = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 0)).getUTCDate();
  return last - now.getUTCDate();
}
