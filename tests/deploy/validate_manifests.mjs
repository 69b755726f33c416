// Validates every object of rendered manifests (kubectl kustomize output) against
// the Kubernetes and KEDA OpenAPI schemas compiled into the kubernetes-models
// packages, offline: types, enums, required fields, and unknown fields, so a
// misspelt field name fails like kubectl's strict field validation does.
//
// The packages ship the schemas as compiled validators, which admit unknown
// fields. Each one reads every property its schema names and enumerates the keys
// only of objects that are maps (additionalProperties: labels, annotations,
// ConfigMap data, a KEDA trigger's metadata), so the object is handed to it
// behind proxies that record both: a key of an object whose properties were read
// but whose keys were never enumerated is a field the schema does not define.
// Objects the schema leaves free-form are never read and stay open.
//
// usage: node validate_manifests.mjs FILE.yaml...   (exit 1 if any object fails)
import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";

// Module that holds the model of an apiVersion.
function modelModule(apiVersion) {
  if (apiVersion.startsWith("keda.sh/")) return `@kubernetes-models/keda/${apiVersion}`;
  return `kubernetes-models/${apiVersion}`;
}

// A copy of `value` whose objects record, in `objects`, their field path, their
// keys, the keys read and whether their keys were enumerated.
function traced(value, path, objects) {
  if (value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) return value.map((item, i) => traced(item, `${path}[${i}]`, objects));
  const copy = {};
  for (const [key, child] of Object.entries(value)) {
    copy[key] = traced(child, path === "" ? key : `${path}.${key}`, objects);
  }
  const object = { path, keys: Object.keys(copy), read: new Set(), enumerated: false };
  objects.push(object);
  return new Proxy(copy, {
    get(target, key, receiver) {
      if (typeof key === "string") object.read.add(key);
      return Reflect.get(target, key, receiver);
    },
    has(target, key) {
      if (typeof key === "string") object.read.add(key);
      return Reflect.has(target, key);
    },
    ownKeys(target) {
      object.enumerated = true;
      return Reflect.ownKeys(target);
    },
  });
}

// Throws the schema's errors for `object`, else returns the paths of its fields
// the schema does not define.
function unknownFields(Model, object) {
  const objects = [];
  Model.prototype.validate.call(traced(object, "", objects));
  return objects
    .filter((o) => o.read.size > 0 && !o.enumerated)
    .flatMap((o) => o.keys.filter((key) => !o.read.has(key))
      .map((key) => (o.path === "" ? key : `${o.path}.${key}`)));
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
    let unknown;
    try {
      unknown = unknownFields(Model, object);
    } catch (error) {
      console.error(`${where}: ${error.message}`);
      failures++;
      continue;
    }
    if (unknown.length > 0) {
      for (const path of unknown) console.error(`${where}: unknown field "${path}"`);
      failures++;
      continue;
    }
    checked++;
  }
}
console.log(`${checked} objects valid, ${failures} invalid`);
process.exit(failures === 0 && checked > 0 ? 0 : 1);
