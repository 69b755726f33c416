// Converts YAML streams to one JSON array of their documents (for the C++ tests,
// which read JSON). usage: node to_json.mjs OUT.json FILE.yaml...
import { readFileSync, writeFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";

const [out, ...files] = process.argv.slice(2);
const objects = [];
for (const file of files) {
  for (const doc of parseAllDocuments(readFileSync(file, "utf8"))) {
    if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors[0].message}`);
    const object = doc.toJS();
    if (object !== null) objects.push({ file, object });
  }
}
writeFileSync(out, JSON.stringify(objects));
console.log(`${objects.length} documents to ${out}`);
