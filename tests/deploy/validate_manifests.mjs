// Validates every object of rendered manifests (kubectl kustomize output) against
// the Kubernetes and KEDA OpenAPI schemas compiled into the kubernetes-models
// packages, offline: types, enums, required fields. (Those schemas admit unknown
// fields, so a misspelt field name is not caught here.)
//
// usage: node validate_manifests.mjs FILE.yaml...   (exit 1 on the first bad file)
import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";

// Module that holds the model of an apiVersion.
function modelModule(apiVersion) {
  if (apiVersion.startsWith("keda.sh/")) return `@kubernetes-models/keda/${apiVersion}`;
  return `kubernetes-models/${apiVersion}`;
}

let failures = 0;
let checked = 0;
for (const file of process.argv.slice(2)) {
  const docs = parseAllDocuments(readFileSync(file, "utf8"));
  for (const doc of docs) {
    if (doc.errors.length > 0) {
      console.error(`${file}: YAML error: ${doc.errors[0].message}`);
      failures++;
      continue;
    }
    const object = doc.toJS();
    if (object === null) continue;
    const where = `${file}: ${object.kind}/${object.metadata?.name}`;
    let models;
    try {
      models = await import(modelModule(object.apiVersion));
    } catch {
      console.error(`${where}: no schema for apiVersion ${object.apiVersion}`);
      failures++;
      continue;
    }
    const Model = models[object.kind];
    if (Model === undefined) {
      console.error(`${where}: no schema for kind ${object.kind} in ${object.apiVersion}`);
      failures++;
      continue;
    }
    try {
      new Model(object).validate();
    } catch (error) {
      console.error(`${where}: ${error.message}`);
      failures++;
      continue;
    }
    checked++;
  }
}
console.log(`${checked} objects valid, ${failures} invalid`);
process.exit(failures === 0 && checked > 0 ? 0 : 1);
