/**
 * Discord through discord.js v14: one gateway connection (disconnects and resumes are discord.js's
 * job), slash commands generated from the core's COMMANDS, answers to mentions, replies and DMs.
 *
 * - Which messages: every DM; in guild channels only a message that mentions the bot itself (not
 *   @everyone, not a role) or replies to one of its messages; every message in a thread the bot
 *   opened (DISCORD_REPLY_MODE=thread, or a handoff alert's thread from `openThread`), since that
 *   thread is a conversation with the bot. A thread is the bot's when discord.js's cache says the
 *   bot owns it (the gateway sends every active thread with its owner, after a restart and to
 *   every instance) or this process opened it; a thread whose owner the cache does not know (not
 *   seen whole, e.g. swept) is looked up in the store (`BridgePort.followsThread`).
 * - Sessions (thread keys): DM `discord:dm:<channel>`; thread `discord:<guild>:<thread>` (everyone
 *   in it shares the conversation); channel `discord:<guild>:<channel>:u<user>` (one per member).
 *   In thread mode a question in a channel gets `discord:<guild>:<message id>`: the thread opened
 *   on a message has that message's id, so the conversation continues there under the same key.
 * - Interactions are answered within Discord's 3 s from the core's synchronous `decide()`:
 *   refusal → ephemeral reply; form → modal; confirmation → ephemeral buttons; run → defer, then the
 *   answer edits the deferred reply and follows up with the remaining chunks.
 * - Answers never ping: `allowedMentions: { parse: [] }` client-wide, and the renderer defangs.
 */
import { request } from 'undici';
import {
  ApplicationCommandOptionType,
  ApplicationCommandType,
  ApplicationIntegrationType,
  ButtonStyle,
  Client,
  ComponentType,
  DiscordAPIError,
  DiscordjsErrorCodes,
  Events,
  GatewayIntentBits,
  InteractionContextType,
  MessageFlags,
  MessageType,
  Options,
  Partials,
  PermissionFlagsBits,
  RESTJSONErrorCodes,
  Routes,
  Status,
  TextInputStyle,
  type Attachment as DiscordAttachment,
  type APIActionRowComponent,
  type APIApplicationCommand,
  type APIButtonComponent,
  type APIModalInteractionResponseCallbackData,
  type AutocompleteInteraction,
  type ButtonInteraction,
  type ChatInputCommandInteraction,
  type DMChannel,
  type Interaction,
  type Message,
  type ModalSubmitInteraction,
  type PartialDMChannel,
  type APIMessage,
  type APIThreadChannel,
  type GuildMember,
  type APIInteractionGuildMember,
  type RESTPostAPIChatInputApplicationCommandsJSONBody,
  type SendableChannels,
  type User,
} from 'discord.js';
import { ConfigError, type Config } from '../../src/config.js';
import {
  COMMANDS,
  findCommand,
  type Adapter,
  type Attachment,
  type BridgePort,
  type CommandDefinition,
  type Decision,
  type FormSpec,
  type Incoming,
  type OutgoingFile,
  type Reply,
  type Sender,
  type SendOptions,
} from '../../src/core/index.js';
import type { HttpServer } from '../../src/http/server.js';
import type { Logger } from '../../src/log.js';
import { discordChunks } from './discord-markdown.js';

/** The gateway intents the bridge needs; MessageContent is privileged (turned on in the portal). */
const INTENTS = [GatewayIntentBits.Guilds, GatewayIntentBits.GuildMessages, GatewayIntentBits.DirectMessages, GatewayIntentBits.MessageContent];
/** Discord's limit on a component's custom id. */
const CUSTOM_ID_LIMIT = 100;
/** Discord's limit on a thread name. */
const THREAD_NAME_LIMIT = 100;
/** How long start-up waits for the gateway to become ready. */
const READY_TIMEOUT_MS = 60_000;
const NO_PINGS = { parse: [], repliedUser: false };
/** Threads this process opened for handoff alerts or found in the store, remembered (count). */
const FOLLOWED_THREADS_LIMIT = 10_000;
/** Discord's auto-archive choices are 60, 1440, 4320 or 10080 minutes: a handoff thread idles a day. */
const ALERT_THREAD_ARCHIVE_MINUTES = 1440;

