import { extname } from 'node:path';
import { UsageError, type CommandDefinition } from './command.js';

/** Spreadsheets bigger than this are refused before download (the API's own cap is unknown). */
const MAX_UPLOAD_BYTES = 10 * 1024 * 1024;

/** What the API takes; the client sets the content type from the extension. */
const SPREADSHEET_EXTENSIONS = new Set(['.csv', '.xlsx']);

/** `/kb-upload` with a .csv or .xlsx attached: each row becomes a knowledge entry. */
export const kbUpload: CommandDefinition = {
  name: 'kb-upload',
  description: 'Add a CSV or XLSX spreadsheet to the knowledge base (one entry per row)',
  usage: '/kb-upload (with a .csv or .xlsx file attached)',
  args: [{ name: 'file', description: 'A .csv or .xlsx file, first row = headers', type: 'attachment', required: true }],
  adminOnly: true,
  async run(ctx) {
    const file = ctx.incoming.attachments[0];
    if (!file) throw new UsageError('Attach a .csv or .xlsx file to the command.');
    if (!SPREADSHEET_EXTENSIONS.has(extname(file.name).toLowerCase())) {
      await ctx.reply.text(`**${file.name}** is not a spreadsheet I can add: send a .csv or .xlsx file.`);
      return;
    }
    if (file.size !== undefined && file.size > MAX_UPLOAD_BYTES) {
      await ctx.reply.text(`**${file.name}** is too large (${(file.size / 1048576).toFixed(1)} MB); the limit is ${MAX_UPLOAD_BYTES / 1048576} MB.`);
      return;
    }
    const data = await file.download();
    if (data.length > MAX_UPLOAD_BYTES) {
      await ctx.reply.text(`**${file.name}** is too large; the limit is ${MAX_UPLOAD_BYTES / 1048576} MB.`);
      return;
    }
    const result = await ctx.client.uploadSpreadsheet({ data, filename: file.name }, { websiteId: ctx.websiteId });
    await ctx.reply.text(
      `Added **${result.title}**: ${result.rows_processed} row${result.rows_processed === 1 ? '' : 's'} processed, ${result.chunks_created} chunk${result.chunks_created === 1 ? '' : 's'} created (id \`${result.id}\`).`,
    );
  },
};
