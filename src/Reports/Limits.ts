/** Contract §9's limits on error reports: an event's JSON, and a whole envelope, once decompressed. */
export const maxEventBytes = 1024 * 1024
export const maxEnvelopeBytes = 20 * 1024 * 1024
