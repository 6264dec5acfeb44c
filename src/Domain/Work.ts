import { Schema } from "effect"
import { Analysis } from "./Analysis.js"
import { Bug, Severity } from "./Bug.js"
import { Payload, Text } from "./Fields.js"
import { RepoId } from "./Ids.js"
import { defaultLeaseSeconds, Lease, LeaseSeconds, LeaseToken } from "./Lease.js"

/** Agent work (contract §7): claims under a lease, heartbeats and releases. */

const leaseSeconds = Schema.optionalWith(LeaseSeconds, { default: () => defaultLeaseSeconds })

export const ClaimRequest = Payload({
  repo_id: Schema.optional(RepoId.annotations({ description: "claim only in this repo" })),
  min_severity: Schema.optional(Severity.annotations({ description: "claim only bugs at least this severe" })),
  lease_seconds: leaseSeconds
})
export type ClaimRequest = typeof ClaimRequest.Type

/** A claimed bug: the bug, and its latest done analysis when it has one (contract §13; left out otherwise). */
export class ClaimedBug extends Bug.extend<ClaimedBug>("ClaimedBug")({
  analysis: Schema.optional(Analysis.annotations({ description: "the latest done root-cause analysis of the bug, if any" }))
}) {}

export class Claimed extends Schema.Class<Claimed>("Claimed")({ bug: ClaimedBug, lease: Lease }) {}

export const HeartbeatRequest = Payload({ lease_token: LeaseToken, lease_seconds: leaseSeconds })

export class LeaseRenewed extends Schema.Class<LeaseRenewed>("LeaseRenewed")({ expires_at: Schema.DateTimeUtc }) {}

export const ReleaseRequest = Payload({
  lease_token: LeaseToken,
  reason: Schema.optional(Text(2000, { min: 0 }))
})
