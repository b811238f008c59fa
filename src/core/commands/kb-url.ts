import { oneLine, UsageError, type CommandDefinition } from './command.js';

/** `/kb-url <url>`: the service fetches the page and adds its text. */
export const kbUrl: CommandDefinition = {
  name: 'kb-url',
  description: 'Add a web page to the knowledge base',
  usage: '/kb-url <url>',
  args: [{ name: 'url', description: 'An http(s) address', type: 'string', required: true }],
  adminOnly: true,
  async run(ctx) {
    // Slack wraps links as <https://…> or <https://…|label>.
    const raw = ctx.args.replace(/^<([^|>]+)(\|[^>]*)?>$/, '$1').trim();
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw new UsageError(raw === '' ? 'Give the address of the page.' : `"${oneLine(raw, 40)}" is not a web address.`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError('Only http and https addresses can be added.');
    const result = await ctx.client.addKnowledgeUrl({ url: url.href, websiteId: ctx.websiteId });
    await ctx.reply.text(`Added **${result.title}** from ${result.url} (id \`${result.id}\`, ${result.chunks_created} chunk${result.chunks_created === 1 ? '' : 's'}).`);
  },
};
