/**
 * The Prometheus text format read by a real parser: the Python `prometheus_client`'s
 * `text_string_to_metric_families` (`.ci/run` installs it), run as a subprocess.
 */

export interface Sample {
  readonly name: string
  readonly labels: Record<string, string>
  readonly value: number
}
export interface Family {
  readonly name: string
  readonly type: string
  readonly samples: ReadonlyArray<Sample>
}

const script = `
import json, math, sys
from prometheus_client.parser import text_string_to_metric_families
out = []
for family in text_string_to_metric_families(sys.stdin.read()):
    out.append({"name": family.name, "type": family.type, "samples": [
        {"name": s.name, "labels": s.labels, "value": s.value if math.isfinite(s.value) else str(s.value)} for s in family.samples]})
print(json.dumps(out))
`

const interpreters = ["python3", "/usr/bin/python3"]

/** The families of `text`; fails (with the parser's complaint) when the text is not valid. */
export const parsePrometheus = async (text: string): Promise<ReadonlyArray<Family>> => {
  const failures: Array<string> = []
  for (const python of interpreters) {
    const child = Bun.spawn([python, "-c", script], { stdin: new TextEncoder().encode(text), stdout: "pipe", stderr: "pipe" })
    const [stdout, stderr, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited])
    if (code === 0) return JSON.parse(stdout) as ReadonlyArray<Family>
    if (!stderr.includes("No module named 'prometheus_client'")) throw new Error(`the Prometheus parser refused the text: ${stderr}`)
    failures.push(`${python}: ${stderr.trim().split("\n").at(-1)}`)
  }
  throw new Error(`no Python with prometheus_client (apt-get install python3-prometheus-client): ${failures.join("; ")}`)
}

/** The value of the sample `name` whose labels include `labels` (0 when absent). */
export const sampleValue = (families: ReadonlyArray<Family>, name: string, labels: Record<string, string> = {}) => {
  for (const family of families) {
    for (const sample of family.samples) {
      if (sample.name === name && Object.entries(labels).every(([k, v]) => sample.labels[k] === v)) return sample.value
    }
  }
  return 0
}