export interface DiscordAdapterDeps {
  config: Pick<Config, 'discord'>;
  logger: Logger;
  /** Unused: Discord needs no inbound HTTP. Accepted so main passes every adapter the same deps. */
  http?: HttpServer | undefined;
}

/** A slash command's JSON as Discord stores it, from one of the core's commands. */
function toDiscordCommand(command: CommandDefinition): RESTPostAPIChatInputApplicationCommandsJSONBody {
  const optionTypes = {
    string: ApplicationCommandOptionType.String,
    integer: ApplicationCommandOptionType.Integer,
    attachment: ApplicationCommandOptionType.Attachment,
  } as const;
  return {
    name: command.name,
    description: command.description.slice(0, 100),
    type: ApplicationCommandType.ChatInput,
    options: command.args.map((arg) => ({
      name: arg.name,
      description: arg.description.slice(0, 100),
      type: optionTypes[arg.type],
      // A command with a form takes its values from the modal when the options are left out.
      required: arg.required && !command.form,
      ...(arg.type === 'string' && command.complete ? { autocomplete: true } : {}),
    })) as RESTPostAPIChatInputApplicationCommandsJSONBody['options'],
    // Hidden from members without Manage Server in the menu; the core checks admins regardless.
    default_member_permissions: command.adminOnly ? String(PermissionFlagsBits.ManageGuild) : null,
    // Stated explicitly: Discord fills defaults in, and a definition relying on them would never
    // compare equal to what Discord returns, re-registering on every start.
    integration_types: [ApplicationIntegrationType.GuildInstall],
    contexts: [InteractionContextType.Guild, InteractionContextType.BotDM],
  };
}

/** The channel a thread key or channel address (`discord:<channel id>`) posts into. */
function channelOfKey(key: string): string | undefined {
  const m = /^discord:(?:dm:(\d+)|\d+:(\d+)(?::u\d+)?|(\d+))$/.exec(key);
  return m ? (m[1] ?? m[2] ?? m[3]) : undefined;
}

export class DiscordAdapter implements Adapter {
  readonly platform = 'discord' as const;
  readonly client: Client;
  private bridge: BridgePort | undefined;
  private stopping = false;
  /** Handling in the background, awaited on stop. */
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly log: Logger;
  /** Thread ids the bot follows though the cache may not say it owns them (see the file comment). */
  private readonly followedThreads = new Set<string>();
  /**
   * Per channel: a store lookup in progress (`followsThread`), and the messages of that channel
   * queued behind it, so they reach the core in the order they came.
   */
  private readonly lookups = new Map<string, Promise<void>>();

  constructor(private readonly deps: DiscordAdapterDeps) {
    const { token, apiUrl } = deps.config.discord;
    if (!token) throw new ConfigError('DISCORD_BOT_TOKEN', 'required by the discord adapter');
    this.log = deps.logger.child({ adapter: 'discord' });
    this.client = new Client({
      intents: INTENTS,
      // DMs arrive for channels the cache has never seen.
      partials: [Partials.Channel],
      allowedMentions: NO_PINGS,
      rest: {
        ...(apiUrl ? { api: apiUrl } : {}),
        // Node's fetch, not @discordjs/rest's bundled undici 6: once another undici (this project's
        // v7, used by the Asyntai client and downloads) owns the process-wide dispatcher, undici 6
        // hands it Node's FormData, which v7 cannot encode, and every file upload fails.
        makeRequest: (url, init) => fetch(url, init),
      },
      // Flat memory on large servers: keep only what answering needs.
      makeCache: Options.cacheWithLimits({
        ...Options.DefaultMakeCacheSettings,
        MessageManager: 25,
        GuildMemberManager: { maxSize: 200, keepOverLimit: (member) => member.id === member.client.user.id },
        UserManager: { maxSize: 1000, keepOverLimit: (user) => user.id === user.client.user.id },
        PresenceManager: 0,
        ReactionManager: 0,
        ReactionUserManager: 0,
        GuildEmojiManager: 0,
        BaseGuildEmojiManager: 0,
        GuildStickerManager: 0,
        GuildScheduledEventManager: 0,
        GuildInviteManager: 0,
        GuildBanManager: 0,
        StageInstanceManager: 0,
        VoiceStateManager: 0,
        ThreadMemberManager: 0,
        AutoModerationRuleManager: 0,
        ApplicationCommandManager: 0,
      }),
      sweepers: {
        ...Options.DefaultSweeperSettings,
        messages: { interval: 600, lifetime: 1800 },
        users: { interval: 3600, filter: () => (user) => user.id !== user.client.user.id },
        threads: { interval: 3600, lifetime: 4 * 3600 },
      },
    });
    this.client.on(Events.MessageCreate, (message) => this.onMessage(message));
    this.client.on(Events.InteractionCreate, (interaction) => this.onInteraction(interaction));
    this.client.on(Events.Error, (err) => this.log.error({ err }, 'Discord client error'));
    // Our own stop closes the gateway too, which discord.js reports as a reconnect: not worth a warning.
    this.client.on(Events.ShardDisconnect, (event, shard) => {
      if (!this.stopping) this.log.error({ code: event.code, shard }, 'Discord gateway closed for good');
    });
    this.client.on(Events.ShardReconnecting, (shard) => {
      if (!this.stopping) this.log.warn({ shard }, 'Discord gateway reconnecting');
    });
    this.client.on(Events.ShardResume, (shard, replayed) => this.log.info({ shard, replayed }, 'Discord gateway resumed'));
  }

