/**
 * The core's public surface: everything an adapter may import from `src/core`. Adapters import
 * this file, the format layer (`src/format`), configuration, logging and the HTTP server — never
 * another core module and never another adapter (test/unit/import-boundaries.test.ts holds that).
 */
export type {
  Adapter,
  Attachment,
  BridgePort,
  Capabilities,
  Choice,
  CompletionRequest,
  Decision,
  FormField,
  FormSpec,
  Incoming,
  IncomingCommand,
  OutgoingFile,
  PlatformName,
  Reply,
  Sender,
  SendOptions,
} from './types.js';
export { UsageError, type CommandArgument, type CommandDefinition } from './commands/command.js';
export { COMMANDS, findCommand } from './commands/registry.js';
