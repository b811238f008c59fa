import { UsageError, type CommandDefinition } from './command.js';

/** The API refuses shorter content; checked here so the admin gets a clear answer. */
const MIN_CONTENT = 10;

/** `/kb-add Title | content` (or title on the first line, content below): a text entry. */
export const kbAdd: CommandDefinition = {
  name: 'kb-add',
  description: 'Add a text entry to the knowledge base',
  usage: '/kb-add <title> | <content>',
  args: [
    { name: 'title', description: 'Title of the entry', type: 'string', required: true },
    { name: 'content', description: 'The text (at least 10 characters)', type: 'string', required: true },
  ],
  adminOnly: true,
  form: {
    title: 'Add to the knowledge base',
    fields: [
      { id: 'title', label: 'Title', maxLength: 200 },
      { id: 'content', label: 'Content', multiline: true, minLength: MIN_CONTENT },
    ],
  },
  async run(ctx) {
    const { title, content } =
      ctx.values.title !== undefined || ctx.values.content !== undefined
        ? checkTitleAndContent(ctx.values.title ?? '', ctx.values.content ?? '')
        : parseTitleAndContent(ctx.args);
    const result = await ctx.client.addKnowledgeText({ title, content, websiteId: ctx.websiteId });
    await ctx.reply.text(`Added **${result.title}** (id \`${result.id}\`, ${result.chunks_created} chunk${result.chunks_created === 1 ? '' : 's'}).`);
  },
};

/** `Title | content`, or the first line as title and the rest as content. */
function parseTitleAndContent(args: string): { title: string; content: string } {
  const bar = args.indexOf('|');
  const newline = args.indexOf('\n');
  let title: string;
  let content: string;
  if (bar >= 0 && (newline < 0 || bar < newline)) {
    title = args.slice(0, bar);
    content = args.slice(bar + 1);
  } else if (newline >= 0) {
    title = args.slice(0, newline);
    content = args.slice(newline + 1);
  } else {
    throw new UsageError('Give a title and the content, separated by "|" or a line break.');
  }
  return checkTitleAndContent(title, content);
}

/** Trims both and refuses what the API would refuse, in words. */
function checkTitleAndContent(rawTitle: string, rawContent: string): { title: string; content: string } {
  const title = rawTitle.trim();
  const content = rawContent.trim();
  if (title === '') throw new UsageError('The title is empty.');
  if (content.length < MIN_CONTENT) throw new UsageError(`The content must have at least ${MIN_CONTENT} characters.`);
  return { title, content };
}