  async start(bridge: BridgePort): Promise<void> {
    this.bridge = bridge;
    await this.connect();
    // Mentions and DMs work without slash commands: a failed registration is logged, not fatal.
    await this.registerCommands().catch((err: unknown) => this.log.error({ err }, 'could not register the Discord slash commands'));
  }

  async stop(): Promise<void> {
    // Stop taking new events, let running answers finish (they need REST), then disconnect.
    this.stopping = true;
    await Promise.allSettled([...this.inFlight]);
    await this.client.destroy();
  }

  /** Up while every shard of this process has a live, identified gateway session. */
  isHealthy(): boolean {
    const shards = this.client.ws.shards;
    return !this.stopping && shards.size > 0 && shards.every((shard) => shard.status === Status.Ready);
  }

  /** Posts into a channel address (`discord:<channel>`) or one of this adapter's thread keys. */
  async send(threadKey: string, markdown: string, options?: SendOptions): Promise<void> {
    if (options?.ephemeral) throw new Error('Discord cannot show a message to one user outside an interaction');
    const channelId = channelOfKey(threadKey);
    if (!channelId) throw new Error(`not a Discord thread key or channel address: ${threadKey}`);
    for (const content of discordChunks(markdown)) {
      await this.client.rest.post(Routes.channelMessages(channelId), { body: { content, allowed_mentions: { parse: [] } } });
    }
  }

  /**
   * Posts a file (with its caption as the message text) into a channel address or one of this
   * adapter's thread keys, as `send` does: files relayed in a human handoff.
   */
  async sendFile(threadKey: string, file: OutgoingFile): Promise<void> {
    const channelId = channelOfKey(threadKey);
    if (!channelId) throw new Error(`not a Discord thread key or channel address: ${threadKey}`);
    await this.client.rest.post(Routes.channelMessages(channelId), {
      body: { ...(file.caption ? { content: file.caption } : {}), allowed_mentions: { parse: [] }, attachments: [{ id: 0, filename: file.name }] },
      files: [{ name: file.name, data: file.data, contentType: file.contentType }],
    });
  }

