/**
 * Response shapes of the Asyntai REST API (https://asyntai.com/api/v1/), as zod schemas so
 * that a 200 whose body does not match becomes a `protocol` error instead of a crash later on.
 * Schemas are lenient about extra fields and strict about the ones we read.
 */
import { z } from 'zod';

const isoTime = z.string();

export const ChatResponse = z.object({
  success: z.literal(true),
  response: z.string(),
  session_id: z.string(),
});
export type ChatResponse = z.infer<typeof ChatResponse>;

export const Website = z.object({
  id: z.number(),
  name: z.string(),
  domain: z.string(),
  is_primary: z.boolean(),
});
export type Website = z.infer<typeof Website>;
export const WebsitesResponse = z.object({ success: z.literal(true), websites: z.array(Website) });

export const ConversationMessage = z.object({
  role: z.enum(['user', 'assistant']),
  content: z.string(),
  timestamp: isoTime,
});
export type ConversationMessage = z.infer<typeof ConversationMessage>;
export const ConversationResponse = z.object({
  success: z.literal(true),
  session_id: z.string(),
  messages: z.array(ConversationMessage),
});
export type ConversationResponse = z.infer<typeof ConversationResponse>;

export const SessionSource = z.enum([
  'widget',
  'api',
  'whatsapp',
  'instagram',
  'messenger',
  'gorgias',
  'freshchat',
  'zapier',
]);
export type SessionSource = z.infer<typeof SessionSource>;

export const SessionSummary = z.object({
  session_id: z.string(),
  source: z.string(),
  message_count: z.number(),
  first_message: z.string().nullable(),
  first_message_at: isoTime.nullable(),
  last_message_at: isoTime.nullable(),
  website_domain: z.string().nullable(),
});
export type SessionSummary = z.infer<typeof SessionSummary>;
export const SessionsResponse = z.object({ success: z.literal(true), sessions: z.array(SessionSummary) });

export const Lead = z.object({
  session_id: z.string(),
  email: z.string().nullable(),
  phone: z.string().nullable(),
  page_url: z.string().nullable(),
  started_at: isoTime.nullable(),
});
export type Lead = z.infer<typeof Lead>;
export const LeadsResponse = z.object({ success: z.literal(true), leads: z.array(Lead) });

export const Account = z.object({
  email: z.string(),
  plan: z.string(),
  messages_used: z.number(),
  messages_limit: z.number(),
});
export type Account = z.infer<typeof Account>;
export const AccountResponse = z.object({ success: z.literal(true), account: Account });

export const KnowledgeEntry = z.object({
  id: z.string(),
  type: z.string(),
  title: z.string(),
  description: z.string().nullable(),
  created_at: isoTime,
});
export type KnowledgeEntry = z.infer<typeof KnowledgeEntry>;
export const KnowledgeListResponse = z.object({ success: z.literal(true), entries: z.array(KnowledgeEntry) });

export const KnowledgeTextResponse = z.object({
  success: z.literal(true),
  id: z.string(),
  title: z.string(),
  chunks_created: z.number(),
});
export type KnowledgeTextResponse = z.infer<typeof KnowledgeTextResponse>;

export const KnowledgeUrlResponse = KnowledgeTextResponse.extend({ url: z.string() });
export type KnowledgeUrlResponse = z.infer<typeof KnowledgeUrlResponse>;

export const KnowledgeSpreadsheetResponse = KnowledgeTextResponse.extend({ rows_processed: z.number() });
export type KnowledgeSpreadsheetResponse = z.infer<typeof KnowledgeSpreadsheetResponse>;

export const MessageResponse = z.object({ success: z.literal(true), message: z.string() });
export type MessageResponse = z.infer<typeof MessageResponse>;

export const WebhookEvent = z.enum([
  'message.received',
  'conversation.started',
  'escalation.requested',
  'takeover.started',
]);
export type WebhookEvent = z.infer<typeof WebhookEvent>;

export const Webhook = z.object({
  id: z.string(),
  url: z.string(),
  events: z.array(z.string()),
  is_active: z.boolean(),
  created_at: isoTime,
});
export type Webhook = z.infer<typeof Webhook>;
export const WebhooksResponse = z.object({ success: z.literal(true), webhooks: z.array(Webhook) });

export const CreatedWebhook = z.object({
  id: z.string(),
  url: z.string(),
  events: z.array(z.string()),
  secret: z.string(),
  created_at: isoTime,
});
export type CreatedWebhook = z.infer<typeof CreatedWebhook>;
export const CreateWebhookResponse = z.object({ success: z.literal(true), webhook: CreatedWebhook });

/** The documented error body: `{"success": false, "error": "message"}`. */
export const ErrorBody = z.object({ success: z.literal(false), error: z.string() });

/** Documented maxima of `limit` per listing endpoint. */
export const LIMIT_MAX = 100;
