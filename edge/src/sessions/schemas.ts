import { OwnerIdSchema } from "@chittyconnect/contract";
import { z } from "zod";
import { LIMITS } from "./limits.ts";

/** Client-chosen ids are URL path segments and SQL keys: plain characters only. */
export const SessionIdSchema = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9_-]+$/, "must be letters, digits, '-' or '_'");
export const ContextKeySchema = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9._:-]+$/, "must be letters, digits, '.', '_', ':' or '-'");

export const SessionStatusSchema = z.enum(["active", "closed"]);
export const MessageRoleSchema = z.enum(["user", "assistant", "system", "tool"]);
const JsonObjectSchema = z.record(z.string(), z.json());
const TitleSchema = z.string().trim().min(1).max(200);
const Timestamp = z.iso.datetime();

export const CreateSessionRequestSchema = z
  .object({
    id: SessionIdSchema.optional(),
    title: TitleSchema.optional(),
    metadata: JsonObjectSchema.optional(),
  })
  .strict();

export const UpdateSessionRequestSchema = z
  .object({
    /** null hands the title back to derivation from the first user message. */
    title: TitleSchema.nullable().optional(),
    metadata: JsonObjectSchema.optional(),
    status: SessionStatusSchema.optional(),
  })
  .strict()
  .refine((patch) => Object.keys(patch).length > 0, "send at least one of title, metadata, status");

export const SessionSchema = z.object({
  id: SessionIdSchema,
  title: z.string().nullable(),
  metadata: JsonObjectSchema,
  status: SessionStatusSchema,
  /** Bumped on every change; send it back in `If-Match` to update safely. */
  version: z.number().int().min(1),
  messageCount: z.number().int().min(0),
  createdAt: Timestamp,
  updatedAt: Timestamp,
  lastActiveAt: Timestamp,
  expiresAt: Timestamp,
});

export const AddMessageRequestSchema = z
  .object({ role: MessageRoleSchema, content: z.string().min(1) })
  .strict();

export const MessageSchema = z.object({
  sessionId: SessionIdSchema,
  seq: z.number().int().min(1),
  role: MessageRoleSchema,
  content: z.string(),
  createdAt: Timestamp,
});

export const PutContextRequestSchema = z.object({ value: z.json() }).strict();

export const ContextEntrySchema = z.object({ key: ContextKeySchema, value: z.json(), updatedAt: Timestamp });

export const AddDecisionRequestSchema = z
  .object({
    type: z.string().trim().min(1).max(64),
    reasoning: z.string().min(1),
    confidence: z.number().min(0).max(1),
    sessionId: SessionIdSchema.optional(),
  })
  .strict();

export const DecisionSchema = z.object({
  id: z.number().int().min(1),
  type: z.string(),
  reasoning: z.string(),
  confidence: z.number().min(0).max(1),
  sessionId: SessionIdSchema.nullable(),
  createdAt: Timestamp,
});

const pageQuery = {
  limit: z.coerce.number().int().min(1).max(LIMITS.pageMax).default(LIMITS.pageDefault),
  cursor: z.string().min(1).max(512).optional(),
};
export const PageQuerySchema = z.object(pageQuery);
export const SessionListQuerySchema = z.object({ ...pageQuery, status: SessionStatusSchema.optional() });
export const DecisionListQuerySchema = z.object({ ...pageQuery, sessionId: SessionIdSchema.optional() });

const nextCursor = z.string().optional();
export const SessionPageSchema = z.object({ sessions: z.array(SessionSchema), nextCursor });
export const MessagePageSchema = z.object({ messages: z.array(MessageSchema), nextCursor });
export const ContextPageSchema = z.object({ entries: z.array(ContextEntrySchema), nextCursor });
export const DecisionPageSchema = z.object({ decisions: z.array(DecisionSchema), nextCursor });

export const SNAPSHOT_FORMAT = "chittyconnect.sessions/v1";

/** The export, the KV snapshot, the R2 backup and the import body are all this one shape. */
export const SnapshotSchema = z.object({
  format: z.literal(SNAPSHOT_FORMAT),
  owner: OwnerIdSchema,
  exportedAt: Timestamp,
  sessions: z
    .array(SessionSchema.extend({ messages: z.array(MessageSchema).max(LIMITS.messagesPerSession) }))
    .max(LIMITS.sessionsPerOwner),
  context: z.array(ContextEntrySchema).max(LIMITS.contextKeysPerOwner),
  decisions: z.array(DecisionSchema).max(LIMITS.decisionsPerOwner),
});

export const EVENT_TYPES = [
  "session.created",
  "session.updated",
  "session.deleted",
  "session.expired",
  "message.added",
  "context.set",
  "context.deleted",
  "decision.added",
  "resync",
] as const;
export const SessionEventSchema = z.object({
  type: z.enum(EVENT_TYPES),
  data: z.json(),
  at: Timestamp,
  /** Per owner, increasing; reconnect with `?since=<seq>` to receive what was missed. */
  seq: z.number().int().min(0),
});

export const SocketQuerySchema = z.object({
  sessionId: SessionIdSchema.optional(),
  since: z.coerce.number().int().min(0).optional(),
  ticket: z.string().min(1).max(256).optional(),
});

export const TicketRequestSchema = z.object({ sessionId: SessionIdSchema.optional() }).strict();
export const TicketResponseSchema = z.object({ ticket: z.string(), expiresAt: Timestamp, url: z.string() });

export type Session = z.infer<typeof SessionSchema>;
export type Message = z.infer<typeof MessageSchema>;
export type ContextEntry = z.infer<typeof ContextEntrySchema>;
export type Decision = z.infer<typeof DecisionSchema>;
export type Snapshot = z.infer<typeof SnapshotSchema>;
export type SessionEvent = z.infer<typeof SessionEventSchema>;
export type EventType = (typeof EVENT_TYPES)[number];
export type CreateSessionRequest = z.infer<typeof CreateSessionRequestSchema>;
export type UpdateSessionRequest = z.infer<typeof UpdateSessionRequestSchema>;
export type AddMessageRequest = z.infer<typeof AddMessageRequestSchema>;
export type AddDecisionRequest = z.infer<typeof AddDecisionRequestSchema>;
export type SessionListQuery = z.infer<typeof SessionListQuerySchema>;
export type DecisionListQuery = z.infer<typeof DecisionListQuerySchema>;
export type PageQuery = z.infer<typeof PageQuerySchema>;
