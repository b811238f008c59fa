/**
 * Every command, in the order /help and platform menus show them. Adapters register from this
 * list; the bridge looks names up in it.
 */
import { ask } from './ask.js';
import type { CommandDefinition } from './command.js';
import { help } from './help.js';
import { history } from './history.js';
import { human } from './human.js';
import { kbAdd } from './kb-add.js';
import { kbDelete } from './kb-delete.js';
import { kbList } from './kb-list.js';
import { kbUpload } from './kb-upload.js';
import { kbUrl } from './kb-url.js';
import { leads } from './leads.js';
import { reset } from './reset.js';
import { resume } from './resume.js';
import { sessions } from './sessions.js';
import { usage } from './usage.js';
import { website } from './website.js';
import { websites } from './websites.js';

export const COMMANDS: readonly CommandDefinition[] = [
  ask,
  reset,
  help,
  history,
  human,
  resume,
  leads,
  usage,
  kbList,
  kbAdd,
  kbUrl,
  kbUpload,
  kbDelete,
  websites,
  website,
  sessions,
];

const BY_NAME = new Map(COMMANDS.map((c) => [c.name, c]));

/** Looks a command up by name; `_` is accepted for `-` (Telegram) and case is ignored. */
export function findCommand(name: string): CommandDefinition | undefined {
  return BY_NAME.get(name.toLowerCase().replace(/_/g, '-'));
}
