import { Schema } from "effect"

/** Ids are UUIDs on the wire; a malformed one fails decoding (400), an unknown one is a 404. */
const uuid = <B extends string>(brand: B) => Schema.UUID.pipe(Schema.brand(brand))

export const UserId = uuid("UserId")
export type UserId = typeof UserId.Type
export const VillageId = uuid("VillageId")
export type VillageId = typeof VillageId.Type
export const RepoId = uuid("RepoId")
export type RepoId = typeof RepoId.Type
export const AgentId = uuid("AgentId")
export type AgentId = typeof AgentId.Type
export const BugId = uuid("BugId")
export type BugId = typeof BugId.Type
export const BugEventId = uuid("BugEventId")
export type BugEventId = typeof BugEventId.Type
export const TokenId = uuid("TokenId")
export type TokenId = typeof TokenId.Type
export const SessionId = uuid("SessionId")
export type SessionId = typeof SessionId.Type
export const WorkStreamEventId = uuid("WorkStreamEventId")
export type WorkStreamEventId = typeof WorkStreamEventId.Type
export const IngestKeyId = uuid("IngestKeyId")
export type IngestKeyId = typeof IngestKeyId.Type
export const OccurrenceId = uuid("OccurrenceId")
export type OccurrenceId = typeof OccurrenceId.Type
export const InstanceId = uuid("InstanceId")
export type InstanceId = typeof InstanceId.Type
