import * as fs from "node:fs"

/** Resident memory of a process, in bytes (Linux `/proc/<pid>/status`). */
export const rssBytes = (pid: number) => {
  const kb = /VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"))?.[1]
  if (kb === undefined) throw new Error(`no VmRSS for process ${pid}`)
  return Number(kb) * 1024
}

/** A row of `/proc/net/tcp` (IPv4): ports, state (`01` is ESTABLISHED), kernel send queue, socket inode. */
export interface TcpRow {
  readonly localPort: number
  readonly remotePort: number
  readonly state: string
  readonly sendQueue: number
  readonly inode: string
}

export const tcpRows = (): Array<TcpRow> =>
  fs.readFileSync("/proc/net/tcp", "utf8").split("\n").slice(1).filter((line) => line.trim() !== "").map((line) => {
    const fields = line.trim().split(/\s+/)
    return {
      localPort: parseInt(fields[1].split(":")[1], 16),
      remotePort: parseInt(fields[2].split(":")[1], 16),
      state: fields[3],
      sendQueue: parseInt(fields[4].split(":")[0], 16),
      inode: fields[9]
    }
  })

export const established = "01"

/** The local ports of the TCP connections process `pid` holds to `serverPort`. */
export const clientPorts = (pid: number, serverPort: number) => {
  const inodes = new Set(
    fs.readdirSync(`/proc/${pid}/fd`).flatMap((fd) => {
      const target = fs.readlinkSync(`/proc/${pid}/fd/${fd}`, { encoding: "utf8" })
      return target.startsWith("socket:[") ? [target.slice(8, -1)] : []
    })
  )
  return tcpRows().filter((row) => inodes.has(row.inode) && row.remotePort === serverPort).map((row) => row.localPort)
}

/** The server's end of the connection from `clientPort`; undefined once it is gone. */
export const serverEnd = (serverPort: number, clientPort: number) =>
  tcpRows().find((row) => row.localPort === serverPort && row.remotePort === clientPort)
