import type { Socket, TCPSocketListener } from "bun"

/** A loopback TCP proxy to a real server, which a test can cut to simulate an outage. */
export const tcpProxy = async (target: { host: string; port: number }) => {
  const sockets = new Set<Socket<{ peer?: Socket<unknown> }>>()
  let listener: TCPSocketListener<{ peer?: Socket<unknown> }> | undefined
  const open = (port: number) =>
    Bun.listen<{ peer?: Socket<unknown> }>({
      hostname: "127.0.0.1",
      port,
      socket: {
        async open(client) {
          sockets.add(client)
          client.pause()
          const upstream = await Bun.connect<unknown>({
            hostname: target.host,
            port: target.port,
            socket: {
              data: (_, data) => void client.write(data),
              close: () => void client.end(),
              error: () => void client.end()
            }
          })
          client.data = { peer: upstream }
          client.resume()
        },
        data: (client, data) => void client.data.peer?.write(data),
        close: (client) => {
          sockets.delete(client)
          client.data.peer?.end()
        },
        error: (client) => void client.data.peer?.end()
      }
    })
  listener = open(0)
  const port = listener.port
  return {
    port,
    /** Drops every connection and refuses new ones. */
    cut: () => {
      listener?.stop(true)
      listener = undefined
      for (const s of sockets) s.end()
      sockets.clear()
    },
    restore: () => {
      listener ??= open(port)
    },
    close: () => {
      listener?.stop(true)
      for (const s of sockets) s.end()
    }
  }
}
