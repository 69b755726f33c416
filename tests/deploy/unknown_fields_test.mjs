// Proves validate_manifests.mjs rejects misspelt field names and still admits
// the keys of maps: each case copies a rendered manifest with one change and runs
// the validator on it, expecting exit 1 and the field's path on stderr, or exit 0.
//
// usage: node unknown_fields_test.mjs RENDERED.yaml   (exit 1 if any case fails)
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseAllDocuments, stringify } from "yaml";

const validator = fileURLToPath(new URL("validate_manifests.mjs", import.meta.url));
const objects = parseAllDocuments(readFileSync(process.argv[2], "utf8")).map((doc) => doc.toJS());

function find(kind, name) {
  const object = objects.find((o) => o?.kind === kind && o.metadata.name === name);
  if (object === undefined) throw new Error(`no ${kind}/${name} in ${process.argv[2]}`);
  return object;
}

function rename(object, from, to) {
  if (!(from in object)) throw new Error(`no field ${from} to rename`);
  object[to] = object[from];
  delete object[from];
}

// Each case changes the objects in place; `unknown` is the path the validator must
// report, or null when the change must pass.
const cases = [
  { name: "top-level spec field", unknown: "spec.replicass",
    change: () => rename(find("Deployment", "swapline-api").spec, "replicas", "replicass") },
  { name: "field inside a pod template container",
    unknown: "spec.template.spec.containers[0].securityContext.readOnlyRootFilesytem",
    change: () => {
      const container = find("Deployment", "swapline-worker").spec.template.spec.containers[0];
      rename(container.securityContext, "readOnlyRootFilesystem", "readOnlyRootFilesytem");
    } },
  { name: "KEDA ScaledObject spec field", unknown: "spec.cooldownPeriods",
    change: () => rename(find("ScaledObject", "swapline-worker").spec, "cooldownPeriod", "cooldownPeriods") },
  { name: "KEDA trigger field", unknown: "spec.triggers[1].nmae",
    change: () => rename(find("ScaledObject", "swapline-worker").spec.triggers[1], "name", "nmae") },
  { name: "maps stay open (labels, ConfigMap data, trigger metadata)", unknown: null,
    change: () => {
      find("Deployment", "swapline-api").spec.template.metadata.labels["example.com/any"] = "x";
      objects.find((o) => o?.kind === "ConfigMap").data.ANY_SETTING = "x";
      find("ScaledObject", "swapline-worker").spec.triggers[0].metadata.anyKey = "x";
    } },
];

const dir = mkdtempSync(join(tmpdir(), "unknown-fields-"));
let failed = 0;
for (const { name, unknown, change } of cases) {
  const saved = structuredClone(objects);
  change();
  const file = join(dir, "manifest.yaml");
  writeFileSync(file, objects.map((o) => stringify(o)).join("---\n"));
  objects.splice(0, objects.length, ...saved);
  const run = spawnSync(process.execPath, [validator, file], { encoding: "utf8" });
  const ok = unknown === null
    ? run.status === 0
    : run.status === 1 && run.stderr.includes(`unknown field "${unknown}"`);
  console.log(`${ok ? "ok  " : "FAIL"} ${name}: exit ${run.status}`);
  if (!ok) {
    process.stdout.write(run.stdout + run.stderr);
    failed++;
  }
}
rmSync(dir, { recursive: true });
console.log(`${cases.length - failed} of ${cases.length} cases as expected`);
process.exit(failed === 0 ? 0 : 1);
