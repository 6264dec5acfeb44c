import * as OtelMetrics from "@effect/opentelemetry/Metrics"
import * as Resource from "@effect/opentelemetry/Resource"
import { PrometheusExporter, PrometheusSerializer } from "@opentelemetry/exporter-prometheus"
import { Effect, Metric } from "effect"
import packageJson from "../../package.json" with { type: "json" }
import { Bugs } from "../Bugs/Bugs.js"
import { Jobs } from "../Jobs/Jobs.js"
import { queues } from "../Jobs/Queues.js"
import { withDb } from "../Sql/Retry.js"
import { botActions, cpuSeconds, heapUsed, leasesActive, residentMemory, startTime, webhookDeliveries } from "./Series.js"

/**
 * Prometheus metrics (contract §12). Series are Effect `Metric`s in the process's registry; the
 * text format is written by OpenTelemetry's Prometheus exporter, which reads that registry through
 * `@effect/opentelemetry`'s metric producer at each scrape. Counts that live in the database (queues,
 * leases) are read at scrape time into gauges; process CPU and memory likewise.
 */

const statuses = ["pending", "running", "done", "failed", "ignored"] as const

export class Metrics extends Effect.Service<Metrics>()("bugbots/Metrics", {
  scoped: Effect.gen(function* () {
    const jobs = yield* Jobs
    const bugs = yield* Bugs
    // The exporter's own HTTP server is not started: `/metrics` is served on the service's port.
    const exporter = new PrometheusExporter({ preventServerStart: true, withoutScopeInfo: true })
    yield* OtelMetrics.registerProducer(yield* OtelMetrics.makeProducer, () => exporter)
    const serializer = new PrometheusSerializer(undefined, false, undefined, false, true)
    let cpuRecorded = 0
    yield* Metric.set(startTime, Math.round((Date.now() - performance.now()) / 1000))

    const observeProcess = Effect.sync(() => {
      const usage = process.cpuUsage()
      const cpu = (usage.user + usage.system) / 1e6
      cpuSeconds.unsafeUpdate(cpu - cpuRecorded, [])
      cpuRecorded = cpu
      const memory = process.memoryUsage()
      residentMemory.unsafeUpdate(memory.rss, [])
      heapUsed.unsafeUpdate(memory.heapUsed, [])
    })

    const gaugeByStatus = (gauge: Metric.Metric.Gauge<number>, kind: string, counts: ReadonlyArray<{ kind: string; status: string; count: number }>) =>
      Effect.forEach(statuses, (status) =>
        Metric.set(Metric.tagged(gauge, "status", status), counts.find((c) => c.kind === kind && c.status === status)?.count ?? 0)
      )

    /** What the database knows: queue states and live leases. A scrape during an outage still shows the process. */
    const observeDatabase = Effect.gen(function* () {
      const [webhook, actions] = [queues[0].kind, queues[1].kind]
      const counts = yield* jobs.countsByStatus([webhook, actions]).pipe(withDb)
      yield* gaugeByStatus(webhookDeliveries, webhook, counts)
      yield* gaugeByStatus(botActions, actions, counts)
      yield* Metric.set(Metric.tagged(leasesActive, "kind", "bug"), yield* bugs.leasesActive.pipe(withDb))
      yield* Metric.set(Metric.tagged(leasesActive, "kind", "job"), yield* jobs.leasesActive.pipe(withDb))
    }).pipe(Effect.catchAll((error) => Effect.logWarning("metrics: the database counts could not be read", error)))

    /** The Prometheus text of every series, as of now. */
    const render = Effect.gen(function* () {
      yield* observeProcess
      yield* observeDatabase
      const { resourceMetrics } = yield* Effect.promise(() => exporter.collect())
      return serializer.serialize(resourceMetrics)
    })

    return { render } as const
  }),
  dependencies: [Resource.layer({ serviceName: "bugbots", serviceVersion: packageJson.version }), Jobs.Default, Bugs.Default]
}) {}