  /**
   * Posts a handoff alert into `discord:<channel id>`, opens a thread on it and resolves with
   * `discord:<guild>:<thread id>`. The thread has the alert's id, as in thread reply mode, so its
   * messages carry that key; every human message there then reaches the core without a mention.
   */
  async openThread(channel: string, markdown: string): Promise<string> {
    const channelId = /^discord:(\d+)$/.exec(channel)?.[1];
    if (!channelId) throw new Error(`not a Discord channel address: ${channel}`);
    const [first = '', ...rest] = discordChunks(markdown);
    const alert = (await this.client.rest.post(Routes.channelMessages(channelId), { body: { content: first, allowed_mentions: { parse: [] } } })) as APIMessage;
    const heading = first.split('\n', 1)[0]!.replace(/[*_`~|>#]/g, '');
    const thread = (await this.client.rest.post(Routes.threads(channelId, alert.id), {
      body: { name: threadName(heading, 'Handoff'), auto_archive_duration: ALERT_THREAD_ARCHIVE_MINUTES },
    })) as APIThreadChannel;
    const parent = this.client.channels.cache.get(channelId);
    const guildId = thread.guild_id ?? (parent && 'guildId' in parent ? parent.guildId : undefined);
    if (!guildId) throw new Error(`Discord gave no guild for channel ${channelId}`);
    this.follow(thread.id);
    for (const content of rest) await this.client.rest.post(Routes.channelMessages(thread.id), { body: { content, allowed_mentions: { parse: [] } } });
    return `discord:${guildId}:${thread.id}`;
  }

  /** Remembers a thread the bot takes part in (bounded: the oldest is forgotten first). */
  private follow(threadId: string): void {
    this.followedThreads.delete(threadId);
    this.followedThreads.add(threadId);
    if (this.followedThreads.size > FOLLOWED_THREADS_LIMIT) this.followedThreads.delete(this.followedThreads.values().next().value!);
  }

  /** Logs in and waits for READY and the guilds; a refused token or intent is a configuration error. */
  private async connect(): Promise<void> {
    const ready = new Promise<void>((resolve) => this.client.once(Events.ClientReady, () => resolve()));
    // A close Discord will not recover from (bad intents, sharding) leaves login waiting: watch for it.
    let onDisconnect: ((event: { code: number }) => void) | undefined;
    const refused = new Promise<never>((_, reject) => {
      onDisconnect = (event) => reject(closeCodeError(event.code));
      this.client.on(Events.ShardDisconnect, onDisconnect);
    });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('Discord gateway did not become ready within 60 s')), READY_TIMEOUT_MS);
    });
    try {
      await Promise.race([this.client.login(this.deps.config.discord.token).then(() => ready), refused, timeout]);
    } catch (err) {
      await this.client.destroy().catch(() => undefined);
      if (err instanceof Error && 'code' in err && err.code === DiscordjsErrorCodes.TokenInvalid) {
        throw new ConfigError('DISCORD_BOT_TOKEN', 'Discord refused the token (401 Unauthorized)');
      }
      throw err;
    } finally {
      clearTimeout(timer);
      if (onDisconnect) this.client.off(Events.ShardDisconnect, onDisconnect);
    }
    this.log.info({ user: this.client.user?.tag, guilds: this.client.guilds.cache.size }, 'Discord gateway ready');
  }

  /**
   * One bulk overwrite, only when the definitions differ from what Discord has: GET the current
   * commands and compare with discord.js's `ApplicationCommand#equals`. Store-free, so restarts and
   * several instances agree without sharing anything, and Discord's rate limit on command
   * updates is never spent on an unchanged list.
   */
  private async registerCommands(): Promise<void> {
    const manager = this.client.application!.commands;
    const guildId = this.deps.config.discord.guildId;
    const wanted = COMMANDS.map(toDiscordCommand);
    const current = guildId ? await manager.fetch({ guildId }) : await manager.fetch();
    const same = current.size === wanted.length && wanted.every((w) => current.some((c) => c.name === w.name && c.equals(w as unknown as APIApplicationCommand, true)));
    if (same) {
      this.log.info({ scope: guildId ?? 'global' }, 'Discord commands unchanged');
      return;
    }
    if (guildId) await manager.set(wanted, guildId);
    else await manager.set(wanted);
    this.log.info({ scope: guildId ?? 'global', count: wanted.length }, 'Discord commands registered');
  }

  /** Keeps background work for stop() to await; failures were logged where they happened. */
  private track(work: Promise<unknown>): void {
    const tracked = work.catch((err: unknown) => this.log.error({ err }, 'Discord event failed'));
    this.inFlight.add(tracked);
    void tracked.finally(() => this.inFlight.delete(tracked));
  }

  // ---- messages ----------------------------------------------------------------------------

  private onMessage(message: Message): void {
    const bridge = this.bridge;
    if (!bridge || this.stopping) return;
    const seen = this.messageIncoming(message);
    if (!seen) return;
    const { incoming, known } = seen;
    const channelId = message.channelId;
    const pending = this.lookups.get(channelId);
    if (known && !pending) {
      void this.hand(bridge, message, incoming);
      return;
    }
    const step = async (): Promise<void> => {
      if (!known) {
        const follows = await bridge.followsThread(incoming.threadKey).catch((err: unknown) => {
          this.log.warn({ err, thread: incoming.threadKey }, 'could not tell whether the bot follows a Discord thread; the message is not answered');
          return false;
        });
        if (!follows) return;
        this.follow(channelId);
      }
      // Awaited, so stop() (which awaits this lookup) also waits for the answer it started.
      await this.hand(bridge, message, incoming);
    };
    const next = (pending ?? Promise.resolve()).then(step);
    this.lookups.set(channelId, next);
    this.track(
      next.finally(() => {
        if (this.lookups.get(channelId) === next) this.lookups.delete(channelId);
      }),
    );
  }

  /**
   * Decided and handed over synchronously: the core's per-thread queue keeps arrival order.
   * Resolves once answered (never rejects).
   */
  private async hand(bridge: BridgePort, message: Message, incoming: Incoming): Promise<void> {
    const decision = bridge.decide(incoming);
    if (decision.kind === 'ignore') return;
    const work = bridge.handle(incoming, this.messageReply(message, incoming.text), decision);
    this.track(work);
    await work;
  }

  /**
   * Normalises a message, or undefined when the bot should stay silent. `known` is false for a
   * message in a thread whose owner the cache does not know: it is the bot's only if the store
   * says it follows the thread.
   */
  private messageIncoming(message: Message): { incoming: Incoming; known: boolean } | undefined {
    const me = this.client.user;
    if (!me || message.author.bot || message.webhookId || message.system) return undefined;
    if (message.type !== MessageType.Default && message.type !== MessageType.Reply) return undefined;
    const channel = message.channel;
    const guildId = message.guildId;
    let text = message.content;
    let threadKey: string;
    let known = true;
    if (!guildId) {
      threadKey = `discord:dm:${channel.id}`;
    } else {
      const mentioned = message.mentions.users.has(me.id);
      const repliesToBot = message.reference !== null && message.mentions.repliedUser?.id === me.id;
      const botThread = channel.isThread() && (channel.ownerId === me.id || this.followedThreads.has(channel.id));
      known = mentioned || repliesToBot || botThread;
      // A thread the cache knows another owner of is a member's: the bot answers mentions only.
      if (!known && !(channel.isThread() && !channel.ownerId)) return undefined;
      text = text.replace(new RegExp(`<@!?${me.id}>`, 'g'), '').replace(/[ \t]{2,}/g, ' ').trim();
      if (channel.isThread()) threadKey = `discord:${guildId}:${channel.id}`;
      else if (this.deps.config.discord.replyMode === 'thread') threadKey = `discord:${guildId}:${message.id}`;
      else threadKey = `discord:${guildId}:${channel.id}:u${message.author.id}`;
    }
    const admin = this.deps.config.discord.adminIds.has(message.author.id) || (message.member?.permissions.has(PermissionFlagsBits.ManageGuild) ?? false);
    const incoming: Incoming = {
      platform: 'discord',
      threadKey,
      spaceKey: guildId ? `discord:${guildId}` : `discord:dm:${channel.id}`,
      dedupeKey: message.id,
      sender: senderOf(message.author, admin, message.member),
      text,
      attachments: message.attachments.map((a) => this.attachment(a)),
      isPrivate: !guildId,
    };
    return { incoming, known };
  }

  /**
   * Answers to a message: in a guild the first chunk replies to the question (or, in thread mode,
   * a thread is opened on it and the answer goes there); the rest follow in order.
   */
  private messageReply(message: Message, question: string): Reply {
    const channel = message.channel as SendableChannels;
    const openThread = this.deps.config.discord.replyMode === 'thread' && message.inGuild() && !channel.isThread();
    let target: Promise<SendableChannels> | undefined;
    let replyTo: Message | undefined = message.inGuild() && !openThread ? message : undefined;
    const where = (): Promise<SendableChannels> =>
      (target ??= openThread
        ? message.startThread({ name: threadName(question, this.client.user?.username ?? 'Question') }).catch((err: unknown) => {
            // Typically a missing Create Public Threads permission: answer as a reply rather than not at all.
            this.log.warn({ err, channel: channel.id }, 'could not open a thread; replying in the channel');
            replyTo = message;
            return channel;
          })
        : Promise.resolve(channel));
    const post = async (payload: { content?: string; files?: Array<{ attachment: Buffer; name: string }> }): Promise<void> => {
      const destination = await where();
      if (replyTo) {
        const question = replyTo;
        replyTo = undefined;
        await question.reply({ ...payload, failIfNotExists: false });
        return;
      }
      await destination.send(payload);
    };
    return {
      text: async (markdown, options) => {
        if (options?.ephemeral) throw new Error('a Discord message cannot be answered ephemerally');
        for (const content of discordChunks(markdown)) await post({ content });
      },
      file: async (file, options) => {
        if (options?.ephemeral) throw new Error('a Discord message cannot be answered ephemerally');
        await post(filePayload(file));
      },
      typing: async () => {
        await (target ? await target : channel).sendTyping();
      },
      ephemeral: { text: false, file: false },
      directMessage: async () => this.channelReply(await message.author.createDM()),
    };
  }

  /** Plain posts into one channel (a DM opened for personal data). */
  private channelReply(channel: DMChannel | PartialDMChannel): Reply {
    return {
      text: async (markdown, options) => {
        if (options?.ephemeral) throw new Error('a DM cannot be ephemeral');
        for (const content of discordChunks(markdown)) await channel.send({ content });
      },
      file: async (file) => {
        await channel.send(filePayload(file));
      },
      typing: async () => {
        await channel.sendTyping();
      },
      ephemeral: { text: false, file: false },
    };
  }

  private attachment(a: DiscordAttachment): Attachment {
    return {
      name: a.name,
      ...(a.contentType ? { contentType: a.contentType } : {}),
      size: a.size,
      download: async () => {
        const res = await request(a.url);
        if (res.statusCode !== 200) {
          await res.body.dump();
          throw new Error(`attachment download failed with HTTP ${res.statusCode}`);
        }
        return Buffer.from(await res.body.arrayBuffer());
      },
    };
  }

  // ---- interactions ------------------------------------------------------------------------

  private onInteraction(interaction: Interaction): void {
    const bridge = this.bridge;
    if (!bridge || this.stopping) return;
    let work: Promise<void> | undefined;
    if (interaction.isAutocomplete()) work = this.onAutocomplete(bridge, interaction);
    else if (interaction.isChatInputCommand()) work = this.onCommand(bridge, interaction);
    else if (interaction.isModalSubmit()) work = this.onModal(bridge, interaction);
    else if (interaction.isButton()) work = this.onButton(bridge, interaction);
    if (!work) return;
    this.track(
      work.catch((err: unknown) => {
        // Another instance connected with the same token got the interaction too and answered first.
        if (err instanceof DiscordAPIError && err.code === RESTJSONErrorCodes.InteractionHasAlreadyBeenAcknowledged) {
          this.log.debug({ interaction: interaction.id }, 'interaction answered by another instance');
          return;
        }
        throw err;
      }),
    );
  }

  private async onCommand(bridge: BridgePort, interaction: ChatInputCommandInteraction): Promise<void> {
    const values: Record<string, string> = {};
    const attachments: Attachment[] = [];
    for (const option of interaction.options.data) {
      if (option.attachment) attachments.push(this.attachment(option.attachment));
      else if (option.value !== undefined) values[option.name] = String(option.value);
    }
    const incoming = this.interactionIncoming(interaction, interaction.commandName, values, attachments);
    const decision = bridge.decide(incoming, { forms: true });
    if (decision.kind === 'run' && decision.command) {
      const confirmation = findCommand(decision.command)?.confirmation;
      const customId = `confirm:${decision.command}:${JSON.stringify(values)}`;
      if (confirmation && customId.length <= CUSTOM_ID_LIMIT) {
        await interaction.reply({ content: discordChunks(confirmation)[0], flags: MessageFlags.Ephemeral, components: [confirmButtons(customId, decision.command)] });
        return;
      }
    }
    await this.act(bridge, interaction, incoming, decision);
  }

  private async onModal(bridge: BridgePort, interaction: ModalSubmitInteraction): Promise<void> {
    const command = /^form:(.+)$/.exec(interaction.customId)?.[1];
    if (!command) return;
    const values: Record<string, string> = {};
    for (const [id, field] of interaction.fields.fields) if ('value' in field && typeof field.value === 'string') values[id] = field.value;
    const incoming = this.interactionIncoming(interaction, command, values, []);
    await this.act(bridge, interaction, incoming, bridge.decide(incoming));
  }

  /** The confirmation buttons: Cancel tidies up; Confirm runs the command as first typed. */
  private async onButton(bridge: BridgePort, interaction: ButtonInteraction): Promise<void> {
    if (interaction.customId.startsWith('cancel:')) {
      await interaction.update({ content: 'Cancelled.', components: [] });
      return;
    }
    const m = /^confirm:([^:]+):(.*)$/.exec(interaction.customId);
    if (!m) return;
    const values = JSON.parse(m[2]!) as Record<string, string>;
    const incoming = this.interactionIncoming(interaction, m[1]!, values, []);
    const decision = bridge.decide(incoming);
    if (decision.kind === 'refuse') {
      await interaction.update({ content: discordChunks(decision.text)[0], components: [] });
      return;
    }
    if (decision.kind !== 'run') return;
    // The answer replaces the confirmation message (ephemeral, as it was).
    await interaction.deferUpdate();
    this.track(bridge.handle(incoming, this.interactionReply(interaction, true, true), decision));
  }

  private async onAutocomplete(bridge: BridgePort, interaction: AutocompleteInteraction): Promise<void> {
    const focused = interaction.options.getFocused(true);
    const choices = await bridge.complete({
      platform: 'discord',
      spaceKey: spaceKeyOf(interaction.guildId, interaction.channelId),
      sender: senderOf(interaction.user, this.interactionAdmin(interaction), interaction.member),
      command: interaction.commandName,
      argument: focused.name,
      partial: String(focused.value),
    });
    await interaction.respond(choices);
  }

  /** Acts on the core's decision within the 3 s: refuse, open the form, or defer and run. */
  private async act(
    bridge: BridgePort,
    interaction: ChatInputCommandInteraction | ModalSubmitInteraction,
    incoming: Incoming,
    decision: Decision,
  ): Promise<void> {
    switch (decision.kind) {
      case 'ignore':
        await interaction.reply({ content: 'Nothing to do.', flags: MessageFlags.Ephemeral });
        return;
      case 'refuse':
        await interaction.reply({ content: discordChunks(decision.text)[0], flags: MessageFlags.Ephemeral });
        return;
      case 'form':
        if (interaction.isChatInputCommand()) await interaction.showModal(modalOf(decision.form));
        return;
      case 'run':
        await interaction.deferReply(decision.ephemeral ? { flags: MessageFlags.Ephemeral } : {});
        this.track(bridge.handle(incoming, this.interactionReply(interaction, decision.ephemeral, false), decision));
        return;
    }
  }

  private interactionIncoming(
    interaction: ChatInputCommandInteraction | ModalSubmitInteraction | ButtonInteraction,
    command: string,
    values: Record<string, string>,
    attachments: Attachment[],
  ): Incoming {
    const guildId = interaction.guildId;
    const channelId = interaction.channelId ?? 'unknown';
    const user = interaction.user;
    let threadKey: string;
    if (!guildId) threadKey = `discord:dm:${channelId}`;
    else if (interaction.channel?.isThread()) threadKey = `discord:${guildId}:${channelId}`;
    else threadKey = `discord:${guildId}:${channelId}:u${user.id}`;
    return {
      platform: 'discord',
      threadKey,
      spaceKey: spaceKeyOf(guildId, channelId),
      dedupeKey: interaction.id,
      sender: senderOf(user, this.interactionAdmin(interaction), interaction.member),
      text: '',
      command: { name: command, args: '', values },
      attachments,
      isPrivate: !guildId,
    };
  }

  /** DISCORD_ADMIN_IDS, or Manage Server in this guild (from the interaction's member permissions). */
  private interactionAdmin(interaction: Interaction): boolean {
    return this.deps.config.discord.adminIds.has(interaction.user.id) || (interaction.memberPermissions?.has(PermissionFlagsBits.ManageGuild) ?? false);
  }

  /**
   * Answers to a deferred interaction: the first message edits the deferred reply, the rest are
   * follow-ups. Both can be ephemeral (flags 64). `clearComponents` removes the confirmation
   * buttons from the message a button was on.
   */
  private interactionReply(
    interaction: ChatInputCommandInteraction | ModalSubmitInteraction | ButtonInteraction,
    deferredEphemeral: boolean,
    clearComponents: boolean,
  ): Reply {
    let originalPending = true;
    const post = async (payload: { content?: string; files?: Array<{ attachment: Buffer; name: string }> }, ephemeral: boolean): Promise<void> => {
      // The deferred reply can take the first message unless it is public and this must be private.
      if (originalPending && (deferredEphemeral || !ephemeral)) {
        originalPending = false;
        await interaction.editReply({ ...payload, ...(clearComponents ? { components: [] } : {}) });
        return;
      }
      await interaction.followUp({ ...payload, ...(ephemeral ? { flags: MessageFlags.Ephemeral } : {}) });
      if (originalPending) {
        // A private message first on a public deferral: remove the "thinking…" placeholder.
        originalPending = false;
        await interaction.deleteReply().catch((err: unknown) => this.log.warn({ err }, 'could not remove the deferred reply'));
      }
    };
    return {
      text: async (markdown, options) => {
        for (const content of discordChunks(markdown)) await post({ content }, options?.ephemeral ?? false);
      },
      file: async (file, options) => {
        await post(filePayload(file), options?.ephemeral ?? false);
      },
      ephemeral: { text: true, file: true },
      directMessage: async () => this.channelReply(await interaction.user.createDM()),
    };
  }
}

/** The sender, named as the guild shows them: server nickname, else global display name, else username. */
function senderOf(user: User, isAdmin: boolean, member: GuildMember | APIInteractionGuildMember | null): Sender {
  const nickname = member ? ('displayName' in member ? member.nickname : member.nick) : undefined;
  return { id: user.id, name: nickname || user.globalName || user.username, isAdmin };
}

function spaceKeyOf(guildId: string | null, channelId: string | null): string {
  return guildId ? `discord:${guildId}` : `discord:dm:${channelId ?? 'unknown'}`;
}

function filePayload(file: OutgoingFile): { content?: string; files: Array<{ attachment: Buffer; name: string }> } {
  return { ...(file.caption ? { content: file.caption } : {}), files: [{ attachment: file.data, name: file.name }] };
}

/** A thread named after the question (Discord allows 1-100 characters). */
function threadName(question: string, fallback: string): string {
  const flat = question.replace(/\s+/g, ' ').trim() || fallback;
  return flat.length <= THREAD_NAME_LIMIT ? flat : `${flat.slice(0, THREAD_NAME_LIMIT - 1)}…`;
}

/** The modal for a form: one text input per field, its id the field id. */
function modalOf(form: FormSpec): APIModalInteractionResponseCallbackData {
  return {
    custom_id: `form:${form.command}`,
    title: form.title.slice(0, 45),
    components: form.fields.map((field) => ({
      type: ComponentType.ActionRow,
      components: [
        {
          type: ComponentType.TextInput,
          custom_id: field.id,
          label: field.label.slice(0, 45),
          style: field.multiline ? TextInputStyle.Paragraph : TextInputStyle.Short,
          required: true,
          ...(field.minLength !== undefined ? { min_length: field.minLength } : {}),
          ...(field.maxLength !== undefined ? { max_length: field.maxLength } : {}),
        },
      ],
    })),
  };
}

function confirmButtons(confirmId: string, command: string): APIActionRowComponent<APIButtonComponent> {
  return {
    type: ComponentType.ActionRow,
    components: [
      { type: ComponentType.Button, style: ButtonStyle.Danger, label: 'Confirm', custom_id: confirmId },
      { type: ComponentType.Button, style: ButtonStyle.Secondary, label: 'Cancel', custom_id: `cancel:${command}` },
    ],
  };
}

/** Start-up failures from a gateway close Discord does not recover from, in one line. */
function closeCodeError(code: number): Error {
  switch (code) {
    case 4004:
      return new ConfigError('DISCORD_BOT_TOKEN', 'Discord refused the token (gateway authentication failed)');
    case 4014:
      return new ConfigError(
        'DISCORD_BOT_TOKEN',
        'Discord refused the Message Content intent: turn it on for this bot (Developer Portal → Bot → Privileged Gateway Intents)',
      );
    case 4011:
      return new Error('Discord requires sharding for this bot: run it under the shard manager (README "Discord")');
    default:
      return new Error(`Discord closed the gateway with code ${code}`);
  }
}
