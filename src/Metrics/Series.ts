import { FiberRef, Metric, MetricBoundaries, MetricKey, MetricLabel } from "effect"

/**
 * The series of contract §12, as Effect `Metric`s in the process's registry (this module imports no
 * service, so any capability may record into it).
 */

export const reportsIngested = Metric.counter("bugbots_reports_ingested_total", {
  description: "Error reports stored by this instance (Sentry envelopes, store, native and legacy reports)",
  incremental: true
})
export const wsConnections = Metric.gauge("bugbots_ws_connections", { description: "Open /ws WebSocket connections of this instance" })
export const realtimeEvents = Metric.counter("bugbots_realtime_events_total", {
  description: "Realtime events this instance's relay handed to its subscribers",
  incremental: true
})

/** Issues whose bug the reconciler found out of line with GitHub, by what it did (a dry run counts too). */
export const reconcileDiscrepancies = Metric.counter("bugbots_reconcile_discrepancies_total", {
  description: "Issues whose bug the reconciler found out of line with GitHub, by kind (created, updated, resolved, reopened)",
  incremental: true
})

export const webhookDeliveries = Metric.gauge("bugbots_webhook_deliveries", { description: "Webhook deliveries (jobs github.delivery) by status" })
export const botActions = Metric.gauge("bugbots_bot_actions", { description: "Bot actions (jobs github.action) by status" })
export const leasesActive = Metric.gauge("bugbots_leases_active", { description: "Live leases: bugs claimed by agents (kind=bug), jobs held by workers (kind=job)" })
export const cpuSeconds = Metric.counter("process_cpu_seconds_total", { description: "User and system CPU time of this process in seconds", incremental: true })
export const residentMemory = Metric.gauge("process_resident_memory_bytes", { description: "Resident memory of this process in bytes" })
export const heapUsed = Metric.gauge("process_heap_bytes", { description: "JavaScript heap in use, in bytes" })
export const startTime = Metric.gauge("process_start_time_seconds", { description: "Start time of this process since the Unix epoch, in seconds" })

/** Seconds; from a cached page (a few ms) to a slow write under load. */
const durationBoundaries = MetricBoundaries.fromIterable([0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10])
const knownMethods = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])

interface HttpSeries {
  readonly requests: Metric.Metric.Counter<number>
  readonly duration: Metric.Metric.Histogram<number>
}

/**
 * One pair of series per method, route template and status, each made once: a metric made from a
 * key that carries its labels finds its registry entry once, so a request costs two map lookups.
 */
const httpSeries = new Map<string, HttpSeries>()
const seriesOf = (method: string, route: string, status: number) => {
  const id = `${method} ${status} ${route}`
  let series = httpSeries.get(id)
  if (series === undefined) {
    const labels = [MetricLabel.make("method", method), MetricLabel.make("route", route)]
    series = {
      requests: Metric.fromMetricKey(
        MetricKey.taggedWithLabels(
          MetricKey.counter("http_requests_total", { description: "HTTP requests by method, route template and status", incremental: true }),
          [...labels, MetricLabel.make("status", String(status))]
        )
      ),
      duration: Metric.fromMetricKey(
        MetricKey.taggedWithLabels(
          MetricKey.histogram("http_request_duration_seconds", durationBoundaries, "HTTP request duration in seconds by method and route template"),
          labels
        )
      )
    }
    httpSeries.set(id, series)
  }
  return series
}

/** A route that matched no template (a 404 of the router): one series for all of them. */
export const unmatchedRoute = "unmatched"

/** Counts a finished request under its route template (never its raw path: ids would make a series each). */
export const recordRequest = (method: string, route: string, status: number, seconds: number) => {
  const series = seriesOf(knownMethods.has(method) ? method : "OTHER", route, status)
  series.requests.unsafeUpdate(1, [])
  series.duration.unsafeUpdate(seconds, [])
}

/**
 * The route template a request matched, written by `RouteTemplate` (inside the router) for the
 * outer request middleware, which runs before the router has matched anything.
 */
export interface RouteSlot {
  route: string
}
export const CurrentRouteSlot = FiberRef.unsafeMake<RouteSlot | null>(null)
