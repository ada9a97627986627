import type { ImportSummary, OwnerSessions, Page } from "./owner-sessions.ts";
import { ok, type Result } from "./result.ts";
import type {
  AddDecisionRequest,
  AddMessageRequest,
  ContextEntry,
  CreateSessionRequest,
  Decision,
  DecisionListQuery,
  Message,
  PageQuery,
  Session,
  SessionListQuery,
  Snapshot,
  UpdateSessionRequest,
} from "./schemas.ts";

/**
 * Everything a route can ask of one owner's sessions: the Durable Object answers it over RPC, the
 * KV fallback in the Worker. Every call names the owner; the object checks it is the one it holds.
 */
export interface SessionBackend {
  createSession(owner: string, input: CreateSessionRequest): Promise<Result<Session>>;
  listSessions(owner: string, query: SessionListQuery): Promise<Result<Page<Session>>>;
  getSession(owner: string, id: string): Promise<Result<Session>>;
  updateSession(
    owner: string,
    id: string,
    patch: UpdateSessionRequest,
    ifMatch?: number,
  ): Promise<Result<Session>>;
  deleteSession(owner: string, id: string): Promise<Result<{ id: string }>>;
  addMessage(owner: string, sessionId: string, input: AddMessageRequest): Promise<Result<Message>>;
  listMessages(owner: string, sessionId: string, query: PageQuery): Promise<Result<Page<Message>>>;
  putContext(
    owner: string,
    key: string,
    value: unknown,
  ): Promise<Result<{ entry: ContextEntry; created: boolean }>>;
  getContext(owner: string, key: string): Promise<Result<ContextEntry>>;
  deleteContext(owner: string, key: string): Promise<Result<{ key: string }>>;
  listContext(owner: string, query: PageQuery): Promise<Result<Page<ContextEntry>>>;
  addDecision(owner: string, input: AddDecisionRequest): Promise<Result<Decision>>;
  listDecisions(owner: string, query: DecisionListQuery): Promise<Result<Page<Decision>>>;
  exportSnapshot(owner: string): Promise<Result<Snapshot>>;
  importSnapshot(owner: string, snapshot: Snapshot, replace: boolean): Promise<Result<ImportSummary>>;
}

/** Runs one operation against an owner's sessions, loading and saving as the store needs. */
export type Runner = <T>(owner: string, work: (sessions: OwnerSessions) => Result<T>) => Promise<Result<T>>;

/** A SessionBackend for a store that only knows how to run an operation for reading or writing. */
export function backendOver(read: Runner, write: Runner): SessionBackend {
  return {
    createSession: (owner, input) => write(owner, (s) => s.createSession(input)),
    listSessions: (owner, query) => read(owner, (s) => s.listSessions(query)),
    getSession: (owner, id) => read(owner, (s) => s.getSession(id)),
    updateSession: (owner, id, patch, ifMatch) => write(owner, (s) => s.updateSession(id, patch, ifMatch)),
    deleteSession: (owner, id) => write(owner, (s) => s.deleteSession(id)),
    addMessage: (owner, sessionId, input) => write(owner, (s) => s.addMessage(sessionId, input)),
    listMessages: (owner, sessionId, query) => read(owner, (s) => s.listMessages(sessionId, query)),
    putContext: (owner, key, value) => write(owner, (s) => s.putContext(key, value)),
    getContext: (owner, key) => read(owner, (s) => s.getContext(key)),
    deleteContext: (owner, key) => write(owner, (s) => s.deleteContext(key)),
    listContext: (owner, query) => read(owner, (s) => s.listContext(query)),
    addDecision: (owner, input) => write(owner, (s) => s.addDecision(input)),
    listDecisions: (owner, query) => read(owner, (s) => s.listDecisions(query)),
    exportSnapshot: (owner) => read(owner, (s) => ok(s.exportSnapshot(owner))),
    importSnapshot: (owner, snapshot, replace) => write(owner, (s) => s.importSnapshot(snapshot, replace)),
  };
}
