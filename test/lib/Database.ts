import { randomBytes } from "node:crypto"

/** Creates an empty database on the server behind `adminUrl`; returns its URL. */
export const createDatabase = async (adminUrl: string, prefix: string) => {
  const name = `${prefix}_${randomBytes(6).toString("hex")}`
  const admin = new Bun.SQL(adminUrl)
  await admin.unsafe(`create database ${name}`)
  await admin.close()
  const url = new URL(adminUrl)
  url.pathname = `/${name}`
  return { name, url: url.toString() }
}
