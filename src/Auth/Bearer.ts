/** The token of an `Authorization: Bearer <token>` header, if that is what it holds (REST, `/ws`, RPC alike). */
export const bearerToken = (authorization: string | undefined): string | undefined =>
  /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? "")?.[1]
