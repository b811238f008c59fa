import type { Lead } from '../../asyntai/types.js';
import { oneLine, parseCount, type CommandDefinition } from './command.js';

/** `/leads [n]`: contacts visitors left, as a compact list plus a CSV file where files work. */
export const leads: CommandDefinition = {
  name: 'leads',
  description: 'Show recent leads (emails and phone numbers visitors gave)',
  usage: '/leads [count]',
  args: [{ name: 'count', description: 'How many leads (1-100)', type: 'integer', required: false }],
  adminOnly: true,
  personalData: true,
  async run(ctx) {
    const count = parseCount(ctx.args, 20);
    const list = await ctx.client.leads({ limit: count, websiteId: ctx.websiteId });
    if (list.length === 0) {
      await ctx.reply.text('No leads yet.');
      return;
    }
    const lines = list.map((l) => `• ${[l.email, l.phone].filter(Boolean).join(' · ') || '(no contact)'} — ${l.started_at?.slice(0, 10) ?? 'unknown date'}${l.page_url ? ` — ${oneLine(l.page_url, 60)}` : ''}`);
    // The core hands personal-data commands a reply only the admin can read (ephemeral or a DM).
    await ctx.reply.text([`**${list.length} lead${list.length === 1 ? '' : 's'}:**`, ...lines].join('\n'));
    if (ctx.reply.file) {
      await ctx.reply.file({ name: 'leads.csv', contentType: 'text/csv', data: Buffer.from(leadsCsv(list)), caption: 'Leads as CSV' });
    }
  },
};

/** RFC 4180 CSV; cells that a spreadsheet would run as formulas are prefixed with `'`. */
function leadsCsv(list: readonly Lead[]): string {
  const header = ['session_id', 'email', 'phone', 'page_url', 'started_at'];
  const rows = list.map((l) => [l.session_id, l.email, l.phone, l.page_url, l.started_at].map(csvCell).join(','));
  return [header.join(','), ...rows].join('\r\n') + '\r\n';
}

function csvCell(value: string | null): string {
  let s = value ?? '';
  if (/^[=+\-@\t\r]/.test(s) && !/^\+\d[\d\s-]*$/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}
